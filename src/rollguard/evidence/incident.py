"""The incident report of a rollback: ``incident.json`` (data) and ``incident.md`` (a ticket).

The runbook's last rollback step, "collect artifacts and open an incident ticket linking
artifacts and the failing observations", as a document built from the plan, the rollout's
state and its event log, plus the list of files in the evidence folder:

- who and what: rollout id, plan, service, stable and candidate versions and images;
- when: start, when the rollback began, end, and the candidate's traffic at that moment;
- why (``reason.kind``): ``trigger`` (the verdict: value against limit and baseline),
  ``check`` (the failed checks), ``abort`` (who and why), ``provider_error`` (the metric
  errors), ``action_failed`` (the error), else the recorded reason;
- the failing observations: the last analysis verdicts before the rollback, each with its
  metric snapshot file, and the baseline snapshot;
- failed checks with their evidence folders, the rollback verification, a timeline told by
  :func:`rollguard.engine.narrate.describe`, and every artifact (relative path and size).

Building is pure apart from listing the evidence folder; only :func:`write_incident` writes.
The document carries a ready ``markdown`` rendering, so sinks that post a ticket need
nothing but the dict.

Secrets never enter it: no environment values (the plan's ``env:`` maps are not copied), the
values of environment variables that the sinks refer to or whose names look secret (token,
secret, password, key, credential, webhook) are replaced by ``***`` wherever they appear, and
so is the ``user:password`` of every URL.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rollguard.engine import narrate
from rollguard.engine.state import RolloutState
from rollguard.evidence.folder import RunFolder
from rollguard.metric_format import verdict_value
from rollguard.plan import model, templates
from rollguard.store.base import Event

SCHEMA = "rollguard.incident/v1"
RECENT = 3  # analysis observations kept as the failing observations
MAX_LISTED = 300  # artifacts listed in the Markdown (incident.json lists every one)
OWN_FILES = {"incident.json", "incident.md"}
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]*:[^/\s@]*@")
_SECRET_NAME = re.compile(r"(?i)token|secret|passw|api_?key|private|credential|webhook")


def build_incident(
    plan: model.Plan,
    state: RolloutState,
    events: list[Event],
    *,
    run_dir: Path,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The incident of a rolled-back rollout, as JSON-ready data (``markdown`` included).

    ``environ`` (default: the process environment) is read only to know what to mask.
    Example: ``build_incident(plan, state, events, run_dir=folder.path)["reason"]["kind"]``
    is ``"trigger"`` after a trigger fired.
    """
    start = events[0].at if events else state.created_at
    rollback = next(
        (e for e in events if e.type == "phase_entered" and e.data["phase"] == "rolling_back"),
        None,
    )
    finished = next((e for e in events if e.type == "rollout_finished"), None)
    end = finished.at if finished else (events[-1].at if events else start)
    artifacts = _artifacts(run_dir)
    paths = {a["path"] for a in artifacts}
    before = rollback.seq if rollback else (events[-1].seq + 1 if events else 0)
    observations = _observations(plan, events, before=before, paths=paths)
    failed = _failed_checks(state)
    reason = _reason(plan, state, failed, observations, finished)
    verification = _verification(plan, state)
    subject = plan.service or plan.name
    incident: dict[str, Any] = {
        "schema": SCHEMA,
        "title": f"Rollback of {subject} ({plan.candidate.version} -> "
        f"{plan.stable.version}): {reason['short']}",
        "summary": f"{subject}: rollout {state.id} rolled back from {plan.candidate.version} "
        f"to {plan.stable.version}: {reason['text']}",
        "rollout_id": state.id,
        "plan_name": plan.name,
        "plan_path": state.plan_path,
        "service": plan.service,
        "stable": {"version": plan.stable.version, "image": plan.stable.image},
        "candidate": {"version": plan.candidate.version, "image": plan.candidate.image},
        "outcome": state.outcome or state.phase.value,
        "exit_code": state.exit_code,
        "weight_at_rollback": _weight_before(events, before),
        "started_at": _iso(start),
        "rollback_started_at": _iso(rollback.at) if rollback else None,
        "ended_at": _iso(end),
        "duration": round(end - start, 3),
        "reason": reason,
        "observations": observations,
        "snapshots": sorted(p for p in paths if re.fullmatch(r"metrics/\d+-baseline\.json", p))
        + [o["snapshot"] for o in observations if o["snapshot"]],
        "failed_checks": failed,
        "verification": verification,
        "timeline": [
            {"at": _iso(e.at), "offset": round(e.at - start, 1), "text": text}
            for e in events
            if (text := narrate.describe(e))
        ],
        "run_dir": str(run_dir),
        "artifacts": artifacts,
    }
    incident = _redact(incident, _secret_values(plan, os.environ if environ is None else environ))
    incident["markdown"] = render_incident_markdown(incident)
    return incident


