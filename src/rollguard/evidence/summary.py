"""``summary.md``: what happened in a rollout, when, and why — on one page.

Built from the event log only (the plan gives names and thresholds), so it can be rendered
again at any time from the store.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from rollguard.engine import narrate, signoff
from rollguard.engine.state import RolloutState
from rollguard.evidence.folder import RunFolder
from rollguard.metric_format import verdict_value
from rollguard.plan import model
from rollguard.store.base import Event


def clock_time(at: float) -> str:
    return dt.datetime.fromtimestamp(at, tz=dt.UTC).strftime("%H:%M:%S")


def render_summary(plan: model.Plan, state: RolloutState, events: list[Event]) -> str:
    """The Markdown text of the summary."""
    start = events[0].at if events else 0.0
    end = events[-1].at if events else 0.0
    finished = next((e for e in events if e.type == "rollout_finished"), None)
    lines = [
        f"# Rollout {state.id}: {state.outcome or state.phase.value}",
        "",
        f"- plan: `{plan.name}` ({state.plan_path})",
        f"- service: {plan.service or '-'}",
        f"- stable: `{plan.stable.version}` -> candidate: `{plan.candidate.version}`",
        f"- started {dt.datetime.fromtimestamp(start, tz=dt.UTC).isoformat(timespec='seconds')}, "
        f"took {end - start:.1f}s",
        f"- outcome: **{state.outcome or state.phase.value}**"
        + (f" (exit code {state.exit_code})" if state.exit_code is not None else ""),
    ]
    if finished:
        lines.append(f"- why: {finished.data['reason']}")
    if state.fired:
        v = state.fired
        lines += [
            "",
            "## Trigger that fired",
            "",
            f"- trigger `{v['trigger']}` on metric `{v['metric']}`: {v['reason']}",
            f"- candidate value {_fmt(plan, v, 'value')} over {v['samples']} "
            f"requests; baseline {_fmt(plan, v, 'baseline')} "
            f"({v.get('baseline_samples', 0)} requests); bound `{v.get('bound')}`, "
            f"limit {_fmt(plan, v, 'threshold')}",
        ]
    lines += ["", "## Checks", ""]
    checks = [(g, r) for g, c in state.checks.items() for r in c.get("results", [])]
    if checks:
        lines += ["| group | check | status | summary | evidence |", "|---|---|---|---|---|"]
        for group, r in checks:
            lines.append(
                f"| {group} | {r['name']} | {r['status']} | {_cell(r['summary'])} | "
                f"`{r.get('folder', '')}` |"
            )
    else:
        lines.append("No check ran.")
    lines += ["", "## Last verdicts", ""]
    if state.verdicts:
        lines += [
            "| trigger | status | candidate | samples | baseline | reason |",
            "|---|---|---|---|---|---|",
        ]
        for v in state.verdicts:
            lines.append(
                f"| {v['trigger']} | {v['status']} | {_fmt(plan, v, 'value')} | "
                f"{v['samples']} | {_fmt(plan, v, 'baseline')} | "
                f"{_cell(v['reason'])} |"
            )
    else:
        lines.append("No trigger was evaluated.")
    items = signoff.checklist(plan, state)
    if items:
        lines += ["", "## Sign-off checklist", ""]
        for item in items:
            mark = "x" if item.holds else " "
            who = ", ".join(f"{role}: {s['by']}" for role, s in item.signed.items())
            extra = "; ".join(item.facts + ([f"signed by {who}"] if who else []))
            if item.missing_roles:
                extra += ("; " if extra else "") + f"waiting for {', '.join(item.missing_roles)}"
            lines.append(f"- [{mark}] {item.name} ({extra})")
    lines += ["", "## Timeline", ""]
    for e in events:
        text = narrate.describe(e)
        if text:
            lines.append(f"- {clock_time(e.at)} (+{e.at - start:.1f}s) {text}")
    lines += [
        "",
        "## Evidence",
        "",
        "- `events.jsonl`: every event of this rollout",
        "- `checks/`: output and artifacts of every check",
        "- `metrics/`: the metric snapshot behind each decision",
        "- `processes/`: output of the processes started",
        "",
    ]
    return "\n".join(lines)


def _fmt(plan: model.Plan, verdict: dict[str, Any], key: str) -> str:
    spec = plan.metrics.get(str(verdict.get("metric", "")))
    return verdict_value(verdict, key, query=str(getattr(spec, "query", "") or ""))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_summary(
    folder: RunFolder, plan: model.Plan, state: RolloutState, events: list[Event]
) -> None:
    """Write ``summary.md`` into the rollout's evidence folder."""
    folder.write_text("summary.md", render_summary(plan, state, events))
