"""The engine's decisions: ``decide(plan, state, now) -> Decision``. Pure: no I/O, no clock.

A decision is a list of events to append (phase changes, verdicts), at most one action for the
runner to carry out (with intent and result logged around it), and the time at which the
situation can next change on its own. The runner calls ``decide`` again after every append, so
each call only has to answer "what is the next thing to do?".

Rules (DESIGN.md, "Lifecycle of a rollout"):

- preflight failure: nothing was deployed, nothing to roll back: ``failed``;
- triggers are evaluated every ``analysis.interval`` from the first canary traffic to the end
  of post-validation, and a failing verdict rolls back at once;
- rollforward from a weight step needs its window elapsed and every trigger passing with
  enough samples on an observation taken after the window ended (inconclusive never passes);
- a provider error is never a pass; ``consecutive_error_limit`` errors in a row roll back (or
  pause, when the plan says so);
- rollback moves the weight to 0 first, then asks the backend to restore stable, then verifies;
- an action that keeps failing (``MAX_ATTEMPTS``) escalates: preflight fails, traffic phases
  roll back, a rollback that cannot be done ends ``failed`` and asks for a person.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rollguard.analysis.assess import Verdict, evaluate
from rollguard.engine import judging, signoff, window
from rollguard.engine.phases import ExitCode, Phase
from rollguard.engine.state import RolloutState, action_key
from rollguard.plan import model

MAX_ATTEMPTS = 3
RETRY_DELAY = 1.0


@dataclass(frozen=True)
class Action:
    """Something the runner must do in the world."""

    # prepare | set_weight | run_checks | observe | promote | rollback | incident | complete
    action: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Decision:
    """What to append, what to do, and when to look again."""

    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    action: Action | None = None
    wake_at: float | None = None
    waiting: str = ""  # what the rollout waits for, for people


def decide(plan: model.Plan, s: RolloutState, now: float) -> Decision:
    """The next step of rollout ``s`` at time ``now``."""
    if s.final:
        return Decision()
    if s.pending is not None:
        # Only a controller that died leaves an intent without a result; the runner closes it
        # (as interrupted) when it resumes, so a live decision never sees one.
        return Decision(waiting=f"{s.pending.action} in progress")
    if s.abort is not None and s.phase not in (Phase.ROLLING_BACK,):
        reason = (
            f"aborted by {s.abort['by'] or 'someone'}: {s.abort['reason'] or 'no reason given'}"
        )
        if s.phase in (Phase.PENDING, Phase.PREFLIGHT):
            return _finish(Phase.FAILED, "aborted", reason, ExitCode.ABORTED)
        return _roll_back("abort", reason)
    if s.phase == Phase.PENDING:
        closed = _window_closed(plan, now)
        if closed is not None and plan.window and plan.window.outside == "refuse":
            reason = "outside the maintenance window: the plan refuses to start"
            return _finish(Phase.FAILED, "preflight_failed", reason, ExitCode.PREFLIGHT_FAILED)
        if closed is not None:
            return closed
        return Decision(events=[("phase_entered", {"phase": Phase.PREFLIGHT})])
    if s.phase == Phase.PREFLIGHT:
        return _preflight(plan, s)
    if s.phase == Phase.BASELINE:
        return _baseline(plan, s, now)
    if s.phase == Phase.ROLLING_BACK:
        return _rolling_back(plan, s)
    if s.phase == Phase.AWAITING_SIGNOFF:
        return _awaiting_signoff(plan, s)
    return _traffic(plan, s, now)


def _window_closed(plan: model.Plan, now: float) -> Decision | None:
    """A wait until the maintenance window opens, or None when it is open (or not set)."""
    if plan.window is None or window.is_open(plan.window, now):
        return None
    opens = window.next_open(plan.window, now)
    return Decision(
        wake_at=opens,
        waiting="waiting for the maintenance window "
        f"({plan.window.start}-{plan.window.end} {plan.window.timezone}, "
        f"{', '.join(plan.window.days)})",
    )


# ---------------------------------------------------------------------------- helpers


def _finish(phase: Phase, outcome: str, reason: str, code: ExitCode) -> Decision:
    return Decision(
        events=[
            ("phase_entered", {"phase": phase, "reason": reason}),
            ("rollout_finished", {"outcome": outcome, "reason": reason, "exit_code": int(code)}),
        ]
    )


def _roll_back(kind: str, reason: str) -> Decision:
    return Decision(
        events=[("phase_entered", {"phase": Phase.ROLLING_BACK, "kind": kind, "reason": reason})]
    )


def _attempt(s: RolloutState, action: str, args: dict[str, Any]) -> Decision | None:
    """The action, unless it already failed too often (then None: the caller escalates)."""
    if s.failures.get(action_key(action, args), 0) >= MAX_ATTEMPTS:
        return None
    return Decision(action=Action(action, args))


def _escalate(s: RolloutState, action: str) -> Decision:
    reason = f"{action} failed {MAX_ATTEMPTS} times: {s.last_error}"
    if s.phase == Phase.PREFLIGHT:
        return _finish(Phase.FAILED, "preflight_failed", reason, ExitCode.PREFLIGHT_FAILED)
    if s.phase == Phase.ROLLING_BACK:
        return _finish(
            Phase.FAILED,
            "rollback_failed",
            f"{reason}; manual intervention needed",
            ExitCode.INTERNAL_ERROR,
        )
    return _roll_back("action_failed", reason)


def _do(s: RolloutState, action: str, args: dict[str, Any] | None = None) -> Decision:
    args = args or {}
    return _attempt(s, action, args) or _escalate(s, action)


# ---------------------------------------------------------------------------- phases


def _preflight(plan: model.Plan, s: RolloutState) -> Decision:
    done = s.checks.get("preflight")
    if done is None:
        return _do(s, "run_checks", {"group": "preflight"})
    if not done.get("passed"):
        failed = [r["name"] for r in done.get("results", []) if r["status"] != "passed"]
        return _finish(
            Phase.FAILED,
            "preflight_failed",
            f"preflight check failed: {', '.join(failed)}",
            ExitCode.PREFLIGHT_FAILED,
        )
    return Decision(events=[("phase_entered", {"phase": Phase.BASELINE})])


def needs_baseline(plan: model.Plan) -> bool:
    """Whether the stable version is measured before any canary traffic: it is when triggers
    exist (their metrics must answer for stable, and ratio bounds need a baseline)."""
    return plan.analysis.baseline > 0 and bool(plan.triggers)


def silent_metrics(plan: model.Plan, baseline: dict[str, Any]) -> list[str]:
    """Trigger metrics that did not answer for stable in the baseline (error or no data)."""
    out = []
    for name in sorted({t.metric for t in plan.triggers}):
        m = baseline.get(name) or {}
        if m.get("error"):
            out.append(f"{name}: {m['error']}")
        elif m.get("value") is None:
            hint = ""
            if plan.metrics[name].kind == "builtin":
                hint = " (no request reached it through the router: is traffic flowing?)"
            out.append(f"{name}: no data for stable{hint}")
    return out


def _baseline(plan: model.Plan, s: RolloutState, now: float) -> Decision:
    if not s.prepared:
        return _do(s, "prepare")
    if needs_baseline(plan) and s.baseline is None:
        ends = s.phase_since + plan.analysis.baseline
        if now < ends:
            return Decision(wake_at=ends, waiting="measuring the stable baseline")
        return _do(s, "observe", {"purpose": "baseline", "since": s.phase_since, "until": ends})
    silent = silent_metrics(plan, s.baseline or {}) if needs_baseline(plan) else []
    if silent:
        # The metrics that would protect the canary do not work: nothing may move.
        return _roll_back(
            "preflight_metrics", "metrics do not answer for stable: " + "; ".join(silent)
        )
    return Decision(
        events=[
            ("phase_entered", {"phase": Phase.CANARY}),
            ("step_started", {"index": 0, "kind": plan.steps[0].kind}),
        ]
    )


def target_weight(plan: model.Plan, s: RolloutState) -> int:
    """The weight the router should have now."""
    if s.phase == Phase.POST_VALIDATION:
        return 100
    if s.step is not None and plan.steps[s.step].weight is not None:
        return int(plan.steps[s.step].weight or 0)
    return s.weight


def judge(plan: model.Plan, s: RolloutState) -> tuple[list[Verdict], dict[str, Any]]:
    """Verdicts of every trigger on the latest observation, and the statistical judges' new
    states (by trigger name)."""
    observation = s.observation or {}
    obs = observation.get("metrics", {})
    out = []
    states: dict[str, Any] = {}
    for trigger in plan.triggers:
        if trigger.judge != "threshold":
            states[trigger.name], verdict = judging.judge(
                plan, trigger, state=s.judge_states.get(trigger.name), observation=observation
            )
            out.append(verdict)
            continue
        m = obs.get(trigger.metric, {})
        out.append(
            evaluate(
                trigger,
                metric=plan.metrics[trigger.metric],
                candidate=m.get("candidate"),
                stable=m.get("stable"),
                baseline=(s.baseline or {}).get(trigger.metric),
                min_samples=plan.analysis.min_samples,
            )
        )
    return out, states


def _traffic(plan: model.Plan, s: RolloutState, now: float) -> Decision:
    if not s.prepared:
        return _do(s, "prepare")
    target = target_weight(plan, s)
    if s.router_weight != target:
        return _do(s, "set_weight", {"weight": target})

    # Triggers first: a bad canary rolls back whatever step it is in.
    if plan.triggers and s.canary_since is not None:
        if s.observation is not None and s.observation["seq"] > s.evaluated_seq:
            return _analyse(plan, s)
        limit = plan.analysis.consecutive_error_limit
        # Statistical judges count provider errors themselves: their `error` is already final.
        judged = {t.name for t in judging.statistical(plan)}
        broken = [t for t, n in s.error_streak.items() if n >= limit or (t in judged and n)]
        if broken and plan.analysis.on_provider_error == "rollback":
            return _roll_back(
                "provider_error",
                f"metric provider failed {limit} times in a row for {', '.join(sorted(broken))}",
            )
        due = (s.observed_at or s.canary_since) + plan.analysis.interval
        if s.observed_at is None or now >= due:
            return _do(s, "observe", {"purpose": "analysis"})
    progress = _post(plan, s, now) if s.phase == Phase.POST_VALIDATION else _step(plan, s, now)
    if progress.action is None and not progress.events and plan.triggers and s.canary_since:
        due = (s.observed_at or now) + plan.analysis.interval
        wake = min(due, progress.wake_at) if progress.wake_at else due
        return Decision(wake_at=wake, waiting=progress.waiting)
    return progress


def _analyse(plan: model.Plan, s: RolloutState) -> Decision:
    verdicts, states = judge(plan, s)
    assert s.observation is not None
    analysis: dict[str, Any] = {
        "observation_seq": s.observation["seq"],
        "verdicts": [v.to_dict() for v in verdicts],
    }
    if states:
        analysis["judge_states"] = states
    events: list[tuple[str, dict[str, Any]]] = [("analysis", analysis)]
    failed = [v for v in verdicts if v.status == "fail"]
    if failed:
        first = failed[0]
        events.append(("trigger_fired", {"verdict": first.to_dict()}))
        events.append(
            (
                "phase_entered",
                {
                    "phase": Phase.ROLLING_BACK,
                    "kind": "trigger",
                    "reason": f"trigger {first.trigger!r} fired: {first.reason}",
                },
            )
        )
    return Decision(events=events)


def _all_pass_after(plan: model.Plan, s: RolloutState, since: float) -> tuple[bool, str]:
    """Whether the latest judged observation, taken at or after ``since``, passes entirely."""
    if not plan.triggers:
        return True, ""
    if (
        s.observation is None
        or s.observation["at"] < since
        or s.evaluated_seq < s.observation["seq"]
    ):
        return False, "waiting for an observation after the window"
    bad = [v for v in s.verdicts if v["status"] != "pass"]
    if bad:
        return False, "; ".join(f"{v['trigger']}: {v['status']} ({v['reason']})" for v in bad)
    return True, ""


def _complete_step(plan: model.Plan, index: int) -> Decision:
    events: list[tuple[str, dict[str, Any]]] = [("step_completed", {"index": index})]
    if index + 1 < len(plan.steps):
        events.append(("step_started", {"index": index + 1, "kind": plan.steps[index + 1].kind}))
    else:
        events.append(("phase_entered", {"phase": Phase.POST_VALIDATION}))
    return Decision(events=events)


def _step(plan: model.Plan, s: RolloutState, now: float) -> Decision:
    assert s.step is not None
    i = s.step
    step = plan.steps[i]
    if step.weight is not None:
        ends = max(s.weight_since, s.step_since) + (step.observe or 0.0)
        if s.weight < step.weight:  # not yet applied: the window gates any increase
            closed = _window_closed(plan, now)
            if closed is not None:
                return closed
        if now < ends:
            return Decision(wake_at=ends, waiting=f"observing at {step.weight}%")
        ok, why = _all_pass_after(plan, s, ends)
        if not ok:
            return Decision(waiting=why)
        return _complete_step(plan, i)
    if step.smoke is not None:
        group = f"steps[{i}].smoke"
        done = s.checks.get(group)
        if done is None:
            return _do(s, "run_checks", {"group": group})
        if not done.get("passed"):
            failed = [r["name"] for r in done.get("results", []) if r["status"] != "passed"]
            return _roll_back("check", f"smoke check failed in step {i + 1}: {', '.join(failed)}")
        return _complete_step(plan, i)
    missing = [r for r in step.approve or [] if r not in s.approvals.get(i, {})]
    if missing:
        return Decision(waiting=f"waiting for approval by {', '.join(missing)}")
    return _complete_step(plan, i)


def _post(plan: model.Plan, s: RolloutState, now: float) -> Decision:
    done = s.checks.get("post_validation")
    if done is None:
        return _do(s, "run_checks", {"group": "post_validation"})
    if not done.get("passed"):
        failed = [r["name"] for r in done.get("results", []) if r["status"] != "passed"]
        return _roll_back("check", f"post-validation failed: {', '.join(failed)}")
    ok, why = _all_pass_after(plan, s, float(done.get("finished_at", 0.0)))
    if not ok:
        return Decision(waiting=why)
    if not s.promoted:
        return _do(s, "promote")
    return Decision(events=[("phase_entered", {"phase": Phase.AWAITING_SIGNOFF})])


def _awaiting_signoff(plan: model.Plan, s: RolloutState) -> Decision:
    items = signoff.checklist(plan, s)
    open_items = [i for i in items if not i.holds]
    if open_items:
        roles = sorted({r for i in open_items for r in i.missing_roles})
        other = [i.name for i in open_items if not i.missing_roles]
        parts = [f"sign-off by {', '.join(roles)}"] if roles else []
        parts += [f"{name!r} does not hold" for name in other]
        return Decision(waiting="waiting for " + "; ".join(parts))
    if plan.on_complete and s.completion is None:
        return _do(s, "complete")
    reason = "every step passed"
    if plan.signoff.checklist:
        reason += f" and all {len(items)} checklist items hold"
    return _finish(Phase.COMPLETED, "completed", reason, ExitCode.COMPLETED)


def _rolling_back(plan: model.Plan, s: RolloutState) -> Decision:
    if not s.traffic_restored:
        if s.router_weight not in (None, 0):
            return _do(s, "set_weight", {"weight": 0})
        return _do(s, "rollback")
    if plan.rollback.verify and "rollback.verify" not in s.checks:
        return _do(s, "run_checks", {"group": "rollback.verify"})
    kind = (s.rollback_reason or {}).get("kind")
    if s.incident is None and kind != "preflight_metrics":
        return _do(s, "incident")  # write the incident report and deliver it to the sinks
    reason = (s.rollback_reason or {}).get("reason", "")
    verify = s.checks.get("rollback.verify")
    if verify is not None and not verify.get("passed"):
        reason += "; rollback verification FAILED: stable needs attention"
    if kind == "abort":
        return _finish(Phase.ROLLED_BACK, "aborted", reason, ExitCode.ABORTED)
    if kind == "preflight_metrics":  # the candidate never got traffic: a preflight failure
        return _finish(Phase.FAILED, "preflight_failed", reason, ExitCode.PREFLIGHT_FAILED)
    return _finish(Phase.ROLLED_BACK, "rolled_back", reason, ExitCode.ROLLED_BACK)
