"""The decision benchmark: how soon each judge rolls back a bad canary, how often a good one.

Run it from the repository root::

    python -m benchmarks.detection             # 10,000 rollouts per scenario (a few minutes)
    python -m benchmarks.detection --runs 1000 # a quick look

Every scenario (A/A, 5x 5xx, 20x 5xx, p95 latency) is simulated with Poisson and with
overdispersed traffic (:mod:`benchmarks.detection.simulate`), and every contender
(:mod:`benchmarks.detection.contenders`) judges the same simulated rollouts. The table gives,
per contender, the false rollback rate over the A/A rollouts with its 95% Wilson interval, and
the median and 90th percentile of the canary requests served before the rollback (and the
seconds since the first canary request). A rollout that is not rolled back within the 30-minute
step counts as never detected; when more than half (or a tenth) of them are, the median (or p90)
reads "not reached".
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time

import numpy as np
from benchmarks.detection import contenders
from benchmarks.detection import simulate as sim

REGRESSIONS = ["5x 5xx", "20x 5xx", "p95 latency (10% > stable p95)"]
CHUNK = 2500  # rollouts simulated at once (bounds memory)


def wilson(k: int, n: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion ``k / n``."""
    if n == 0:
        return 0.0, 1.0
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def measure(
    scenario: sim.Scenario, *, runs: int, seed: int, host_shape: float
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per contender: canary requests and seconds at the rollback (inf when none)."""
    out: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {k: [] for k in contenders.CONTENDERS}
    seeds = np.random.SeedSequence(seed).spawn(math.ceil(runs / CHUNK))
    for i, ss in enumerate(seeds):
        n = min(CHUNK, runs - i * CHUNK)
        tr = sim.simulate(
            scenario, runs=n, seed=int(ss.generate_state(1)[0]), host_shape=host_shape
        )
        served = np.cumsum(tr.canary, axis=1)
        for name, run in contenders.CONTENDERS.items():
            fired = run(tr)
            hit = fired >= 0
            at = np.maximum(fired, 0)
            requests = np.where(hit, served[np.arange(n), at], np.inf)
            seconds = np.where(hit, (at + 1) * sim.INTERVAL, np.inf)
            out[name].append((requests, seconds))
    return {
        k: (np.concatenate([r for r, _ in v]), np.concatenate([s for _, s in v]))
        for k, v in out.items()
    }


def _cell(requests: np.ndarray, seconds: np.ndarray, q: float) -> str:
    r = float(np.quantile(requests, q, method="inverted_cdf"))
    s = float(np.quantile(seconds, q, method="inverted_cdf"))
    if not math.isfinite(r):
        return f"not reached ({np.isfinite(requests).mean():.0%} detected)"
    return f"{r:,.0f} ({s:,.0f} s)"


def table(results: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]]) -> list[str]:
    head = "| judge | false rollback, A/A [95% CI] |"
    rule = "|---|---|"
    for reg in REGRESSIONS:
        head += f" {reg}: median | {reg}: p90 |"
        rule += "---|---|"
    lines = [head, rule]
    for name in contenders.CONTENDERS:
        req, _ = results["A/A"][name]
        k, n = int(np.isfinite(req).sum()), len(req)
        lo, hi = wilson(k, n)
        row = f"| {name} | {k / n:.2%} [{lo:.2%}, {hi:.2%}] ({k}/{n}) |"
        for reg in REGRESSIONS:
            r, s = results[reg][name]
            row += f" {_cell(r, s, 0.5)} | {_cell(r, s, 0.9)} |"
        lines.append(row)
    return lines


def targets(results: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]], label: str) -> list[str]:
    """The issue's targets, checked on the ``sequential`` row."""
    name = next(iter(contenders.CONTENDERS))
    req = results["A/A"][name][0]
    _, hi = wilson(int(np.isfinite(req).sum()), len(req))

    def q(reg: str, p: float) -> float:
        return float(np.quantile(results[reg][name][0], p, method="inverted_cdf"))

    checks = [
        ("false rollback <= 1% (upper 95% bound)", hi, 0.01, f"{hi:.2%}"),
        ("5x 5xx median <= 3,000 requests", q("5x 5xx", 0.5), 3000, None),
        ("5x 5xx p90 <= 6,000 requests", q("5x 5xx", 0.9), 6000, None),
        ("20x 5xx median <= 500 requests", q("20x 5xx", 0.5), 500, None),
        ("p95 latency median <= 600 requests", q(REGRESSIONS[2], 0.5), 600, None),
    ]
    out = []
    for what, value, limit, shown in checks:
        ok = value <= limit
        shown = shown or (f"{value:,.0f}" if math.isfinite(value) else "not reached")
        out.append(f"- {label}, {what}: {shown} -> {'met' if ok else 'NOT met'}")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.detection", description=__doc__)
    parser.add_argument("--runs", type=int, default=10_000, help="rollouts per scenario")
    parser.add_argument("--seed", type=int, default=1, help="seed of the whole benchmark")
    parser.add_argument(
        "--host-shape",
        type=float,
        default=sim.HOST_SHAPE,
        help="Gamma shape of per-host per-minute error shocks in overdispersed traffic",
    )
    args = parser.parse_args(argv)
    started = time.perf_counter()
    print(f"# Detection benchmark: {args.runs:,} rollouts per scenario, seed {args.seed}\n")
    print(
        f"Canary weight {sim.WEIGHT:.0%} of {sim.RATE:g} requests/s "
        f"({sim.WEIGHT * sim.RATE:g} canary requests/s), stable 5xx rate "
        f"{sim.ERROR_RATES['5xx']:.1%}, persistence errors {sim.ERROR_RATES['persistence']:.2%}; "
        f"judged every {sim.INTERVAL:g} s for a {sim.HORIZON / 60:g}-minute step. "
        "Cells: canary requests before the rollback (seconds since the first canary request).\n"
    )
    summary: list[str] = []
    for i, (label, over) in enumerate((("Poisson", False), ("overdispersed", True))):
        if over:
            print(
                f"## Overdispersed traffic (per-host per-minute Gamma shocks, shape "
                f"{args.host_shape:g}; common shocks, shape {sim.COMMON_SHAPE:g})\n"
            )
        else:
            print("## Poisson traffic\n")
        results = {}
        for j, (name, scenario) in enumerate(sim.SCENARIOS.items()):
            scenario = dataclasses.replace(scenario, overdispersed=over)
            results[name] = measure(
                scenario,
                runs=args.runs,
                seed=args.seed * 1000 + 10 * i + j,
                host_shape=args.host_shape,
            )
        print("\n".join(table(results)) + "\n")
        summary += targets(results, label)
    print("## Targets (issue 4), `sequential` row\n")
    print("\n".join(summary))
    print(f"\nFinished in {time.perf_counter() - started:,.0f} s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
