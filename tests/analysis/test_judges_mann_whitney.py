"""The ``mann_whitney`` judge and the Kayenta-style report."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rollguard.analysis.judges import base, mann_whitney
from rollguard.analysis.judges.mann_whitney import MannWhitneyJudge, MetricResult, classify, report


def interval(rng: np.random.Generator, *, canary_scale: float = 1.0) -> base.IntervalData:
    return base.IntervalData(
        candidate=base.VersionInterval(
            requests=50, latencies=tuple(rng.lognormal(np.log(0.05 * canary_scale), 0.3, 50))
        ),
        stable=base.VersionInterval(
            requests=950, latencies=tuple(rng.lognormal(np.log(0.05), 0.3, 950))
        ),
    )


def run(
    judge: MannWhitneyJudge, data: list[base.IntervalData]
) -> tuple[dict, list[base.JudgeVerdict]]:
    state, verdicts = judge.initial_state(), []
    for i in data:
        state, v = judge.update(state, i)
        verdicts.append(v)
    return state, verdicts


LATENCY = MannWhitneyJudge(metric="latency", step=2, min_points=10, every=5)


def test_a_clear_latency_regression_fails() -> None:
    rng = np.random.default_rng(1)
    _, verdicts = run(LATENCY, [interval(rng, canary_scale=2.0) for _ in range(20)])
    assert [v.status for v in verdicts[:19]] == ["inconclusive"] * 19
    assert verdicts[19].status == "fail"
    assert verdicts[19].inputs["classification"] == "high"
    assert verdicts[19].inputs["interval"][0] > verdicts[19].inputs["band"]


def test_a_clean_canary_passes_and_a_small_shift_is_within_tolerance() -> None:
    rng = np.random.default_rng(2)
    for scale in (1.0, 1.1):
        _, verdicts = run(LATENCY, [interval(rng, canary_scale=scale) for _ in range(30)])
        assert verdicts[-1].status == "pass", scale


def test_direction_decides_which_change_is_bad() -> None:
    faster = [0.5, 0.52, 0.49, 0.51, 0.5, 0.53]
    slower = [1.0, 1.1, 0.9, 1.0, 1.05, 0.95]
    assert classify("rps", faster, slower, direction="increase").failed is False
    assert classify("rps", faster, slower, direction="decrease").failed is True
    assert classify("rps", faster, slower, direction="either").failed is True


def test_nan_strategies() -> None:
    canary = [0.01, None, 0.012, float("nan"), 0.011]
    assert classify("e", canary, [0.01] * 5).inputs["points"] == [3, 5]
    assert classify("e", canary, [0.01] * 5, nan_strategy="replace").inputs["points"] == [5, 5]
    assert classify("e", [None], [0.01]).classification == "nodata"


def test_compare_is_batched() -> None:
    rng = np.random.default_rng(3)
    canary = rng.normal(1.0, 0.1, size=(4, 20)) + np.array([[0.0], [1.0], [0.0], [1.0]])
    stable = rng.normal(1.0, 0.1, size=(4, 20))
    r = mann_whitney.compare(canary, stable)
    assert r.failed("increase").tolist() == [False, True, False, True]
    single = mann_whitney.compare(canary[1], stable[1])
    assert float(single.lower) == pytest.approx(float(r.lower[1]))


@pytest.mark.parametrize(
    ("results", "score", "status"),
    [
        ([MetricResult("a", "pass")] * 20, 100.0, "pass"),
        ([MetricResult("a", "pass")] * 19 + [MetricResult("b", "high")], 95.0, "pass"),
        ([MetricResult("a", "pass")] * 4 + [MetricResult("b", "high")], 80.0, "inconclusive"),
        ([MetricResult("a", "pass")] * 3 + [MetricResult("b", "high", critical=True)], 0.0, "fail"),
        ([MetricResult("a", "pass"), MetricResult("b", "low")], 100.0, "pass"),  # low is fine
        ([MetricResult("a", "pass"), MetricResult("b", "high")], 50.0, "fail"),
        ([MetricResult("a", "nodata")], 0.0, "inconclusive"),
    ],
)
def test_report_scores_like_kayenta(results: list[MetricResult], score: float, status: str) -> None:
    r = report(results)
    assert (r.score, r.status) == (score, status)


def test_errors_become_an_error_verdict_at_the_limit() -> None:
    judge = MannWhitneyJudge(consecutive_error_limit=2)
    _, verdicts = run(judge, [base.IntervalData(error="timeout")] * 2)
    assert [v.status for v in verdicts] == ["inconclusive", "error"]


def test_state_round_trips_through_json() -> None:
    rng = np.random.default_rng(4)
    data = [interval(rng, canary_scale=1.5) for _ in range(24)]
    state, verdicts = run(LATENCY, data)
    resumed = LATENCY.initial_state()
    for i, expected in zip(data, verdicts, strict=True):
        resumed, v = LATENCY.update(json.loads(json.dumps(resumed)), i)
        assert v == expected
    assert resumed == json.loads(json.dumps(state))


def test_error_ratio_points() -> None:
    judge = MannWhitneyJudge(step=1, min_points=5, every=1)
    data = [
        base.IntervalData(
            candidate=base.VersionInterval(requests=100, errors=k % 2),
            stable=base.VersionInterval(requests=1000, errors=5 + k % 3),
        )
        for k in range(5)
    ]
    state, verdicts = run(judge, data)
    assert state["canary"] == [0.0, 0.01, 0.0, 0.01, 0.0]
    assert verdicts[-1].status == "pass"


@pytest.mark.parametrize(
    "params", [{"confidence": 1.0}, {"min_points": 1}, {"step": 0}, {"tolerance": -1}]
)
def test_invalid_parameters(params: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        MannWhitneyJudge(**params)  # type: ignore[arg-type]