def write_incident(folder: RunFolder, incident: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``incident.json`` and ``incident.md`` into the evidence folder; their paths."""
    markdown = incident.get("markdown") or render_incident_markdown(incident)
    return folder.write_json("incident.json", incident), folder.write_text("incident.md", markdown)


# ---------------------------------------------------------------------------- parts


def _iso(at: float) -> str:
    return dt.datetime.fromtimestamp(at, tz=dt.UTC).isoformat(timespec="seconds")


def _verdict(plan: model.Plan, v: dict[str, Any]) -> dict[str, Any]:
    """A verdict with its numbers also written for people (``value_text`` etc.)."""
    out = dict(v)
    spec = plan.metrics.get(str(v.get("metric", "")))
    query = str(getattr(spec, "query", "") or "")
    for key in ("value", "baseline", "threshold"):
        out[f"{key}_text"] = verdict_value(v, key, query=query)
    return out


def _artifacts(run_dir: Path) -> list[dict[str, Any]]:
    if not run_dir.is_dir():
        return []
    out = []
    for path in sorted(run_dir.rglob("*")):
        rel = path.relative_to(run_dir).as_posix()
        if path.is_file() and rel not in OWN_FILES and not rel.endswith(".tmp"):
            out.append({"path": rel, "bytes": path.stat().st_size})
    return out


def _observations(
    plan: model.Plan, events: list[Event], *, before: int, paths: set[str]
) -> list[dict[str, Any]]:
    """The last analyses before ``before`` (a seq), each with its metric snapshot file."""
    started = {e.data["id"]: e.seq for e in events if e.type == "action_started"}
    finished = {e.seq: e.data.get("id") for e in events if e.type == "action_finished"}
    out = []
    for e in [e for e in events if e.type == "analysis" and e.seq < before][-RECENT:]:
        intent = started.get(finished.get(int(e.data["observation_seq"])))
        snapshot = f"metrics/{intent:05d}-analysis.json" if intent is not None else None
        out.append(
            {
                "seq": e.seq,
                "at": _iso(e.at),
                "snapshot": snapshot if snapshot in paths else None,
                "verdicts": [_verdict(plan, v) for v in e.data.get("verdicts", [])],
            }
        )
    return out


def _check_entry(group: str, r: dict[str, Any]) -> dict[str, Any]:
    return {"group": group, **{k: r.get(k, "") for k in ("name", "status", "summary", "folder")}}


def _failed_checks(state: RolloutState) -> list[dict[str, Any]]:
    return [
        {**_check_entry(group, r), "details": list(r.get("details", []))[:10]}
        for group, done in state.checks.items()
        for r in done.get("results", [])
        if r.get("status") != "passed"
    ]


def _weight_before(events: list[Event], before: int) -> int | None:
    weight = None
    for e in events:
        if e.seq < before and e.type == "action_finished" and e.data.get("ok"):
            if e.data.get("action") == "set_weight":
                weight = int(e.data["args"]["weight"])
    return weight


def _reason(
    plan: model.Plan,
    state: RolloutState,
    failed: list[dict[str, Any]],
    observations: list[dict[str, Any]],
    finished: Event | None,
) -> dict[str, Any]:
    recorded = state.rollback_reason or {}
    kind = str(recorded.get("kind") or ("trigger" if state.fired else "unknown"))
    text = str(recorded.get("reason") or (finished.data["reason"] if finished else ""))
    out: dict[str, Any] = {"kind": kind, "text": text or "no reason was recorded"}
    if kind == "trigger" and state.fired:
        v = _verdict(plan, state.fired)
        out["verdict"] = v
        out["short"] = (
            f"trigger '{v['trigger']}' fired ({v['metric']} {v['value_text']}, "
            f"limit {v['threshold_text']}, baseline {v['baseline_text']})"
        )
    elif kind == "check":
        out["checks"] = [c for c in failed if c["group"] != "rollback.verify"]
        out["short"] = "check failed: " + ", ".join(c["name"] for c in out["checks"])
    elif kind == "abort":
        abort = state.abort or {}
        out.update(by=abort.get("by") or "someone", why=abort.get("reason") or "no reason given")
        out["short"] = f"aborted by {out['by']}"
    elif kind == "provider_error":
        last = observations[-1]["verdicts"] if observations else []
        out["errors"] = [v for v in last if v.get("status") == "error"]
        out["short"] = "metric provider errors"
    elif kind == "action_failed":
        out["error"] = state.last_error
        out["short"] = text
    else:
        out["short"] = text or "unknown reason"
    return out


def _verification(plan: model.Plan, state: RolloutState) -> dict[str, Any]:
    done = state.checks.get("rollback.verify")
    if not plan.rollback.verify:
        return {"passed": None, "text": "no verification checks are configured", "results": []}
    if done is None:
        return {"passed": None, "text": "verification did not run", "results": []}
    passed = bool(done.get("passed"))
    return {
        "passed": passed,
        "text": "passed" if passed else "FAILED: stable needs attention",
        "results": [_check_entry("rollback.verify", r) for r in done.get("results", [])],
    }


# ---------------------------------------------------------------------------- secrets


def _secret_values(plan: model.Plan, environ: Mapping[str, str]) -> list[str]:
    names = {name for name in environ if _SECRET_NAME.search(name)}
    for sink in plan.incident.sinks:
        refs = templates.find_names(json.dumps(sink.model_dump()))
        names.update(r.removeprefix(templates.ENV_PREFIX) for r in refs if r.startswith("env."))
        if isinstance(sink, model.GithubSink):
            names.add(sink.token_env)
    values = {environ[n] for n in names if len(environ.get(n, "")) >= 6}
    return sorted(values, key=len, reverse=True)


def redact(text: str, secrets: list[str]) -> str:
    """``text`` without the given secrets and without any URL's ``user:password@``.

    >>> redact("mongodb://app:pw@db/chat token abc123", ["abc123"])
    'mongodb://***@db/chat token ***'
    """
    for secret in secrets:
        text = text.replace(secret, "***")
    return _USERINFO.sub(r"\1***@", text)


def _redact(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        return redact(value, secrets)
    if isinstance(value, dict):
        return {k: _redact(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v, secrets) for v in value]
    return value


# ---------------------------------------------------------------------------- Markdown


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]


def _size(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KiB"


def _checks(rows: list[dict[str, Any]], *, group: bool) -> list[str]:
    head = ["group"] * group + ["check", "status", "summary", "evidence"]
    return _table(
        head,
        [
            [c["group"]] * group + [c["name"], c["status"], c["summary"], f"`{c['folder']}`"]
            for c in rows
        ],
    )


def _version(v: dict[str, Any]) -> str:
    return f"`{v.get('version')}`" + (f" (`{v['image']}`)" if v.get("image") else "")


def render_incident_markdown(incident: dict[str, Any]) -> str:
    """The incident as a ticket body: reads well on GitHub and as ``incident.md``."""
    i, reason = incident, incident["reason"]
    weight = i.get("weight_at_rollback")
    facts = [
        ["Rollout", f"`{i['rollout_id']}`"],
        ["Plan", f"`{i['plan_name']}` (`{i.get('plan_path') or '-'}`)"],
        ["Service", i.get("service") or "-"],
        ["Stable (restored)", _version(i["stable"])],
        ["Candidate (rolled back)", _version(i["candidate"])],
        ["Candidate traffic at rollback", f"{weight}%" if weight is not None else "-"],
        [
            "Outcome",
            f"{i['outcome']}" + (f" (exit code {i['exit_code']})" if i["exit_code"] else ""),
        ],
        ["Started", i["started_at"]],
        ["Rollback began", i.get("rollback_started_at") or "-"],
        ["Ended", f"{i['ended_at']} ({i['duration']:.1f}s after the start)"],
        ["Evidence", f"`{i['run_dir']}`"],
    ]
    out = [f"# {i['title']}", "", f"> {reason['text']}", "", *_table(["", ""], facts)]
    out += ["", "## Why it rolled back", ""] + _why(reason)
    out += ["", "## Failing observations", ""]
    for o in i["observations"]:
        snap = f": `{o['snapshot']}`" if o["snapshot"] else ""
        out += [f"Analysis at {o['at']}{snap}", ""]
        out += _table(
            ["trigger", "status", "candidate", "samples", "baseline", "limit", "reason"],
            [
                [v["trigger"], v["status"], v["value_text"], v.get("samples", 0)]
                + [v["baseline_text"], v["threshold_text"], v["reason"]]
                for v in o["verdicts"]
            ],
        ) + [""]
    if not i["observations"]:
        out += ["No trigger was evaluated before the rollback.", ""]
    if i["snapshots"]:
        out += ["Metric snapshots: " + ", ".join(f"`{p}`" for p in i["snapshots"])]
    out += ["", "## Failed checks", ""]
    out += _checks(i["failed_checks"], group=True) if i["failed_checks"] else ["No check failed."]
    ver = i["verification"]
    out += ["", "## Rollback verification", "", f"Verification: **{ver['text']}**", ""]
    out += _checks(ver["results"], group=False)
    out += ["", "## Timeline", ""]
    out += [f"- {t['at'][11:19]} (+{t['offset']:.1f}s) {t['text']}" for t in i["timeline"]]
    arts = i["artifacts"]
    total = sum(a["bytes"] for a in arts)
    out += ["", "## Artifacts", "", f"{len(arts)} files ({_size(total)}) under `{i['run_dir']}`:"]
    out += ["", "<details><summary>Every file of the evidence folder</summary>", ""]
    out += _table(
        ["file", "size"], [[f"`{a['path']}`", _size(a["bytes"])] for a in arts[:MAX_LISTED]]
    )
    if len(arts) > MAX_LISTED:
        out += ["", f"... and {len(arts) - MAX_LISTED} more: see `incident.json`."]
    return "\n".join(out + ["", "</details>", ""])


def _why(reason: dict[str, Any]) -> list[str]:
    kind = reason["kind"]
    if kind == "trigger" and "verdict" in reason:
        v = reason["verdict"]
        return [
            f"Trigger `{v['trigger']}` on metric `{v['metric']}` fired:",
            "",
            f"- candidate: **{v['value_text']}** over {v.get('samples', 0)} samples",
            f"- limit: {v['threshold_text']} (`{v.get('bound') or '-'}`)",
            f"- baseline (stable): {v['baseline_text']} "
            f"over {v.get('baseline_samples', 0)} samples",
        ]
    if kind == "check":
        names = ", ".join(f"`{c['name']}` ({c['group']})" for c in reason["checks"])
        return [f"Failed checks: {names or 'none recorded'} (see below)."]
    if kind == "abort":
        return [f"Aborted by **{reason['by']}**: {reason['why']}"]
    if kind == "provider_error":
        errs = reason.get("errors", [])
        return ["The metric provider failed repeatedly:", ""] + [
            f"- `{v['trigger']}` (`{v['metric']}`): {v['reason']}" for v in errs
        ]
    if kind == "action_failed":
        return [reason["text"], "", f"Last error: `{reason.get('error')}`"]
    return [reason["text"]]
