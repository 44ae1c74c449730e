"""Statistical judges inside the engine's decisions. Pure: no I/O, no clock.

A trigger with ``judge: threshold`` (the default) is judged by :mod:`rollguard.analysis.assess`
on the window's values. Any other judge (``sequential``, ``mann_whitney``, a plugin) is fed one
*interval* per observation: the request, error and latency counts of each version since the
previous observation, which the runner reads from the backend's router. The judge's running
state is written into each ``analysis`` event, so a resumed controller continues the test
exactly where it stopped.

Defaults the engine fills in (a trigger's ``params`` override them): the metric kind from the
metric's query (``error_ratio`` -> errors, ``p50``/``p95``/``p99`` -> latency at that
quantile), the rollout's false-alarm budget ``analysis.alpha`` split evenly across the
statistical triggers (``tests``), ``min_samples`` and ``consecutive_error_limit`` from the
trigger or ``analysis``.
"""

from __future__ import annotations

from typing import Any

from rollguard.analysis.assess import Verdict
from rollguard.analysis.judges import base, registry
from rollguard.plan import model
from rollguard.plugin import PluginLoadError, UnknownKind

QUANTILES = {"p50": 0.5, "p95": 0.95, "p99": 0.99}


def statistical(plan: model.Plan) -> list[model.Trigger]:
    """Triggers judged by something other than fixed bounds."""
    return [t for t in plan.triggers if t.judge != "threshold"]


def params_for(plan: model.Plan, trigger: model.Trigger) -> dict[str, Any]:
    """The judge's parameters: engine defaults, then the trigger's own ``params``."""
    query = getattr(plan.metrics[trigger.metric], "query", "")
    latency = query in QUANTILES
    defaults: dict[str, Any] = {
        "consecutive_error_limit": plan.analysis.consecutive_error_limit,
    }
    if trigger.judge == "sequential":
        defaults |= {
            "metric": "latency" if latency else "errors",
            "alpha": plan.analysis.alpha,
            "tests": max(1, len(statistical(plan))),
            "min_samples": trigger.min_samples or plan.analysis.min_samples,
        }
        if latency:
            defaults["quantile"] = QUANTILES[query]
    elif trigger.judge == "mann_whitney":
        defaults["metric"] = "latency" if latency else "error_ratio"
        if latency:
            defaults["quantile"] = QUANTILES[query]
    return defaults | dict(trigger.params)


def build(plan: model.Plan, trigger: model.Trigger) -> base.Judge:
    """The judge of a statistical trigger."""
    return registry.build(trigger.judge, params_for(plan, trigger))


def plan_rule(plan: model.Plan) -> list[tuple[str, str]]:
    """Load-time check: every statistical trigger names an installed judge with valid params."""
    issues = []
    for i, trigger in enumerate(plan.triggers):
        if trigger.judge == "threshold":
            continue
        try:
            build(plan, trigger)
        except (UnknownKind, PluginLoadError) as exc:
            issues.append((f"triggers[{i}].judge", str(exc)))
        except (TypeError, ValueError) as exc:
            issues.append((f"triggers[{i}].params", f"invalid judge parameters: {exc}"))
    return issues


def _bound(plan: model.Plan, trigger: model.Trigger) -> str:
    params = params_for(plan, trigger)
    what = "slow requests" if params.get("metric") == "latency" else "errors"
    ratio = params.get("ratio", 1)
    alpha = params.get("alpha")
    budget = f", alpha {alpha / params.get('tests', 1):.3g}" if alpha else ""
    return f"{trigger.judge}: share of {what} above {ratio:g}x stable's{budget}"


def describe_bounds(plan: model.Plan, trigger: model.Trigger) -> str:
    """``sequential: candidate's errors > 5x stable's`` for a statistical trigger."""
    params = params_for(plan, trigger)
    what = "slow requests" if params.get("metric") in ("latency",) else "errors"
    return f"{trigger.judge}: {what} > {params.get('ratio', 1):g}x stable"


def _version(counts: dict[str, Any] | None) -> base.VersionInterval:
    counts = counts or {}
    return base.VersionInterval(
        requests=int(counts.get("requests", 0)),
        errors=int(counts.get("errors", 0)),
        latencies=tuple(counts.get("latencies", ())),
    )


def interval_data(observation: dict[str, Any]) -> base.IntervalData:
    """The judges' view of one observation's interval counts."""
    intervals = observation.get("intervals")
    if not intervals:
        return base.IntervalData(
            error="no request counts: statistical judges need a backend with a router"
        )
    return base.IntervalData(
        candidate=_version(intervals.get("candidate")),
        stable=_version(intervals.get("stable")),
        error=intervals.get("error"),
    )


def judge(
    plan: model.Plan,
    trigger: model.Trigger,
    *,
    state: dict[str, Any] | None,
    observation: dict[str, Any],
) -> tuple[dict[str, Any], Verdict]:
    """Feed one observation to a statistical trigger's judge: its new state and verdict."""
    j = build(plan, trigger)
    new_state, v = j.update(
        state if state is not None else j.initial_state(), interval_data(observation)
    )
    inputs = v.inputs
    requests = int(inputs.get("canary_requests", 0) or 0)
    events = inputs.get("canary_events")
    stable_requests = int(inputs.get("stable_requests", 0) or 0)
    stable_events = inputs.get("stable_events")
    verdict = Verdict(
        trigger=trigger.name,
        metric=trigger.metric,
        status=v.status,
        reason=f"{trigger.judge}: {v.reason}",
        value=(events / requests) if requests and events is not None else None,
        samples=requests,
        baseline=(stable_events / stable_requests)
        if stable_requests and stable_events is not None
        else None,
        baseline_samples=stable_requests,
        bound=_bound(plan, trigger),
        threshold=inputs.get("log_threshold"),
        unit="error_ratio",  # shares of requests (errors, or slower than stable's quantile)
    )
    return new_state, verdict
