"""The ``mann_whitney`` judge and a Kayenta-style periodic report over many metrics.

**One metric.** The candidate's and the stable version's values of a metric, one value per
*point* (``step`` analysis intervals: the error ratio of those requests, or their latency
``quantile``), are compared with the Mann-Whitney U test (rank sum, :func:`scipy.stats.
mannwhitneyu`) and the Hodges-Lehmann estimate of the shift between them, with its
``confidence`` interval (98% by default) from the normal approximation of U over the sorted
pairwise differences. The semantics follow Kayenta's classifier:

- the metric is ``high`` when the whole confidence interval of the shift lies above
  ``+tolerance x |mean of stable|`` (``tolerance`` 0.25: an effect band of 25% of the stable
  level), ``low`` when it lies below ``-tolerance x |mean|``, ``pass`` otherwise -- a
  significant but small shift is not a regression;
- ``direction`` says which change is bad: ``increase`` (default: latency, errors),
  ``decrease`` (throughput) or ``either``; a change the other way passes;
- ``nan_strategy``: ``remove`` drops points without a value (no requests), ``replace``
  counts them as 0;
- ``critical: true`` marks a metric whose failure fails the whole report.

The test runs every ``every`` points once ``min_points`` points exist, each time over all
points so far. A fixed-sample test re-run like this inflates false alarms (each run is
another chance); that is why it is meant for a *periodic report*, not for per-interval
triggers -- the ``sequential`` judge is the one safe to check at every interval. A fail is
final, as a failed canary analysis is.

**Many metrics.** :func:`report` scores a set of classifications as Kayenta does: the share of
metrics that pass, in percent; the report passes at ``pass_threshold`` (95), is *marginal*
(``inconclusive``) from ``marginal_threshold`` (75), and fails below it or when a critical
metric fails.

:func:`compare` works on numpy arrays with leading batch axes, so the benchmark runs the very
same classification over thousands of simulated rollouts at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from scipy import special, stats  # type: ignore[import-untyped]

from rollguard.analysis.judges import base

Array = npt.NDArray[np.float64]
Direction = Literal["increase", "decrease", "either"]
Classification = Literal["high", "low", "pass", "nodata"]
_ALTERNATIVE = {"increase": "greater", "decrease": "less", "either": "two-sided"}


@dataclass(frozen=True)
class Comparison:
    """Element-wise results of :func:`compare` (arrays over the batch axes)."""

    p_value: Array
    estimate: Array  # Hodges-Lehmann shift, candidate - stable
    lower: Array
    upper: Array
    band: Array  # tolerance x |mean of stable|
    high: npt.NDArray[np.bool_]
    low: npt.NDArray[np.bool_]

    def failed(self, direction: Direction) -> npt.NDArray[np.bool_]:
        """Where the shift is a regression in the direction that is bad."""
        out = np.zeros(self.high.shape, dtype=bool)
        if direction in ("increase", "either"):
            out |= self.high
        if direction in ("decrease", "either"):
            out |= self.low
        return out


def compare(
    canary: Any,
    stable: Any,
    *,
    confidence: float = 0.98,
    tolerance: float = 0.25,
    direction: Direction = "increase",
) -> Comparison:
    """Classify candidate against stable values along the last axis (no NaN inside).

    >>> c = compare([3.0, 3.1, 2.9, 3.2, 3.0, 3.1], [1.0, 1.1, 0.9, 1.0, 1.2, 1.1])
    >>> bool(c.high), bool(c.failed("increase")), bool(c.failed("decrease"))
    (True, True, False)
    """
    x = np.asarray(canary, dtype=np.float64)
    y = np.asarray(stable, dtype=np.float64)
    n, m = x.shape[-1], y.shape[-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        p = stats.mannwhitneyu(
            x, y, alternative=_ALTERNATIVE[direction], axis=-1, method="asymptotic"
        ).pvalue
    diffs = np.sort((x[..., :, None] - y[..., None, :]).reshape(*x.shape[:-1], n * m), axis=-1)
    z = float(special.ndtri(1 - (1 - confidence) / 2))
    k = math.floor(n * m / 2 - z * math.sqrt(n * m * (n + m + 1) / 12))
    k = min(max(k, 0), (n * m - 1) // 2)
    lower, upper = diffs[..., k], diffs[..., n * m - 1 - k]
    estimate = np.median(diffs, axis=-1)
    band = tolerance * np.abs(np.mean(y, axis=-1))
    return Comparison(
        p_value=np.asarray(p, dtype=np.float64),
        estimate=estimate,
        lower=lower,
        upper=upper,
        band=band,
        high=lower > band,
        low=upper < -band,
    )


@dataclass(frozen=True)
class MetricResult:
    """One metric's classification, ready for :func:`report`."""

    name: str
    classification: Classification
    critical: bool = False
    direction: Direction = "increase"
    inputs: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        bad = {"increase": ("high",), "decrease": ("low",), "either": ("high", "low")}
        return self.classification in bad[self.direction]


