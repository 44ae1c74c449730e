"""Trigger evaluation: one trigger, one observation, one verdict. Pure: no I/O, no clock.

Verdicts have a best-to-worst order, ``pass < inconclusive < error < fail``, and a set of
verdicts is as bad as its worst member. Two rules keep a rollout honest:

- too few samples is ``inconclusive``: it blocks rollforward and never counts as a pass;
- a provider error is ``error``: never a pass, and counted toward the plan's
  ``consecutive_error_limit``.

A ratio bound (``max_ratio_to_baseline``) compares the candidate with the stable version over
the same window; when stable has too few samples there (the candidate takes most of the
traffic), it falls back to the value measured in the baseline phase.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal

from rollguard.metric_format import format_value
from rollguard.plan import model

Status = Literal["pass", "inconclusive", "error", "fail"]
ORDER: dict[str, int] = {"pass": 0, "inconclusive": 1, "error": 2, "fail": 3}


@dataclass(frozen=True)
class Verdict:
    """The outcome of one trigger over one observation, with the numbers behind it."""

    trigger: str
    metric: str
    status: Status
    reason: str
    value: float | None = None
    samples: int = 0
    baseline: float | None = None
    baseline_samples: int = 0
    bound: str | None = None  # the condition that fired, e.g. "max_ratio_to_baseline: 5"
    threshold: float | None = None  # the effective limit the value was compared with
    unit: str = ""  # how value/baseline read (a metric query); "" means the metric's own

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        return cls(**data)


def worst(statuses: list[Status]) -> Status:
    """The worst status of a set (``pass`` for an empty set)."""
    return max(statuses, key=lambda s: ORDER[s], default="pass")


def _value(m: dict[str, Any] | None) -> tuple[float | None, int, str | None]:
    if not m:
        return None, 0, "no measurement"
    return m.get("value"), int(m.get("samples") or 0), m.get("error")


def evaluate(
    trigger: model.Trigger,
    *,
    metric: model.MetricSpec,
    candidate: dict[str, Any] | None,
    stable: dict[str, Any] | None,
    baseline: dict[str, Any] | None,
    min_samples: int,
) -> Verdict:
    """Judge one trigger.

    >>> from rollguard.plan.model import Trigger, BuiltinMetric
    >>> t = Trigger(name="5xx", metric="e", max=0.005)
    >>> evaluate(t, metric=BuiltinMetric(query="error_ratio"),
    ...          candidate={"value": 0.02, "samples": 400}, stable=None, baseline=None,
    ...          min_samples=50).status
    'fail'
    """
    need = trigger.min_samples or min_samples
    value, samples, error = _value(candidate)

    def fmt(v: float | None) -> str:
        return format_value(metric.query, v)

    v = Verdict(
        trigger=trigger.name,
        metric=trigger.metric,
        status="pass",
        reason="within bounds",
        value=value,
        samples=samples,
    )
    if error:
        return replace(v, status="error", reason=f"provider error: {error}")
    if value is None or samples < need:
        return replace(v, status="inconclusive", reason=f"{samples} of {need} samples needed")
    base_value, base_samples = _baseline(stable, baseline, need)
    v = replace(v, baseline=base_value, baseline_samples=base_samples)
    inconclusive: str | None = None
    for cond in trigger.conditions():
        if cond.max is not None and value > cond.max:
            return replace(
                v,
                status="fail",
                bound=f"max: {fmt(cond.max)}",
                threshold=cond.max,
                reason=f"{trigger.metric} {fmt(value)} > max {fmt(cond.max)}",
            )
        if cond.min is not None and value < cond.min:
            return replace(
                v,
                status="fail",
                bound=f"min: {fmt(cond.min)}",
                threshold=cond.min,
                reason=f"{trigger.metric} {fmt(value)} < min {fmt(cond.min)}",
            )
        if cond.max_ratio_to_baseline is not None:
            if base_value is None:
                inconclusive = "no baseline with enough samples"
                continue
            floor = max(base_value, trigger.min_baseline)
            limit = cond.max_ratio_to_baseline * floor
            if value > limit:
                ratio = cond.max_ratio_to_baseline
                return replace(
                    v,
                    status="fail",
                    bound=f"max_ratio_to_baseline: {ratio:g}",
                    threshold=limit,
                    reason=(
                        f"{trigger.metric} {fmt(value)} > {ratio:g}x baseline {fmt(floor)} "
                        f"(= {fmt(limit)})"
                    ),
                )
    if inconclusive:
        return replace(v, status="inconclusive", reason=inconclusive)
    return v


def _baseline(
    stable: dict[str, Any] | None, snapshot: dict[str, Any] | None, need: int
) -> tuple[float | None, int]:
    value, samples, error = _value(stable)
    if value is not None and not error and samples >= need:
        return value, samples
    value, samples, error = _value(snapshot)
    if value is not None and not error and samples >= need:
        return value, samples
    return None, 0
