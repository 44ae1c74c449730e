"""Properties every judge keeps, checked over generated and simulated traffic.

- too few samples is never a verdict other than ``inconclusive`` (hypothesis);
- in A/A rollouts (candidate = stable) a judge with a stated false-alarm rate does not fail
  more often than that rate allows: with a fixed seed, the number of failed rollouts out of
  2,000 stays under the 99.9% binomial quantile for the rate (deterministic given the seed).
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from rollguard.analysis.judges import base
from rollguard.analysis.judges.mann_whitney import MannWhitneyJudge
from rollguard.analysis.judges.sequential import SequentialJudge
from rollguard.analysis.judges.threshold import ThresholdJudge

counts = st.tuples(
    st.integers(0, 10),  # canary requests
    st.integers(0, 10),  # canary errors (may exceed requests: judges must not trust it)
    st.integers(0, 100_000),
    st.integers(0, 10_000),
)
latencies = st.lists(st.floats(1e-5, 100.0), max_size=5).map(tuple)


def interval(c: tuple[int, int, int, int], lat_c: tuple[float, ...] = ()) -> base.IntervalData:
    return base.IntervalData(
        candidate=base.VersionInterval(requests=c[0], errors=c[1], latencies=lat_c),
        stable=base.VersionInterval(requests=c[2], errors=c[3], latencies=(0.01,) * 50),
        baseline=base.Measurement(value=0.02, samples=1000),
    )


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(counts, latencies), min_size=1, max_size=4),
    st.sampled_from(["errors", "latency"]),
)
def test_sequential_is_inconclusive_below_min_samples(
    data: list[tuple[tuple[int, int, int, int], tuple[float, ...]]], metric: str
) -> None:
    judge = SequentialJudge(metric=metric, min_samples=50, reference="baseline", max_step=None)  # type: ignore[arg-type]
    state = judge.initial_state()
    for c, lat in data:  # at most 4 x 10 canary requests (or 4 x 5 latency samples) < 50
        state, v = judge.update(state, interval(c, lat))
        assert v.status == "inconclusive"


@settings(max_examples=150, deadline=None)
@given(st.lists(counts, min_size=1, max_size=9))
def test_mann_whitney_is_inconclusive_below_min_points(
    data: list[tuple[int, int, int, int]],
) -> None:
    judge = MannWhitneyJudge(step=1, min_points=10, every=1)
    state = judge.initial_state()
    for c in data:
        state, v = judge.update(state, interval(c))
        assert v.status == "inconclusive"


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.one_of(st.none(), st.floats(-1e6, 1e6)), st.integers(0, 49)),
        min_size=1,
        max_size=8,
    ),
    st.integers(0, 3),
)
def test_threshold_is_inconclusive_below_min_samples(
    data: list[tuple[float | None, int]], failure_limit: int
) -> None:
    judge = ThresholdJudge(max=0.0, min=0.0, failure_limit=failure_limit, min_samples=50)
    state = judge.initial_state()
    for value, samples in data:
        window = base.Measurement(value=value, samples=samples)
        state, v = judge.update(state, base.IntervalData(candidate_window=window))
        assert v.status == "inconclusive"


RUNS = 2000


def most_failures_allowed(alpha: float) -> int:
    """The 99.9% quantile of Binomial(RUNS, alpha): more failures than this means the
    judge's false-alarm rate is above ``alpha`` (a 1-in-1000 chance of a wrong verdict)."""
    return int(stats.binom.ppf(0.999, RUNS, alpha))


def test_sequential_errors_a_a_fails_at_most_alpha() -> None:
    rng = np.random.default_rng(20240601)
    alpha, intervals = 0.05, 60
    failures = 0
    for _ in range(RUNS):
        judge = SequentialJudge(alpha=alpha, dispersion=1.0, max_step=None)
        state = judge.initial_state()
        # changing weights: the canary's share ramps from 5% to 50%
        for t in range(intervals):
            weight = 0.05 + 0.45 * t / intervals
            n = int(rng.poisson(400))
            nc = int(rng.binomial(n, weight))
            ns = n - nc
            data = base.IntervalData(
                candidate=base.VersionInterval(requests=nc, errors=int(rng.poisson(nc * 0.01))),
                stable=base.VersionInterval(requests=ns, errors=int(rng.poisson(ns * 0.01))),
            )
            state, verdict = judge.update(state, data)
            if verdict.status == "fail":
                failures += 1
                break
    assert failures <= most_failures_allowed(alpha)


def test_sequential_latency_a_a_fails_at_most_alpha() -> None:
    rng = np.random.default_rng(20240602)
    alpha, intervals = 0.05, 25
    failures = 0
    for _ in range(RUNS):
        judge = SequentialJudge(metric="latency", alpha=alpha, min_reference=100, max_step=None)
        state = judge.initial_state()
        for _ in range(intervals):
            lat = rng.lognormal(-3.0, 0.5, size=220)
            data = base.IntervalData(
                candidate=base.VersionInterval(requests=20, latencies=tuple(lat[:20])),
                stable=base.VersionInterval(requests=200, latencies=tuple(lat[20:])),
            )
            state, verdict = judge.update(state, data)
            if verdict.status == "fail":
                failures += 1
                break
    assert failures <= most_failures_allowed(alpha)


def test_mann_whitney_single_report_a_a_fails_at_most_its_level() -> None:
    """One report (no peeking) at 98% confidence: one-sided, so at most 1% false High."""
    rng = np.random.default_rng(20240603)
    failures = 0
    for _ in range(RUNS):
        judge = MannWhitneyJudge(step=1, min_points=20, every=1000, tolerance=0.0)
        state = judge.initial_state()
        for _ in range(20):
            nc, ns = 100, 900
            data = base.IntervalData(
                candidate=base.VersionInterval(requests=nc, errors=int(rng.poisson(nc * 0.05))),
                stable=base.VersionInterval(requests=ns, errors=int(rng.poisson(ns * 0.05))),
            )
            state, verdict = judge.update(state, data)
        failures += verdict.status == "fail"
    assert failures <= most_failures_allowed(0.01)
    assert not math.isnan(failures)