def classify(
    name: str,
    canary: Sequence[float | None],
    stable: Sequence[float | None],
    *,
    direction: Direction = "increase",
    confidence: float = 0.98,
    tolerance: float = 0.25,
    nan_strategy: Literal["remove", "replace"] = "remove",
    critical: bool = False,
) -> MetricResult:
    """Classify one metric from its two series of values.

    >>> classify("p95", [0.3, 0.31, 0.29, 0.3], [0.1, 0.11, 0.09, 0.1]).classification
    'high'
    """
    c, s = _clean(canary, nan_strategy), _clean(stable, nan_strategy)
    if not c or not s:
        return MetricResult(
            name,
            "nodata",
            critical=critical,
            direction=direction,
            inputs={"points": [len(c), len(s)]},
        )
    r = compare(c, s, confidence=confidence, tolerance=tolerance, direction=direction)
    label: Classification = "high" if bool(r.high) else "low" if bool(r.low) else "pass"
    inputs = {
        "points": [len(c), len(s)],
        "p_value": float(r.p_value),
        "shift": float(r.estimate),
        "interval": [float(r.lower), float(r.upper)],
        "band": float(r.band),
        "confidence": confidence,
    }
    return MetricResult(name, label, critical=critical, direction=direction, inputs=inputs)


@dataclass(frozen=True)
class Report:
    """The periodic report: a score and a status over many metrics."""

    score: float
    status: base.Status
    reason: str
    metrics: tuple[MetricResult, ...]


def report(
    results: Sequence[MetricResult],
    *,
    pass_threshold: float = 95.0,
    marginal_threshold: float = 75.0,
) -> Report:
    """Score metrics as Kayenta does: percent passing; a failed critical metric fails all.

    >>> r = report([MetricResult("a", "pass"), MetricResult("b", "high")])
    >>> r.score, r.status
    (50.0, 'fail')
    """
    judged = [r for r in results if r.classification != "nodata"]
    if not judged:
        return Report(0.0, "inconclusive", "no metric has data", tuple(results))
    failed = [r.name for r in judged if r.failed]
    score = 100.0 * (len(judged) - len(failed)) / len(judged)
    critical = [r.name for r in judged if r.failed and r.critical]
    if critical:
        return Report(0.0, "fail", f"critical metric failed: {', '.join(critical)}", tuple(results))
    status: base.Status = (
        "pass"
        if score >= pass_threshold
        else "inconclusive"
        if score >= marginal_threshold
        else "fail"
    )
    why = f"score {score:.0f} (pass {pass_threshold:g}, marginal {marginal_threshold:g})"
    if failed:
        why += f"; failed: {', '.join(failed)}"
    return Report(score, status, why, tuple(results))


