"""The migration audit of a rollout: ``report.md`` and ``report.html`` in its folder.

The audit is the document that closes a change: what moved (plan, service, stable ->
candidate), how it ended and why, the timeline of phases and steps, every check with its
evidence, the triggers with their bounds and last verdicts, the approvals, every sign-off
checklist item (computed facts, who signed and when, evidence), the promotion and completion
actions, and the incident files of a rollback.

:func:`build_report` turns (plan, state, events) into plain data, so that the audit can be
rendered again at any time from the store, for a rollout finished or not; the renderers
only format that data. Every link is a path relative to the rollout's folder, where the
rendered files are written.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rollguard.engine import judging, narrate, signoff
from rollguard.engine.state import RolloutState
from rollguard.evidence import charts
from rollguard.evidence.folder import RunFolder
from rollguard.evidence.templates import report_html, report_md
from rollguard.metric_format import format_value, verdict_value
from rollguard.plan import model
from rollguard.store.base import Event

GROUP_TITLES = {
    "preflight": "Preflight",
    "post_validation": "Post-validation",
    "rollback.verify": "Rollback verification",
}
EVIDENCE_FILES = ("events.jsonl", "plan.yaml", "summary.md", "checks", "metrics", "processes")


def group_title(plan: model.Plan, group: str) -> str:
    """``Preflight``, ``Smoke (step 2: smoke on canary)``, ..."""
    if group.startswith("steps["):
        index = int(group.removeprefix("steps[").split("]")[0])
        name = plan.steps[index].name if index < len(plan.steps) else None
        return f"Smoke (step {index + 1}{': ' + name if name else ''})"
    return GROUP_TITLES.get(group, group)


def _link(run_dir: Path, path: str) -> dict[str, Any]:
    return {"path": path, "exists": bool(path) and (run_dir / path).exists()}


def _finished(events: list[Event], action: str) -> list[Event]:
    return [e for e in events if e.type == "action_finished" and e.data.get("action") == action]


def _steps(plan: model.Plan, events: list[Event]) -> list[dict[str, Any]]:
    started = {int(e.data["index"]): e.at for e in events if e.type == "step_started"}
    done = {int(e.data["index"]): e.at for e in events if e.type == "step_completed"}
    out = []
    for i, step in enumerate(plan.steps):
        if step.kind == "weight":
            detail = f"{step.weight}% to the candidate" + (
                f", observe {step.observe:g}s" if step.observe else ""
            )
        elif step.kind == "smoke":
            detail = f"{len(step.smoke or [])} smoke check(s)"
        else:
            detail = "approval by " + ", ".join(step.approve or [])
        out.append(
            {
                "number": i + 1,
                "name": step.name or f"step {i + 1}",
                "kind": step.kind,
                "detail": detail,
                "started": started.get(i),
                "completed": done.get(i),
            }
        )
    return out


def _phases(events: list[Event]) -> list[dict[str, Any]]:
    entered = [e for e in events if e.type == "phase_entered"]
    out = []
    for i, e in enumerate(entered):
        until = entered[i + 1].at if i + 1 < len(entered) else None
        out.append(
            {"phase": e.data["phase"], "at": e.at, "until": until, "reason": e.data.get("reason")}
        )
    return out


def _checks(plan: model.Plan, events: list[Event], run_dir: Path) -> list[dict[str, Any]]:
    out = []
    for e in _finished(events, "run_checks"):
        group = str(e.data.get("args", {}).get("group", ""))
        if not e.data.get("ok"):
            out.append(
                {
                    "group": group,
                    "title": group_title(plan, group),
                    "name": "-",
                    "kind": "-",
                    "status": "error",
                    "summary": str(e.data.get("error")),
                    "duration": 0.0,
                    "at": e.at,
                    "evidence": _link(run_dir, ""),
                }
            )
            continue
        for r in (e.data.get("result") or {}).get("results", []):
            out.append(
                {
                    "group": group,
                    "title": group_title(plan, group),
                    "name": r["name"],
                    "kind": r.get("kind", ""),
                    "status": r["status"],
                    "summary": r.get("summary", ""),
                    "duration": float(r.get("duration", 0.0)),
                    "at": e.at,
                    "evidence": _link(run_dir, r.get("folder", "")),
                }
            )
    return out


def _triggers(plan: model.Plan, state: RolloutState) -> list[dict[str, Any]]:
    last = {v["trigger"]: v for v in state.verdicts}
    out = []
    for t in plan.triggers:
        query = charts.metric_query(plan, t.metric)
        bounds = [] if t.judge == "threshold" else [judging.describe_bounds(plan, t)]
        for c in t.conditions():
            if c.max is not None:
                bounds.append(f"max {format_value(query, c.max)}")
            if c.min is not None:
                bounds.append(f"min {format_value(query, c.min)}")
            if c.max_ratio_to_baseline is not None:
                floor = f" (floor {format_value(query, t.min_baseline)})" if t.min_baseline else ""
                bounds.append(f"max {c.max_ratio_to_baseline:g}x baseline{floor}")
        v = last.get(t.name)
        out.append(
            {
                "name": t.name,
                "metric": t.metric,
                "query": query,
                "bounds": bounds,
                "fired": bool(state.fired and state.fired.get("trigger") == t.name),
                "last": None
                if v is None
                else {
                    "status": v["status"],
                    "value": verdict_value(v, "value", query=query),
                    "baseline": verdict_value(v, "baseline", query=query),
                    "samples": v.get("samples", 0),
                    "reason": v.get("reason", ""),
                },
            }
        )
    return out


def _actions(events: list[Event], action: str, run_dir: Path) -> dict[str, Any]:
    """The results of the last ``promote`` or ``complete`` action, with their diffs."""
    runs = _finished(events, action)
    if not runs:
        return {"status": "not run", "actions": [], "errors": []}
    errors = [
        str(e.data.get("error"))
        for e in runs
        if not e.data.get("ok") and not e.data.get("interrupted")  # a restart, not a failure
    ]
    last_ok = next((e for e in reversed(runs) if e.data.get("ok")), None)
    actions = []
    for a in ((last_ok.data.get("result") or {}) if last_ok else {}).get("actions", []):
        item = {**a, "evidence": _link(run_dir, a.get("evidence", ""))}
        patch = run_dir / a.get("evidence", "") / "diff.patch"
        if a.get("evidence") and patch.is_file():
            item["diff_path"] = str(patch.relative_to(run_dir))
            item["diff"] = patch.read_text(errors="replace")[:20000]
        actions.append(item)
    return {"status": "done" if last_ok else "failed", "actions": actions, "errors": errors}


def build_report(
    plan: model.Plan, state: RolloutState, events: list[Event], *, run_dir: Path
) -> dict[str, Any]:
    """The migration audit of one rollout, as data (JSON-serialisable).

    Example (``info`` from :meth:`rollguard.engine.service.Service.inspect`)::

        events = store.events(info.state.id)
        report = build_report(info.plan, info.state, events, run_dir=Path(info.state.run_dir))
        report["outcome"], [item["holds"] for item in report["checklist"]]
    """
    start = events[0].at if events else state.created_at
    finished = next((e for e in events if e.type == "rollout_finished"), None)
    outcome = state.outcome or f"in progress ({state.phase.value})"
    approvals = [
        {
            "step": int(e.data["step"]) + 1,
            "step_name": plan.steps[int(e.data["step"])].name
            if int(e.data["step"]) < len(plan.steps)
            else None,
            "role": e.data["role"],
            "by": e.data["by"],
            "at": e.at,
            "note": e.data.get("note", ""),
        }
        for e in events
        if e.type == "approval"
    ]
    checklist = []
    for item in signoff.checklist(plan, state):
        data = item.to_dict()
        data["evidence"] = [_link(run_dir, p) for p in dict.fromkeys(item.evidence) if p]
        checklist.append(data)
    incident = [name for name in ("incident.md", "incident.json") if (run_dir / name).is_file()]
    return {
        "id": state.id,
        "title": f"Migration audit: {plan.name}",
        "plan": {"name": plan.name, "path": state.plan_path, "description": plan.description},
        "service": plan.service,
        "stable": _version(plan.stable, state.versions.get("stable")),
        "candidate": _version(plan.candidate, state.versions.get("candidate")),
        "outcome": outcome,
        "final": state.final,
        "exit_code": state.exit_code,
        "reason": finished.data.get("reason", "") if finished else "",
        "started": start,
        "finished": finished.at if finished else None,
        "duration": ((finished.at if finished else events[-1].at) - start) if events else 0.0,
        "fired": state.fired,
        "abort": state.abort,
        "rollback": state.rollback_reason,
        "phases": _phases(events),
        "steps": _steps(plan, events),
        "timeline": [
            {"at": e.at, "offset": e.at - start, "text": narrate.describe(e)}
            for e in events
            if narrate.describe(e)
        ],
        "checks": _checks(plan, events, run_dir),
        "triggers": _triggers(plan, state),
        "charts": charts.chart_data(plan, events, run_dir=run_dir),
        "approvals": approvals,
        "checklist": checklist,
        "checklist_holds": all(i["holds"] for i in checklist),
        "promotion": _actions(events, "promote", run_dir),
        "completion": _actions(events, "complete", run_dir),
        "incident": incident,
        "evidence": [name for name in EVIDENCE_FILES if (run_dir / name).exists()],
    }


def render_markdown(report: dict[str, Any]) -> str:
    """The audit as Markdown; links are relative to the rollout's folder."""
    return report_md.render_markdown(report)


def render_html(report: dict[str, Any]) -> str:
    """The audit as one self-contained HTML document, with the canary metric charts."""
    return report_html.render_html(report)


def write_markdown(folder: RunFolder, report: dict[str, Any]) -> Path:
    """Write ``report.md`` into the rollout's folder."""
    return folder.write_text("report.md", render_markdown(report))


def write_html(folder: RunFolder, report: dict[str, Any]) -> Path:
    """Write ``report.html`` (one self-contained file) into the rollout's folder."""
    return folder.write_text("report.html", render_html(report))


def write_report(folder: RunFolder, report: dict[str, Any]) -> tuple[Path, Path]:
    """Write ``report.md`` and ``report.html``; return their paths."""
    return write_markdown(folder, report), write_html(folder, report)


def _version(spec: model.VersionSpec, ran: dict[str, Any] | None) -> dict[str, Any]:
    """A version as the rollout ran it (templates filled in), else as the plan writes it."""
    ran = ran or {}
    return {"version": ran.get("version", spec.version), "image": ran.get("image", spec.image)}
