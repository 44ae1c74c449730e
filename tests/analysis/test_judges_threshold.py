"""The ``threshold`` judge: bounds, Argo-style counters, samples and provider errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rollguard.analysis.judges import base, threshold
from rollguard.analysis.judges.threshold import ThresholdJudge


def window(value: float | None, samples: int = 500, error: str | None = None) -> base.Measurement:
    return base.Measurement(value=value, samples=samples, error=error)


def feed(judge: ThresholdJudge, *intervals: base.IntervalData) -> list[str]:
    state = judge.initial_state()
    out = []
    for i in intervals:
        state, v = judge.update(state, i)
        out.append(v.status)
    return out


BAD = base.IntervalData(candidate_window=window(0.02))
GOOD = base.IntervalData(candidate_window=window(0.001))
FEW = base.IntervalData(candidate_window=window(0.5, samples=10))
ERR = base.IntervalData(error="HTTP 503")


@pytest.mark.parametrize(
    ("limit", "intervals", "expected"),
    [
        (0, [GOOD], ["pass"]),
        (0, [BAD], ["fail"]),
        (0, [GOOD, BAD, GOOD], ["pass", "fail", "fail"]),  # failure is final
        (3, [BAD, BAD, BAD, BAD], ["inconclusive"] * 3 + ["fail"]),
        (3, [BAD, GOOD, BAD, GOOD], ["inconclusive"] * 4),  # failures are not forgotten
        (1, [FEW, FEW, BAD], ["inconclusive", "inconclusive", "inconclusive"]),
    ],
)
def test_failure_limit(limit: int, intervals: list[base.IntervalData], expected: list[str]) -> None:
    assert feed(ThresholdJudge(max=0.005, failure_limit=limit), *intervals) == expected


@pytest.mark.parametrize(
    ("limit", "intervals", "expected"),
    [
        (4, [ERR] * 4, ["inconclusive"] * 3 + ["error"]),
        (
            4,
            [ERR, ERR, GOOD, ERR, ERR],
            ["inconclusive", "inconclusive", "pass"] + ["inconclusive"] * 2,
        ),
        (1, [ERR], ["error"]),
        (
            2,
            [base.IntervalData(candidate_window=window(None, 0, "no such metric"))] * 2,
            ["inconclusive", "error"],
        ),
    ],
)
def test_consecutive_errors(
    limit: int, intervals: list[base.IntervalData], expected: list[str]
) -> None:
    assert feed(ThresholdJudge(max=0.005, consecutive_error_limit=limit), *intervals) == expected


def test_too_few_samples_is_inconclusive_with_the_count() -> None:
    _, v = ThresholdJudge(max=0.005).update(ThresholdJudge(max=0.005).initial_state(), FEW)
    assert v.status == "inconclusive"
    assert "10 of 50" in v.reason


def test_ratio_to_baseline_uses_stable_then_snapshot() -> None:
    judge = ThresholdJudge(max_ratio_to_baseline=2)
    state = judge.initial_state()
    same_window = base.IntervalData(candidate_window=window(0.05), stable_window=window(0.02, 1000))
    _, v = judge.update(state, same_window)
    assert v.status == "fail"
    assert v.inputs["threshold"] == pytest.approx(0.04)
    snapshot = base.IntervalData(
        candidate_window=window(0.05), stable_window=window(0.02, 3), baseline=window(0.03, 400)
    )
    _, v = judge.update(state, snapshot)
    assert v.status == "pass"
    assert v.inputs["baseline"] == 0.03
    _, v = judge.update(state, base.IntervalData(candidate_window=window(0.05)))
    assert v.status == "inconclusive"


def test_min_baseline_floor() -> None:
    judge = ThresholdJudge(max_ratio_to_baseline=5, min_baseline=0.001)
    data = base.IntervalData(candidate_window=window(0.004), stable_window=window(0.0001, 5000))
    assert judge.update(judge.initial_state(), data)[1].status == "pass"


def test_breaks_is_the_same_rule_on_arrays() -> None:
    judge = ThresholdJudge(max=0.01, max_ratio_to_baseline=5, min_baseline=0.001)
    values = np.array([0.002, 0.004, 0.02, 0.006])
    baselines = np.array([0.001, 0.0005, 0.001, np.nan])
    got = judge.breaks(values, baseline=baselines)
    assert got.tolist() == [False, False, True, False]
    assert [
        judge.breaks(float(v), baseline=float(b)) for v, b in zip(values, baselines, strict=True)
    ] == got.tolist()


def test_state_round_trips_through_json() -> None:
    judge = ThresholdJudge(max=0.005, failure_limit=2)
    state = judge.initial_state()
    for i in (BAD, ERR, BAD):
        state, _ = judge.update(json.loads(json.dumps(state)), i)
    again, v = judge.update(json.loads(json.dumps(state)), BAD)
    assert v.status == "fail"
    assert again == judge.update(state, BAD)[0]
    assert base.JudgeVerdict.from_dict(json.loads(json.dumps(v.to_dict()))) == v


def test_assess_is_a_function_of_counters() -> None:
    assert threshold.assess(measurements=0, failed=0, failure_limit=0) == "inconclusive"
    assert threshold.assess(measurements=4, failed=4, failure_limit=3) == "fail"


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"max": 1, "failure_limit": -1},
        {"max": 1, "min_samples": 0},
        {"max_ratio_to_baseline": 0},
    ],
)
def test_invalid_parameters(params: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        ThresholdJudge(**params)