@dataclass(frozen=True, kw_only=True)
class MannWhitneyJudge:
    """One metric, candidate against stable, tested every ``every`` points.

    >>> j = MannWhitneyJudge(metric="error_ratio", step=1, min_points=5, every=1)
    >>> s = j.initial_state()
    >>> for i in range(5):
    ...     s, v = j.update(s, base.IntervalData(
    ...         candidate=base.VersionInterval(requests=100, errors=5 + i % 2),
    ...         stable=base.VersionInterval(requests=100, errors=i % 2)))
    >>> v.status
    'fail'
    """

    metric: Literal["error_ratio", "latency"] = "error_ratio"
    quantile: float = 0.95
    step: int = 6
    min_points: int = 10
    every: int = 10
    confidence: float = 0.98
    tolerance: float = 0.25
    direction: Direction = "increase"
    nan_strategy: Literal["remove", "replace"] = "remove"
    critical: bool = False
    consecutive_error_limit: int = base.DEFAULT_CONSECUTIVE_ERROR_LIMIT
    name: str = "mann_whitney"

    def __post_init__(self) -> None:
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence must be in (0, 1), got {self.confidence!r}")
        if not 0 < self.quantile < 1:
            raise ValueError(f"quantile must be in (0, 1), got {self.quantile!r}")
        if self.min_points < 2:
            raise ValueError("min_points must be >= 2")
        for name in ("step", "every", "consecutive_error_limit"):
            base.check_positive(name, getattr(self, name))
        base.check_positive("tolerance", self.tolerance, allow_zero=True)

    def initial_state(self) -> dict[str, Any]:
        return {
            "pending": _empty_pending(),
            "canary": [],
            "stable": [],
            "last": None,
            "errors_in_a_row": 0,
        }

    def update(
        self, state: dict[str, Any], interval: base.IntervalData
    ) -> tuple[dict[str, Any], base.JudgeVerdict]:
        state = {**state, "canary": list(state["canary"]), "stable": list(state["stable"])}
        streak, verdict = base.error_streak(
            state, interval.error, limit=self.consecutive_error_limit
        )
        state["errors_in_a_row"] = streak
        last = state["last"]
        if last is not None and last["status"] == "fail":
            return state, base.JudgeVerdict.from_dict(last)
        if verdict is not None:
            return state, verdict
        pending = _add(state["pending"], interval)
        if pending["intervals"] >= self.step:
            state["canary"].append(self._point(pending, "candidate"))
            state["stable"].append(self._point(pending, "stable"))
            pending = _empty_pending()
            points = len(state["canary"])
            if points >= self.min_points and (points - self.min_points) % self.every == 0:
                state["last"] = self._test(state).to_dict()
        state["pending"] = pending
        if state["last"] is None:
            reason = f"{len(state['canary'])} of {self.min_points} points needed"
            return state, base.JudgeVerdict(
                "inconclusive", reason, {"points": len(state["canary"])}
            )
        return state, base.JudgeVerdict.from_dict(state["last"])

    def _point(self, pending: dict[str, Any], version: str) -> float | None:
        v = pending[version]
        if self.metric == "error_ratio":
            return v["errors"] / v["requests"] if v["requests"] else None
        lat = sorted(v["latencies"])
        if not lat:
            return None
        return float(lat[max(0, math.ceil(self.quantile * len(lat)) - 1)])  # nearest rank

    def _test(self, state: dict[str, Any]) -> base.JudgeVerdict:
        r = classify(
            self.metric,
            state["canary"],
            state["stable"],
            direction=self.direction,
            confidence=self.confidence,
            tolerance=self.tolerance,
            nan_strategy=self.nan_strategy,
            critical=self.critical,
        )
        inputs = {**r.inputs, "classification": r.classification, "critical": self.critical}
        if r.classification == "nodata":
            return base.JudgeVerdict("inconclusive", "no points with data", inputs)
        lo, hi = inputs["interval"]
        what = (
            f"shift {inputs['shift']:.4g} ({self.confidence:.0%} interval {lo:.4g}..{hi:.4g}), "
            f"band +-{inputs['band']:.4g}, p={inputs['p_value']:.3g}"
        )
        if r.failed:
            return base.JudgeVerdict("fail", f"{self.metric} {r.classification}: {what}", inputs)
        return base.JudgeVerdict("pass", f"{self.metric} {r.classification}: {what}", inputs)


def _empty_pending() -> dict[str, Any]:
    return {
        "intervals": 0,
        "candidate": {"requests": 0, "errors": 0, "latencies": []},
        "stable": {"requests": 0, "errors": 0, "latencies": []},
    }


def _add(pending: dict[str, Any], interval: base.IntervalData) -> dict[str, Any]:
    out: dict[str, Any] = {"intervals": pending["intervals"] + 1}
    for version, v in (("candidate", interval.candidate), ("stable", interval.stable)):
        p = pending[version]
        out[version] = {
            "requests": p["requests"] + v.requests,
            "errors": p["errors"] + v.errors,
            "latencies": [*p["latencies"], *v.latencies],
        }
    return out


def _clean(values: Sequence[float | None], strategy: str) -> list[float]:
    out = []
    for v in values:
        if v is None or math.isnan(v):
            if strategy == "replace":
                out.append(0.0)
            continue
        out.append(float(v))
    return out


__all__ = [
    "Comparison",
    "MannWhitneyJudge",
    "MetricResult",
    "Report",
    "classify",
    "compare",
    "report",
]
