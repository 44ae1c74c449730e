"""Each contender run as the engine would run it, interval by interval, over many rollouts.

A contender watches four metrics at once (5xx ratio, persistence-error ratio, p95 and p99
latency) unless its documented default watches fewer, and rolls back at the first interval
where any of them fails. Every function returns, per rollout, the index of the interval at
whose end the rollback happened, or -1.

The project's judges are called through the same code the engine uses
(:meth:`SequentialJudge.step`, :meth:`ThresholdJudge.breaks`, :func:`mann_whitney.compare`),
with numpy arrays over rollouts instead of numbers.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from benchmarks.detection import simulate as sim

from rollguard.analysis.judges import mann_whitney, sequential, threshold

ALPHA = 0.01  # the rollout's false-alarm budget, split over the four metrics


def _first(fired: np.ndarray, now: np.ndarray, t: int) -> None:
    fired[(fired < 0) & now] = t


def run_sequential(tr: sim.Traffic) -> np.ndarray:
    """``sequential`` on all four metrics: errors and slow requests (baseline reference)."""
    fired = np.full(tr.runs, -1)
    counts = [tr.errors["5xx"], tr.errors["persistence"], tr.slow["p95"], tr.slow["p99"]]
    judges = [
        sequential.SequentialJudge(metric=m, alpha=ALPHA, tests=len(counts), reference="baseline")
        for m in ("errors", "errors", "latency", "latency")
    ]
    log_m = [np.zeros((tr.runs, len(j.ratios))) for j in judges]
    seen = np.zeros(tr.runs)
    for t in range(sim.INTERVALS):
        nc, ns = tr.canary[:, t], tr.stable[:, t]
        share = nc / np.maximum(nc + ns, 1)
        seen += nc
        for i, (j, (x, y)) in enumerate(zip(judges, counts, strict=True)):
            log_m[i] = j.step(log_m[i], x[:, t], y[:, t], share)
            crossed = sequential.log_mixture(log_m[i]) >= j.log_threshold
            _first(fired, crossed & (seen >= j.min_samples), t)
    return fired


def _window_ratio(x: np.ndarray, n: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    xs = sim._trailing(x.astype(np.float64), width)
    ns = sim._trailing(n.astype(np.float64), width)
    return xs / np.maximum(ns, 1), ns


def _run_bounds(
    tr: sim.Traffic,
    checks: list[tuple[threshold.ThresholdJudge, np.ndarray, np.ndarray | None, np.ndarray]],
    *,
    every: int,
) -> np.ndarray:
    """Threshold-style checks every ``every`` intervals with Argo-style failure counters.

    ``checks``: (judge, candidate window value, stable window value or None, candidate window
    samples), arrays of shape ``(runs, INTERVALS)``.
    """
    fired = np.full(tr.runs, -1)
    failed = [np.zeros(tr.runs, dtype=int) for _ in checks]
    for t in range(every - 1, sim.INTERVALS, every):
        for i, (judge, value, baseline, samples) in enumerate(checks):
            b = None if baseline is None else baseline[:, t]
            broken = judge.breaks(value[:, t], baseline=b) & (samples[:, t] >= judge.min_samples)
            failed[i] += broken
            _first(fired, failed[i] > judge.failure_limit, t)
    return fired


def run_threshold(tr: sim.Traffic) -> np.ndarray:
    """The seed runbook's triggers as ``threshold`` judges: 5xx > 0.5% or > 5x baseline,
    p95/p99 > 2x baseline; 1-minute windows evaluated every interval, first failure fails."""
    w = sim.PER_MINUTE
    checks = []
    for metric in ("5xx", "persistence"):
        x, y = tr.errors[metric]
        value, samples = _window_ratio(x, tr.canary, w)
        base, _ = _window_ratio(y, tr.stable, w)
        judge = threshold.ThresholdJudge(max=0.005, max_ratio_to_baseline=5, min_baseline=0.001)
        checks.append((judge, value, base, samples))
    _, samples = _window_ratio(tr.canary, tr.canary, w)
    for q in ("p95", "p99"):
        judge = threshold.ThresholdJudge(max_ratio_to_baseline=2)
        checks.append((judge, tr.windows[(q, "candidate")], tr.windows[(q, "stable")], samples))
    return _run_bounds(tr, checks, every=1)


def run_flagger(tr: sim.Traffic) -> np.ndarray:
    """Flagger's defaults: every 1 m, request success rate >= 99% and request duration
    p99 <= 500 ms over a 1 m window; threshold 1 (the first failed check rolls back).
    Flagger's built-in checks watch 5xx and latency only."""
    w = sim.PER_MINUTE
    value, samples = _window_ratio(tr.errors["5xx"][0], tr.canary, w)
    checks = [
        (threshold.ThresholdJudge(max=0.01, min_samples=1), value, None, samples),
        (
            threshold.ThresholdJudge(max=0.5, min_samples=1),
            tr.windows[("p99", "candidate")],
            None,
            samples,
        ),
    ]
    return _run_bounds(tr, checks, every=w)


def run_argo(tr: sim.Traffic) -> np.ndarray:
    """Argo Rollouts' documented analysis example: every 5 m, success rate over 5 m >= 95%,
    failureLimit 3 (the fourth failed measurement aborts). It watches 5xx only."""
    w = 5 * sim.PER_MINUTE
    value, samples = _window_ratio(tr.errors["5xx"][0], tr.canary, w)
    judge = threshold.ThresholdJudge(max=0.05, failure_limit=3, min_samples=1)
    return _run_bounds(tr, [(judge, value, None, samples)], every=w)


def run_mann_whitney(tr: sim.Traffic) -> np.ndarray:
    """``mann_whitney`` as a Kayenta-style periodic report: 1-minute points, a report every
    10 minutes over all points so far (98% confidence, tolerance 0.25, direction increase),
    all four metrics critical (one failing metric rolls back)."""
    w = sim.PER_MINUTE
    ends = np.arange(w - 1, sim.INTERVALS, w)  # the last interval of each minute
    series: list[tuple[np.ndarray, np.ndarray]] = []
    for metric in ("5xx", "persistence"):
        x, y = tr.errors[metric]
        c, _ = _window_ratio(x, tr.canary, w)
        s, _ = _window_ratio(y, tr.stable, w)
        series.append((c[:, ends], s[:, ends]))
    for q in ("p95", "p99"):
        series.append((tr.windows[(q, "candidate")][:, ends], tr.windows[(q, "stable")][:, ends]))
    fired = np.full(tr.runs, -1)
    for points in range(10, len(ends) + 1, 10):
        for c, s in series:
            r = mann_whitney.compare(c[:, :points], s[:, :points])
            _first(fired, r.failed("increase"), int(ends[points - 1]))
    return fired


CONTENDERS: dict[str, Callable[[sim.Traffic], np.ndarray]] = {
    "rollguard `sequential` (alpha 1%, 4 metrics, every 10 s)": run_sequential,
    "rollguard `threshold` (seed triggers, 1 m windows, every 10 s)": run_threshold,
    "rollguard `mann_whitney` (Kayenta-style report every 10 m)": run_mann_whitney,
    "Flagger defaults (1 m, success >= 99%, p99 <= 500 ms, threshold 1)": run_flagger,
    "Argo Rollouts example (5 m, success >= 95%, failureLimit 3)": run_argo,
}
