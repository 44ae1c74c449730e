"""The migration audit as one self-contained HTML file (``report.html``).

Inline CSS, inline SVG charts, no script and no external asset: the file opens the same from
a laptop, an artifact store or an email attachment. Links are relative to the rollout's
folder, where the file is written.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

from rollguard.evidence import charts, templates
from rollguard.evidence.templates import clock, duration, outcome_line, status_word, when

CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #0f172a;
       margin: 0 auto; max-width: 1100px; padding: 24px 32px 64px; background: #f8fafc; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 32px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #cbd5e1; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.sub { color: #334155; margin: 0 0 12px; }
.meta { color: #475569; font-size: 13px; }
code { font: 12.5px ui-monospace, SFMono-Regular, Menlo, monospace; background: #e2e8f0;
       padding: 0 3px; border-radius: 3px; }
table { border-collapse: collapse; width: 100%; background: #fff; margin: 4px 0 12px; }
th, td { border: 1px solid #e2e8f0; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f1f5f9; font-weight: 600; font-size: 13px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px;
         font-weight: 600; background: #e2e8f0; color: #334155; white-space: nowrap; }
.good { background: #dcfce7; color: #166534; }
.bad { background: #fee2e2; color: #991b1b; }
.warn { background: #fef3c7; color: #92400e; }
.outcome { font-size: 16px; padding: 10px 14px; border-radius: 6px; background: #fff;
           border-left: 6px solid #94a3b8; margin: 8px 0; }
.outcome.good { border-color: #16a34a; } .outcome.bad { border-color: #dc2626; }
.outcome.warn { border-color: #d97706; }
.item { background: #fff; border: 1px solid #e2e8f0; border-radius: 6px; padding: 8px 12px;
        margin: 8px 0; }
.item ul { margin: 4px 0 0; padding-left: 20px; }
.chart { display: block; background: #fff; border: 1px solid #e2e8f0; border-radius: 6px;
         margin: 6px 0 4px; max-width: 100%; height: auto; }
.note { color: #475569; font-size: 12.5px; margin: 0 0 16px; }
pre { background: #0f172a; color: #e2e8f0; padding: 10px; border-radius: 6px; overflow-x: auto;
      font-size: 12px; }
ol.events { font-size: 13px; color: #334155; padding-left: 20px; columns: 1; }
.missing { color: #991b1b; font-size: 12px; }
"""

GOOD = {"passed", "pass", "completed", "done", "ok", "holds"}
BAD = {"failed", "fail", "error", "rolled_back", "aborted", "FIRED", "does not hold"}


def _e(text: Any) -> str:
    return escape(str(text if text is not None else ""))


def _escaped(rows: list[list[Any]]) -> list[list[str]]:
    return [[_e(cell) for cell in row] for row in rows]


def _badge(word: str, *, tone: str | None = None) -> str:
    if tone is None:
        tone = "good" if word in GOOD else "bad" if word in BAD else "warn"
    return f'<span class="badge {tone}">{_e(status_word(word))}</span>'


def _link(link: dict[str, Any]) -> str:
    path = link.get("path") or ""
    if not path:
        return "-"
    missing = "" if link.get("exists") else ' <span class="missing">(missing)</span>'
    return f'<a href="{_e(path)}/">{_e(path)}</a>{missing}'


