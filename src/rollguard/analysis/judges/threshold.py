"""The ``threshold`` judge: fixed bounds over a window value, with Argo-style counters.

Each interval the judge takes one *measurement*: the candidate's window value (for example
the 5xx ratio over the last minute) compared with

- absolute bounds ``max`` / ``min``;
- a baseline-relative bound ``max_ratio_to_baseline``: the value may not exceed ``ratio x
  max(baseline, min_baseline)``, where the baseline is the stable version over the same
  window, or the snapshot taken before the canary when stable has too few samples there.
  ``min_baseline`` keeps a near-zero baseline from turning every blip into a regression.

Measurements are folded into counters, and the verdict is a pure function of the counters
(:func:`assess`), in the manner of Argo Rollouts' analysis runs:

- ``failure_limit`` (default 0): the judge fails once *more than* ``failure_limit``
  measurements broke a bound, so the default fails on the first broken bound, and
  ``failure_limit: 3`` on the fourth. Broken measurements below the limit are
  ``inconclusive``: they block rollforward, and they are not forgotten by a good one;
- ``consecutive_error_limit`` (default 4): provider errors in a row; the ``limit``-th gives an
  ``error`` verdict (the engine's convention: the streak *reaching* the limit acts);
- ``min_samples`` (default 50): a window with fewer requests is ``inconclusive`` and counts
  neither as a failure nor as a pass.

A failed judge stays failed: failure is terminal, as in Argo.

The bound check, :meth:`ThresholdJudge.breaks`, accepts numpy arrays as well as numbers so
that the detection benchmark runs the very same rule over thousands of simulated rollouts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rollguard.analysis.judges import base

FloatLike = float | npt.NDArray[np.float64]


def assess(
    *, measurements: int, failed: int, failure_limit: int, min_measurements: int = 1
) -> base.Status:
    """The status of a run of measurements, from its counters alone.

    >>> assess(measurements=5, failed=1, failure_limit=0)
    'fail'
    >>> assess(measurements=5, failed=1, failure_limit=3)
    'inconclusive'
    >>> assess(measurements=5, failed=0, failure_limit=3)
    'pass'
    """
    if failed > failure_limit:
        return "fail"
    if failed > 0 or measurements < min_measurements:
        return "inconclusive"
    return "pass"


@dataclass(frozen=True, kw_only=True)
class ThresholdJudge:
    """Absolute and baseline-relative bounds over a window value.

    >>> j = ThresholdJudge(max=0.005)
    >>> s, v = j.update(j.initial_state(), base.IntervalData(
    ...     candidate_window=base.Measurement(value=0.02, samples=400)))
    >>> v.status, v.inputs["threshold"]
    ('fail', 0.005)
    """

    max: float | None = None
    min: float | None = None
    max_ratio_to_baseline: float | None = None
    min_baseline: float = 0.0
    failure_limit: int = 0
    consecutive_error_limit: int = base.DEFAULT_CONSECUTIVE_ERROR_LIMIT
    min_samples: int = 50
    name: str = "threshold"

    def __post_init__(self) -> None:
        if self.max is None and self.min is None and self.max_ratio_to_baseline is None:
            raise ValueError("threshold needs a bound: max, min or max_ratio_to_baseline")
        if self.max_ratio_to_baseline is not None:
            base.check_positive("max_ratio_to_baseline", self.max_ratio_to_baseline)
        base.check_positive("min_baseline", self.min_baseline, allow_zero=True)
        base.check_positive("failure_limit", self.failure_limit, allow_zero=True)
        base.check_positive("consecutive_error_limit", self.consecutive_error_limit)
        base.check_positive("min_samples", self.min_samples)

    def initial_state(self) -> dict[str, Any]:
        return {"measurements": 0, "failed": 0, "inconclusive": 0, "errors_in_a_row": 0}

    def breaks(self, value: FloatLike, *, baseline: FloatLike | None = None) -> Any:
        """Whether ``value`` breaks a bound (element-wise for arrays).

        A missing (``None`` or NaN) baseline never breaks the ratio bound: the caller
        decides what a missing baseline means (:meth:`update` calls it inconclusive).

        >>> ThresholdJudge(max_ratio_to_baseline=5, min_baseline=0.001).breaks(
        ...     0.004, baseline=0.0001)
        False
        """
        out = np.zeros(np.shape(value), dtype=bool)
        if self.max is not None:
            out |= np.greater(value, self.max)
        if self.min is not None:
            out |= np.less(value, self.min)
        if self.max_ratio_to_baseline is not None and baseline is not None:
            limit = self.max_ratio_to_baseline * np.maximum(baseline, self.min_baseline)
            with np.errstate(invalid="ignore"):
                out |= np.greater(value, limit)
        return bool(out) if out.ndim == 0 else out

    def update(
        self, state: dict[str, Any], interval: base.IntervalData
    ) -> tuple[dict[str, Any], base.JudgeVerdict]:
        state = dict(state)
        m = interval.candidate_window or base.Measurement()
        error = interval.error or m.error
        streak, verdict = base.error_streak(state, error, limit=self.consecutive_error_limit)
        state["errors_in_a_row"] = streak
        if self._failed(state):
            return state, self._fail_verdict(state, "failed earlier", {})
        if verdict is not None:
            return state, verdict
        inputs: dict[str, Any] = {"value": m.value, "samples": m.samples}
        if m.value is None or m.samples < self.min_samples:
            state["inconclusive"] += 1
            reason = f"{m.samples} of {self.min_samples} samples needed"
            return state, base.JudgeVerdict("inconclusive", reason, inputs)
        baseline, baseline_samples = self._baseline(interval)
        inputs.update(baseline=baseline, baseline_samples=baseline_samples)
        state["measurements"] += 1
        bound, limit = self._broken_bound(m.value, baseline)
        if bound is not None:
            state["failed"] += 1
            inputs.update(bound=bound, threshold=limit)
            if self._failed(state):
                return state, self._fail_verdict(state, f"{m.value:g} breaks {bound}", inputs)
            reason = (
                f"{m.value:g} breaks {bound}: failure {state['failed']} of "
                f"{self.failure_limit} tolerated"
            )
            return state, base.JudgeVerdict("inconclusive", reason, self._counts(state, inputs))
        if self.max_ratio_to_baseline is not None and baseline is None:
            reason = "no baseline with enough samples for max_ratio_to_baseline"
            return state, base.JudgeVerdict("inconclusive", reason, self._counts(state, inputs))
        status = assess(
            measurements=state["measurements"],
            failed=state["failed"],
            failure_limit=self.failure_limit,
        )
        reason = "within bounds" if status == "pass" else f"{state['failed']} earlier failures"
        return state, base.JudgeVerdict(status, reason, self._counts(state, inputs))

    def _failed(self, state: dict[str, Any]) -> bool:
        return bool(state["failed"] > self.failure_limit)

    def _fail_verdict(
        self, state: dict[str, Any], why: str, inputs: dict[str, Any]
    ) -> base.JudgeVerdict:
        reason = (
            f"{why}; {state['failed']} failing measurements > failure_limit {self.failure_limit}"
        )
        return base.JudgeVerdict("fail", reason, self._counts(state, inputs))

    def _counts(self, state: dict[str, Any], inputs: dict[str, Any]) -> dict[str, Any]:
        return {
            **inputs,
            "measurements": state["measurements"],
            "failed": state["failed"],
            "failure_limit": self.failure_limit,
        }

    def _baseline(self, interval: base.IntervalData) -> tuple[float | None, int]:
        for m in (interval.stable_window, interval.baseline):
            if m and m.value is not None and m.error is None and m.samples >= self.min_samples:
                return m.value, m.samples
        return None, 0

    def _broken_bound(self, value: float, baseline: float | None) -> tuple[str | None, float]:
        if self.max is not None and value > self.max:
            return f"max {self.max:g}", self.max
        if self.min is not None and value < self.min:
            return f"min {self.min:g}", self.min
        if self.max_ratio_to_baseline is not None and baseline is not None:
            limit = self.max_ratio_to_baseline * max(baseline, self.min_baseline)
            if value > limit:
                return f"{self.max_ratio_to_baseline:g}x baseline {baseline:g}", limit
        return None, 0.0


__all__ = ["ThresholdJudge", "assess"]
