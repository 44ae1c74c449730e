"""The ``sequential`` judge: regressions fail, clean canaries pass, state resumes exactly."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rollguard.analysis.judges import base, sequential
from rollguard.analysis.judges.sequential import SequentialJudge


def errors(nc: int, xc: int, ns: int, ys: int) -> base.IntervalData:
    return base.IntervalData(
        candidate=base.VersionInterval(requests=nc, errors=xc),
        stable=base.VersionInterval(requests=ns, errors=ys),
    )


def traffic(rng: np.random.Generator, *, factor: float, intervals: int) -> list[base.IntervalData]:
    """Canary at 5% of 1,000 requests per interval, stable 5xx rate 1%."""
    out = []
    for _ in range(intervals):
        nc = int(rng.binomial(1000, 0.05))
        ns = 1000 - nc
        out.append(
            errors(nc, int(rng.poisson(nc * 0.01 * factor)), ns, int(rng.poisson(ns * 0.01)))
        )
    return out


def run(
    judge: SequentialJudge, intervals: list[base.IntervalData]
) -> tuple[dict, base.JudgeVerdict]:
    state = judge.initial_state()
    verdict = base.JudgeVerdict("inconclusive", "nothing yet")
    for i in intervals:
        state, verdict = judge.update(state, i)
    return state, verdict


def test_a_clear_regression_fails_with_its_numbers() -> None:
    _, v = run(SequentialJudge(), traffic(np.random.default_rng(1), factor=10, intervals=40))
    assert v.status == "fail"
    assert v.inputs["rate_ratio"] > 3
    assert v.inputs["log_threshold"] == pytest.approx(math.log(100))
    for key in ("canary_requests", "canary_events", "stable_requests", "stable_events"):
        assert key in v.inputs
    assert "log likelihood ratio reached" in v.reason


def test_a_clean_canary_passes() -> None:
    _, v = run(SequentialJudge(), traffic(np.random.default_rng(2), factor=1, intervals=40))
    assert v.status == "pass"
    assert v.inputs["log_lr"] < v.inputs["log_threshold"]


def test_a_better_canary_passes() -> None:
    _, v = run(SequentialJudge(), traffic(np.random.default_rng(3), factor=0.2, intervals=40))
    assert v.status == "pass"


def test_alpha_is_split_across_tests() -> None:
    assert SequentialJudge(alpha=0.01, tests=4).log_threshold == pytest.approx(math.log(400))


def test_provider_errors_become_an_error_verdict_at_the_limit() -> None:
    judge = SequentialJudge(consecutive_error_limit=3)
    state = judge.initial_state()
    statuses = []
    for _ in range(3):
        state, v = judge.update(state, base.IntervalData(error="connection refused"))
        statuses.append(v.status)
    assert statuses == ["inconclusive", "inconclusive", "error"]
    state, v = judge.update(state, errors(50, 0, 950, 1))
    assert state["errors_in_a_row"] == 0


def test_too_few_canary_samples_is_inconclusive_even_after_a_burst() -> None:
    judge = SequentialJudge(min_samples=200, max_step=None)
    state, v = judge.update(judge.initial_state(), errors(20, 20, 980, 0))
    assert v.status == "inconclusive"
    assert state["rejected"]  # the evidence is kept: once enough samples are in, it fails
    state, v = judge.update(state, errors(200, 0, 800, 1))
    assert v.status == "fail"


def test_state_round_trips_through_json_and_resumes_exactly() -> None:
    data = traffic(np.random.default_rng(4), factor=3, intervals=30)
    judge = SequentialJudge()
    state = judge.initial_state()
    resumed = judge.initial_state()
    for i in data:
        state, v = judge.update(state, i)
        resumed, w = judge.update(json.loads(json.dumps(resumed)), i)
        assert w == v
    assert resumed == state


def test_update_does_not_mutate_its_input() -> None:
    judge = SequentialJudge(metric="latency", min_reference=1)
    state = judge.initial_state()
    frozen = json.dumps(state)
    judge.update(
        state, base.IntervalData(stable=base.VersionInterval(requests=3, latencies=(0.1, 0.2, 0.3)))
    )
    assert json.dumps(state) == frozen


def test_vectorised_step_matches_update() -> None:
    judge = SequentialJudge()
    data = traffic(np.random.default_rng(5), factor=2, intervals=25)
    state, _ = run(judge, data)
    log_m = np.zeros(len(judge.ratios))
    for i in data:
        share = i.candidate.requests / (i.candidate.requests + i.stable.requests)
        log_m = judge.step(log_m, i.candidate.errors, i.stable.errors, share)
    np.testing.assert_allclose(log_m, state["log_m"])


def latency(
    rng: np.random.Generator, *, slow_share: float, nc: int = 60, ns: int = 600
) -> base.IntervalData:
    """Stable lognormal latencies; the canary's tail is made heavier by mixing."""
    stable = rng.lognormal(np.log(0.05), 0.5, size=ns)
    canary = rng.lognormal(np.log(0.05), 0.5, size=nc)
    p95 = 0.05 * math.exp(0.5 * 1.6449)
    slow = rng.random(nc) < max(0.0, slow_share - 0.05) / 0.95
    canary[slow] = p95 * 1.5
    return base.IntervalData(
        candidate=base.VersionInterval(requests=nc, latencies=tuple(canary)),
        stable=base.VersionInterval(requests=ns, latencies=tuple(stable)),
    )


@pytest.mark.parametrize(("slow_share", "expected"), [(0.05, "pass"), (0.20, "fail")])
def test_latency_against_the_stable_p95_seen_so_far(slow_share: float, expected: str) -> None:
    rng = np.random.default_rng(6)
    judge = SequentialJudge(metric="latency")
    state, v = run(judge, [latency(rng, slow_share=slow_share) for _ in range(40)])
    assert v.status == expected
    assert v.inputs["reference_seconds"] == pytest.approx(0.05 * math.exp(0.5 * 1.6449), rel=0.15)
    assert sum(state["histogram"].values()) == 40 * 600


def test_latency_needs_a_reference() -> None:
    judge = SequentialJudge(metric="latency")
    rng = np.random.default_rng(7)
    _, v = judge.update(judge.initial_state(), latency(rng, slow_share=0.5))
    assert v.status == "inconclusive"
    assert v.reason == "no latency reference yet"
    snapshot = base.Measurement(value=0.11, samples=3000)
    data = latency(rng, slow_share=0.5)
    with_baseline = base.IntervalData(
        candidate=data.candidate, stable=data.stable, baseline=snapshot
    )
    _, v = SequentialJudge(metric="latency", reference="baseline").update(
        judge.initial_state(), with_baseline
    )
    assert v.inputs["reference_seconds"] == 0.11


def test_log_increments_without_traffic_on_one_side_are_zero() -> None:
    inc = sequential.log_increments([0, 3], [5, 0], [0.0, 1.0], ratios=np.array([2.0]), ratio0=1.0)
    assert inc.tolist() == [[0.0], [0.0]]


@pytest.mark.parametrize(
    "params",
    [
        {"alpha": 0},
        {"alpha": 1.5},
        {"ratios": (0.5, 2.0)},
        {"dispersion": 0.5},
        {"metric": "cpu"},
        {"tests": 0},
        {"quantile": 1.0},
    ],
)
def test_invalid_parameters(params: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        SequentialJudge(**params)  # type: ignore[arg-type]
