"""A seeded simulator of canary traffic, vectorised over thousands of rollouts.

One rollout is the first canary step: ``WEIGHT`` (5%) of ``RATE`` requests per second go to
the candidate for ``HORIZON`` seconds, and the engine judges every ``INTERVAL`` seconds. The
arrays below have shape ``(runs, intervals)``; every judge sees the very same runs.

What is simulated, per interval:

- **requests**: Poisson(``RATE * INTERVAL``), split between the versions binomially at the
  canary weight. Stable runs on ``STABLE_HOSTS`` hosts, the canary on one.
- **two error counters**: 5xx responses (stable rate 0.1%) and persistence errors (0.05%).
  Each host has its own fixed rate multiplier, lognormal with a 10% spread (per-host
  differences: in an A/A run the canary host is a little better or worse by chance).
  *Poisson* traffic: counts are Poisson given the rates. *Overdispersed* traffic: each host's
  rate is also multiplied, minute by minute, by a Gamma shock of shape ``HOST_SHAPE`` (1)
  and mean 1, and the whole service by a common Gamma shock of shape ``COMMON_SHAPE`` (2):
  counts are then negative binomial, bursty and correlated within a minute.
- **latency**: lognormal, median 50 ms, log-sd 0.5, with a fixed per-host log offset (sd 1%)
  and, in overdispersed traffic, a per-host per-minute log offset (sd 3%). The latency
  regression shifts the canary so that 10% of its requests, instead of 5%, exceed the stable
  p95. Counts of requests above a reference are binomial given the offsets; quantiles of a
  window are drawn exactly from the order-statistic distribution (a Beta variate through the
  quantile function), so no per-request sample is ever materialised.
- **baseline**: before the canary, stable serves ``BASELINE`` seconds alone; its p95 and p99
  snapshot (the reference of slow requests) is drawn the same exact way.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

RATE = 100.0  # requests per second, both versions together
WEIGHT = 0.05
INTERVAL = 10.0  # seconds between judgements (the plan's analysis.interval)
HORIZON = 1800.0  # a 30-minute canary step
BASELINE = 30.0
STABLE_HOSTS = 4
ERROR_RATES = {"5xx": 0.001, "persistence": 0.0005}
LAT_MEDIAN, LAT_SIGMA = 0.050, 0.5
HOST_RATE_SPREAD, HOST_LAT_SPREAD, MINUTE_LAT_SPREAD = 0.10, 0.01, 0.03
HOST_SHAPE, COMMON_SHAPE = 1.0, 2.0
QUANTILES = {"p95": 0.95, "p99": 0.99}
INTERVALS = int(HORIZON / INTERVAL)
PER_MINUTE = int(60 / INTERVAL)
# the shift (in log-sd units) that puts 10% of the canary above the stable p95
LATENCY_SHIFT = float(stats.norm.ppf(0.95) - stats.norm.ppf(0.90))


@dataclass(frozen=True)
class Scenario:
    """A regression (or none) and a traffic model."""

    name: str
    error_factor: float = 1.0  # multiplies the canary's 5xx rate
    latency_shift: float = 0.0  # canary log-latency shift in log-sd units
    overdispersed: bool = False


@dataclass(frozen=True)
class Traffic:
    """Simulated counts for ``runs`` rollouts; arrays are ``(runs, INTERVALS)``."""

    canary: np.ndarray  # requests
    stable: np.ndarray
    errors: dict[str, tuple[np.ndarray, np.ndarray]]  # metric -> (canary, stable) counts
    slow: dict[str, tuple[np.ndarray, np.ndarray]]  # quantile -> counts above the reference
    reference: dict[str, np.ndarray]  # quantile -> baseline snapshot (seconds), (runs,)
    canary_offset: np.ndarray  # log-latency offset in log-sd units, (runs, INTERVALS)
    stable_offset: np.ndarray
    windows: dict[tuple[str, str], np.ndarray]  # (quantile, version) -> trailing-minute value

    @property
    def runs(self) -> int:
        return int(self.canary.shape[0])


def _order_statistic(
    rng: np.random.Generator, *, n: np.ndarray, q: float, offset: np.ndarray | float
) -> np.ndarray:
    n = np.maximum(n, 1)
    k = np.ceil(q * n)
    u = rng.beta(k, n - k + 1)
    z = special.ndtri(u) + offset
    return LAT_MEDIAN * np.exp(LAT_SIGMA * z)


def simulate(
    scenario: Scenario, *, runs: int, seed: int, host_shape: float = HOST_SHAPE
) -> Traffic:
    """Counts for ``runs`` rollouts of ``scenario``, reproducible from ``seed``."""
    rng = np.random.default_rng(seed)
    shape = (runs, INTERVALS)
    minutes = INTERVALS // PER_MINUTE
    total = rng.poisson(RATE * INTERVAL, size=shape)
    canary = rng.binomial(total, WEIGHT)
    stable = total - canary

    def per_minute(a: np.ndarray) -> np.ndarray:  # (runs, minutes, ...) -> (runs, INTERVALS, ...)
        return np.repeat(a, PER_MINUTE, axis=1)

    if scenario.overdispersed:
        common = per_minute(rng.gamma(COMMON_SHAPE, 1 / COMMON_SHAPE, size=(runs, minutes)))
    else:
        common = np.ones(shape)

    errors: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for metric, rate in ERROR_RATES.items():
        host = rng.lognormal(0.0, HOST_RATE_SPREAD, size=(runs, 1 + STABLE_HOSTS))
        if scenario.overdispersed:
            shocks = per_minute(
                rng.gamma(host_shape, 1 / host_shape, size=(runs, minutes, 1 + STABLE_HOSTS))
            )
        else:
            shocks = np.ones((runs, INTERVALS, 1 + STABLE_HOSTS))
        mult = host[:, None, :] * shocks * common[:, :, None]
        factor = scenario.error_factor if metric == "5xx" else 1.0
        mean_c = canary * rate * factor * mult[:, :, 0]
        mean_s = stable * rate * mult[:, :, 1:].mean(axis=2)  # equal shares across hosts
        errors[metric] = (rng.poisson(mean_c), rng.poisson(mean_s))

    lat_host = rng.normal(0.0, HOST_LAT_SPREAD, size=(runs, 1 + STABLE_HOSTS)) / LAT_SIGMA
    lat = np.broadcast_to(lat_host[:, None, :], (runs, INTERVALS, 1 + STABLE_HOSTS)).copy()
    if scenario.overdispersed:
        jitter = rng.normal(0, MINUTE_LAT_SPREAD, size=(runs, minutes, 1 + STABLE_HOSTS))
        lat += per_minute(jitter) / LAT_SIGMA
    canary_offset = lat[:, :, 0] + scenario.latency_shift
    stable_hosts = lat[:, :, 1:]

    n_base = int(RATE * BASELINE)
    reference: dict[str, np.ndarray] = {}
    slow: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, q in QUANTILES.items():
        ref = _order_statistic(
            rng, n=np.full(runs, n_base), q=q, offset=lat_host[:, 1:].mean(axis=1)
        )
        reference[name] = ref
        z_ref = (np.log(ref / LAT_MEDIAN) / LAT_SIGMA)[:, None]
        p_c = special.ndtr(canary_offset - z_ref)  # P(latency > ref)
        p_s = special.ndtr(stable_hosts - z_ref[:, :, None]).mean(axis=2)
        slow[name] = (rng.binomial(canary, p_c), rng.binomial(stable, p_s))

    # the nearest-rank quantile of the minute ending at each interval, per version: what a
    # 1-minute window metric reads. Windows ending at different intervals overlap, but their
    # values are drawn independently (an approximation that only adds noise to them).
    windows: dict[tuple[str, str], np.ndarray] = {}
    stable_offset = stable_hosts.mean(axis=2)
    for name, q in QUANTILES.items():
        for version, n, off in (
            ("candidate", canary, canary_offset),
            ("stable", stable, stable_offset),
        ):
            n_win = _trailing(n.astype(np.float64), PER_MINUTE)
            off_win = _trailing(off, PER_MINUTE) / _trailing(np.ones(shape), PER_MINUTE)
            windows[(name, version)] = _order_statistic(rng, n=n_win, q=q, offset=off_win)

    return Traffic(
        canary=canary,
        stable=stable,
        errors=errors,
        slow=slow,
        reference=reference,
        canary_offset=canary_offset,
        stable_offset=stable_offset,
        windows=windows,
    )


def _trailing(a: np.ndarray, width: int) -> np.ndarray:
    """Sum over the trailing ``width`` intervals (fewer at the start), along axis 1."""
    c = np.cumsum(a, axis=1)
    out = c.copy()
    out[:, width:] = c[:, width:] - c[:, :-width]
    return out


SCENARIOS: dict[str, Scenario] = {
    "A/A": Scenario("A/A"),
    "5x 5xx": Scenario("5x 5xx", error_factor=5.0),
    "20x 5xx": Scenario("20x 5xx", error_factor=20.0),
    "p95 latency (10% > stable p95)": Scenario(
        "p95 latency (10% > stable p95)", latency_shift=LATENCY_SHIFT
    ),
}
