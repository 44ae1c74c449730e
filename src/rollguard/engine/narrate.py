"""Events told as one line of plain English each, for logs, progress and summaries. Pure."""

from __future__ import annotations

from typing import Any

from rollguard.store.base import Event


def check_line(group: str, entry: dict[str, Any]) -> str:
    """``preflight: unit tests passed (1.2s): exit code 0``."""
    return (
        f"{group}: check {entry['name']!r} {entry['status']} ({entry['duration']:.1f}s): "
        f"{entry['summary']}"
    )


def describe(event: Event) -> str:
    """A line for ``event``, or ``""`` for events too small to tell (observations)."""
    d = event.data
    t = event.type
    if t == "rollout_created":
        return f"rollout {event.rollout_id} created from {d['plan_path']}"
    if t == "phase_entered":
        reason = f": {d['reason']}" if d.get("reason") else ""
        return f"phase {d['phase']}{reason}"
    if t == "step_started":
        return f"step {int(d['index']) + 1} started ({d['kind']})"
    if t == "step_completed":
        return f"step {int(d['index']) + 1} completed"
    if t == "action_started":
        action, args = d["action"], d.get("args", {})
        if action == "set_weight":
            return f"setting candidate weight to {args['weight']}%"
        if action == "run_checks":
            return f"running {args['group']} checks"
        return {
            "prepare": "starting versions and router",
            "promote": "promoting the candidate",
            "rollback": "rolling back: restoring stable",
            "incident": "writing the incident report and notifying",
            "complete": "running the completion actions",
        }.get(action, "")
    if t == "action_finished":
        if d.get("interrupted"):
            return f"{d['action']} was interrupted by a controller stop; it will be redone"
        if not d.get("ok"):
            return f"{d['action']} failed: {d.get('error')}"
        if d["action"] == "run_checks":
            result = d.get("result", {})
            verdict = "passed" if result.get("passed") else "FAILED"
            return f"{result.get('group')} checks {verdict}"
        return ""
    if t == "trigger_fired":
        v = d["verdict"]
        return f"TRIGGER {v['trigger']!r} fired: {v['reason']}"
    if t == "approval":
        return f"step {int(d['step']) + 1} approved by {d['by']} as {d['role']}" + (
            f" ({d['note']})" if d.get("note") else ""
        )
    if t == "signoff":
        return f"signed off by {d['by']} as {d['role']}" + (
            f" ({d['note']})" if d.get("note") else ""
        )
    if t == "abort_requested":
        return f"abort requested by {d.get('by') or 'someone'}: {d.get('reason') or 'no reason'}"
    if t == "resumed":
        return f"resumed by controller pid {d['pid']}"
    if t == "controller_started":
        return f"driven by controller pid {d['pid']} on {d.get('host', '?')}"
    if t == "rollout_finished":
        return f"rollout finished: {d['outcome']} ({d['reason']})"
    return ""
