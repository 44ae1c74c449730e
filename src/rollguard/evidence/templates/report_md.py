"""The migration audit as Markdown (``report.md``).

Links are relative to the rollout's folder, where the file is written, so they work when the
folder is browsed (a code host, an editor preview) or copied elsewhere as a whole.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rollguard.evidence import templates
from rollguard.evidence.templates import clock, duration, outcome_line, status_word, when


def _cell(text: Any) -> str:
    return str(text if text is not None else "").replace("|", "\\|").replace("\n", " ")


def _link(link: dict[str, Any]) -> str:
    path = link.get("path") or ""
    if not path:
        return "-"
    return f"[{path}](<{path}>)" + ("" if link.get("exists") else " (missing)")


def _table(header: Sequence[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


def _head(r: dict[str, Any]) -> list[str]:
    def version(v: dict[str, Any]) -> str:
        return f"`{v['version']}`" + (f" (`{v['image']}`)" if v.get("image") else "")

    lines = [
        f"# {r['title']}",
        "",
        f"**{r['service'] or r['plan']['name']}**: {version(r['stable'])} -> "
        f"{version(r['candidate'])}",
        "",
        f"- rollout: `{r['id']}`",
        f"- plan: `{r['plan']['name']}` ({r['plan']['path']})",
        f"- started: {when(r['started'])}; "
        + (f"finished: {when(r['finished'])}; " if r["finished"] else "not finished; ")
        + f"took {duration(r['duration'])}",
    ]
    if r["plan"]["description"]:
        lines += ["", r["plan"]["description"].strip()]
    lines += ["", "## Outcome", "", f"**{outcome_line(r)}**"]
    if r["reason"]:
        lines.append(f"\nWhy: {r['reason']}")
    if r["fired"]:
        v = r["fired"]
        lines.append(
            f"\nTrigger `{v['trigger']}` fired on metric `{v['metric']}`: {v['reason']} "
            f"({v.get('samples', 0)} candidate requests; bound `{v.get('bound')}`)."
        )
    if r["abort"]:
        a = r["abort"]
        lines.append(f"\nAborted by {a['by'] or 'someone'} at {when(a['at'])}: {a['reason']}")
    return lines + [""]


def _timeline(r: dict[str, Any]) -> list[str]:
    lines = ["## Timeline", "", "### Phases", ""]
    lines += _table(templates.PHASE_COLUMNS, templates.phase_rows(r))
    lines += ["### Steps", ""]
    lines += _table(templates.STEP_COLUMNS, templates.step_rows(r))
    lines += ["### Events", ""]
    lines += [f"- {clock(e['at'])} (+{e['offset']:.1f}s) {e['text']}" for e in r["timeline"]]
    return lines + [""]


def _checks(r: dict[str, Any]) -> list[str]:
    lines = ["## Checks", ""]
    if not r["checks"]:
        return lines + ["No check ran.", ""]
    titles = list(dict.fromkeys(c["title"] for c in r["checks"]))
    for title in titles:
        lines += [f"### {title}", ""]
        lines += _table(
            templates.CHECK_COLUMNS,
            [
                [
                    c["name"],
                    c["kind"],
                    status_word(c["status"]),
                    c["summary"],
                    duration(c["duration"]),
                    _link(c["evidence"]),
                ]
                for c in r["checks"]
                if c["title"] == title
            ],
        )
    return lines


def _triggers(r: dict[str, Any]) -> list[str]:
    lines = ["## Triggers", ""]
    if not r["triggers"]:
        return lines + ["The plan has no trigger.", ""]
    rows = []
    for t in r["triggers"]:
        last = t["last"] or {}
        rows.append(
            [
                t["name"] + (" (FIRED)" if t["fired"] else ""),
                t["metric"],
                "; ".join(t["bounds"]),
                status_word(last.get("status", "not evaluated")),
                last.get("value", "-"),
                last.get("baseline", "-"),
                last.get("samples", "-"),
                last.get("reason", ""),
            ]
        )
    lines += _table(templates.TRIGGER_COLUMNS, rows)
    for chart in r["charts"]:
        lines.append(
            f"- `{chart['metric']}`: {len(chart['points'])} analysis snapshots "
            f"(chart in report.html; data in `metrics/`)"
        )
    return lines + [""]


def _people(r: dict[str, Any]) -> list[str]:
    lines = ["## Approvals", ""]
    if r["approvals"]:
        lines += _table(templates.APPROVAL_COLUMNS, templates.approval_rows(r))
    else:
        lines += ["No approval was given.", ""]
    state = "every item holds" if r["checklist_holds"] else "NOT every item holds"
    lines += ["## Sign-off checklist", ""]
    if not r["checklist"]:
        return lines + ["The plan has no checklist.", ""]
    lines += [f"{len(r['checklist'])} items; {state}.", ""]
    for item in r["checklist"]:
        mark = "x" if item["holds"] else " "
        lines.append(
            f"- [{mark}] {'holds' if item['holds'] else 'does NOT hold'}: **{item['name']}**"
        )
        for fact in item["facts"]:
            lines.append(f"  - computed: {fact}")
        for role, s in item["signed"].items():
            note = f' ("{s["note"]}")' if s.get("note") else ""
            lines.append(f"  - signed by {s['by']} as {role} at {when(s.get('at'))}{note}")
        for role in item["missing_roles"]:
            lines.append(f"  - not yet signed by role {role}")
        for link in item["evidence"]:
            lines.append(f"  - evidence: {_link(link)}")
    return lines + [""]


def _actions(title: str, block: dict[str, Any]) -> list[str]:
    lines = [f"## {title}", ""]
    if block["status"] == "not run":
        return lines + ["Not run.", ""]
    rows = [
        [
            a["name"],
            a.get("kind", ""),
            "ok" if a.get("ok") else "FAILED",
            a.get("detail", ""),
            _link(a["evidence"]),
        ]
        for a in block["actions"]
    ]
    lines += _table(templates.ACTION_COLUMNS, rows) if rows else []
    lines += [f"- failed attempt: {e}" for e in block["errors"]]
    for a in block["actions"]:
        if a.get("diff"):
            lines += [""] if lines[-1] else []
            lines += [f"`{a['diff_path']}`:", "", "```diff", a["diff"].rstrip("\n"), "```"]
    return lines + ([""] if lines[-1] else [])


def render_markdown(report: dict[str, Any]) -> str:
    """The whole audit as Markdown text."""
    lines = _head(report) + _timeline(report) + _checks(report) + _triggers(report)
    lines += _people(report)
    lines += _actions("Promotion", report["promotion"])
    lines += _actions("Completion actions", report["completion"])
    if report["incident"]:
        lines += ["## Incident", ""]
        lines += [f"- [{name}](<{name}>)" for name in report["incident"]] + [""]
    lines += ["## Evidence", ""]
    lines += [f"- [{name}](<{name}>)" for name in report["evidence"]]
    return "\n".join(lines) + "\n"