def _table(header: Sequence[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _head(r: dict[str, Any]) -> str:
    def version(v: dict[str, Any]) -> str:
        image = f" (<code>{_e(v['image'])}</code>)" if v.get("image") else ""
        return f"<code>{_e(v['version'])}</code>{image}"

    tone = "good" if r["outcome"] == "completed" else "bad" if r["final"] else "warn"
    parts = [
        f"<h1>{_e(r['title'])}</h1>",
        f'<p class="sub"><strong>{_e(r["service"] or r["plan"]["name"])}</strong>: '
        f"{version(r['stable'])} &rarr; {version(r['candidate'])}</p>",
        f'<p class="meta">rollout <code>{_e(r["id"])}</code> &middot; plan '
        f"<code>{_e(r['plan']['name'])}</code> ({_e(r['plan']['path'])}) &middot; started "
        f"{_e(when(r['started']))} &middot; "
        + (f"finished {_e(when(r['finished']))}" if r["finished"] else "not finished")
        + f" &middot; took {_e(duration(r['duration']))}</p>",
    ]
    if r["plan"]["description"]:
        parts.append(f"<p>{_e(r['plan']['description'])}</p>")
    why = f"<br>Why: {_e(r['reason'])}" if r["reason"] else ""
    parts.append(f'<div class="outcome {tone}"><strong>{_e(outcome_line(r))}</strong>{why}</div>')
    if r["fired"]:
        v = r["fired"]
        parts.append(
            f"<p>Trigger <code>{_e(v['trigger'])}</code> fired on metric "
            f"<code>{_e(v['metric'])}</code>: {_e(v['reason'])} ({_e(v.get('samples', 0))} "
            f"candidate requests; bound <code>{_e(v.get('bound'))}</code>).</p>"
        )
    if r["abort"]:
        a = r["abort"]
        parts.append(
            f"<p>Aborted by {_e(a['by'] or 'someone')} at {_e(when(a['at']))}: "
            f"{_e(a['reason'])}</p>"
        )
    return "\n".join(parts)


def _timeline(r: dict[str, Any]) -> str:
    phases = _table(templates.PHASE_COLUMNS, _escaped(templates.phase_rows(r)))
    steps = _table(templates.STEP_COLUMNS, _escaped(templates.step_rows(r)))
    events = "".join(
        f"<li><code>{_e(clock(e['at']))}</code> +{e['offset']:.1f}s {_e(e['text'])}</li>"
        for e in r["timeline"]
    )
    return (
        f"<h2>Timeline</h2><h3>Phases</h3>{phases}<h3>Steps</h3>{steps}"
        f"<details><summary>All events ({len(r['timeline'])})</summary>"
        f'<ol class="events">{events}</ol></details>'
    )


def _checks(r: dict[str, Any]) -> str:
    if not r["checks"]:
        return "<h2>Checks</h2><p>No check ran.</p>"
    out = ["<h2>Checks</h2>"]
    for title in dict.fromkeys(c["title"] for c in r["checks"]):
        rows = [
            [
                _e(c["name"]),
                _e(c["kind"]),
                _badge(c["status"]),
                _e(c["summary"]),
                _e(duration(c["duration"])),
                _link(c["evidence"]),
            ]
            for c in r["checks"]
            if c["title"] == title
        ]
        out.append(f"<h3>{_e(title)}</h3>")
        out.append(_table(templates.CHECK_COLUMNS, rows))
    return "\n".join(out)


def _triggers(r: dict[str, Any]) -> str:
    if not r["triggers"]:
        return "<h2>Triggers</h2><p>The plan has no trigger.</p>"
    rows = []
    for t in r["triggers"]:
        last = t["last"] or {}
        fired = " " + _badge("FIRED") if t["fired"] else ""
        rows.append(
            [
                f"{_e(t['name'])}{fired}",
                _e(t["metric"]),
                _e("; ".join(t["bounds"])),
                _badge(last.get("status", "not evaluated")),
                _e(last.get("value", "-")),
                _e(last.get("baseline", "-")),
                _e(last.get("samples", "-")),
                _e(last.get("reason", "")),
            ]
        )
    out = [
        "<h2>Triggers</h2>",
        _table(templates.TRIGGER_COLUMNS, rows),
        "<h2>Canary metrics</h2>",
    ]
    for chart in r["charts"]:
        relative = "; ".join(chart["relative_bounds"])
        out.append(
            f'<h3>{_e(chart["metric"])} <span class="meta">(triggers: '
            f"{_e(', '.join(chart['triggers']))})</span></h3>"
        )
        if not chart["points"]:
            out.append('<p class="note">No analysis snapshot yet.</p>')
            continue
        out.append(charts.render_svg(chart))
        out.append(
            f'<p class="note">{len(chart["points"])} analysis snapshots; dashed red lines: '
            "absolute bounds; shaded bands: canary steps (candidate weight)"
            + (f"; relative bounds, judged per snapshot: {_e(relative)}" if relative else "")
            + ".</p>"
        )
    return "\n".join(out)


def _people(r: dict[str, Any]) -> str:
    out = ["<h2>Approvals</h2>"]
    if r["approvals"]:
        out.append(_table(templates.APPROVAL_COLUMNS, _escaped(templates.approval_rows(r))))
    else:
        out.append("<p>No approval was given.</p>")
    out.append("<h2>Sign-off checklist</h2>")
    if not r["checklist"]:
        return "\n".join([*out, "<p>The plan has no checklist.</p>"])
    state = "every item holds" if r["checklist_holds"] else "not every item holds"
    out.append(f"<p>{len(r['checklist'])} items; {state}.</p>")
    for item in r["checklist"]:
        lines = [f"<li>computed: {_e(f)}</li>" for f in item["facts"]]
        for role, s in item["signed"].items():
            note = f" &ldquo;{_e(s['note'])}&rdquo;" if s.get("note") else ""
            lines.append(
                f"<li>signed by <strong>{_e(s['by'])}</strong> as {_e(role)} at "
                f"{_e(when(s.get('at')))}{note}</li>"
            )
        lines += [f"<li>not yet signed by role {_e(role)}</li>" for role in item["missing_roles"]]
        lines += [f"<li>evidence: {_link(link)}</li>" for link in item["evidence"]]
        word = "holds" if item["holds"] else "does not hold"
        out.append(
            f'<div class="item">{_badge(word)} <strong>{_e(item["name"])}</strong>'
            f"<ul>{''.join(lines)}</ul></div>"
        )
    return "\n".join(out)


def _actions(title: str, block: dict[str, Any]) -> str:
    out = [f"<h2>{_e(title)}</h2>"]
    if block["status"] == "not run":
        return "\n".join([*out, "<p>Not run.</p>"])
    rows = [
        [
            _e(a["name"]),
            _e(a.get("kind", "")),
            _badge("ok" if a.get("ok") else "failed"),
            _e(a.get("detail", "")),
            _link(a["evidence"]),
        ]
        for a in block["actions"]
    ]
    if rows:
        out.append(_table(templates.ACTION_COLUMNS, rows))
    out += [f"<p>Failed attempt: {_e(e)}</p>" for e in block["errors"]]
    for a in block["actions"]:
        if a.get("diff"):
            out.append(f"<p><code>{_e(a['diff_path'])}</code></p><pre>{_e(a['diff'])}</pre>")
    return "\n".join(out)


def render_html(report: dict[str, Any]) -> str:
    """The whole audit as one HTML document."""
    sections = [
        _head(report),
        _timeline(report),
        _checks(report),
        _triggers(report),
        _people(report),
        _actions("Promotion", report["promotion"]),
        _actions("Completion actions", report["completion"]),
    ]
    if report["incident"]:
        links = "".join(f'<li><a href="{_e(n)}">{_e(n)}</a></li>' for n in report["incident"])
        sections.append(f"<h2>Incident</h2><ul>{links}</ul>")
    links = "".join(f'<li><a href="{_e(n)}">{_e(n)}</a></li>' for n in report["evidence"])
    sections.append(f"<h2>Evidence</h2><ul>{links}</ul>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(report['title'])} ({_e(report['id'])})</title>"
        f"<style>{CSS}</style></head><body>\n" + "\n".join(sections) + "\n</body></html>\n"
    )
