r"""The ``sequential`` judge: an anytime-valid count test, safe to check at every interval.

A fixed-sample test re-checked every interval raises a false alarm far more often than its
nominal level (each look is another chance). This judge instead keeps a *test martingale*:
a number that, while the candidate is no worse than stable, is on average non-increasing, so
by Ville's inequality it ever reaches ``1/alpha`` with probability at most ``alpha`` -- however
often it is looked at and however long the rollout runs.

**What is counted.** ``metric: errors`` counts failed requests (5xx); ``metric: latency``
counts *slow* requests, those slower than a reference: the stable version's ``quantile``
(default p95) estimated from stable latencies seen *before* the current interval (kept as a
log-bucket histogram in the state), or the baseline snapshot's value. The reference is fixed
before the interval is seen and is the same for both versions, so in an A/A rollout both
have the same chance of a slow request whatever its estimate is.

**The test.** In interval ``i`` the canary served a share ``r_i`` of the requests (of the
latency samples, for latency). With errors as Poisson counts of rates ``lc`` (canary) and
``ls`` (stable) per request, given the interval's total ``n_i = x_i + y_i`` the canary's
count is binomial::

    x_i | n_i ~ Binomial(n_i, p_i(theta)),   p_i(theta) = r_i theta / (r_i theta + 1 - r_i)

with ``theta = lc / ls``. Conditioning on the total removes the unknown stable rate and any
shock common to both versions (a slow dependency, a traffic burst), and each interval brings
its own ``r_i``, so the test stays valid while weights change. For an alternative ``theta_k``
against the tolerated ``theta_0`` (``ratio``, default 1) one interval's likelihood ratio is::

    l_ik = (p_i(theta_k) / p_i(theta_0))^x_i * ((1 - p_i(theta_k)) / (1 - p_i(theta_0)))^y_i

and ``M_k = prod_i l_ik``. For ``theta <= theta_0 < theta_k``, ``E[l_ik] <= 1`` (the expectation
is linear in ``p_i`` and equals 1 at ``p_i(theta_0)``), so each ``M_k`` is a non-negative
supermartingale under the null ``lc <= theta_0 ls``. The *mixture* ``M = sum_k w_k M_k`` over a
prior on the log rate ratio (``ratios``: six log-spaced values of ``theta_k / theta_0`` from
1.6 to 40, equal weights -- a discretised log-uniform prior, valid as any fixed prior is) is
one too, and the judge fails when ``log M >= log(1/alpha')``. The state keeps ``log M_k`` for each
``k``, so a resumed controller continues the same martingale.

**Assumptions and guards.**

- Requests fail independently given the rates (Poisson or binomial counts). For latency the
  slow counts are binomial; given the total, the canary's count is then hypergeometric under
  the null ``ratio: 1``, less spread than the binomial used here, so the binomial likelihood
  ratio (convex in ``x_i``) stays a supermartingale (Hoeffding, 1963, sampling without
  replacement).
- *Overdispersion* (errors in bursts on one host, negative-binomial counts) makes the
  canary's share vary more than binomially and would break the guarantee. Two guards, both of
  which keep the supermartingale property under the Poisson model, so they only cost power:
  each interval's factor is tempered to ``l_ik ** (1 / phi)`` with ``phi >= 1``
  (``dispersion``; ``E[l^(1/phi)] <= E[l]^(1/phi) <= 1`` by Jensen), the quasi-likelihood
  answer to a variance ``phi`` times the binomial one -- by default 1.4 for errors, which
  come in bursts (a bad host, a broken connection pool), and 1 for slow requests, a share of
  a large sample whose reference both versions share; and each interval's log factor is
  capped at ``max_step`` (default 2.5; ``E[min(l, c)] <= E[l]``), so
  that one burst of errors on one host cannot reach the threshold alone (``log(1/alpha')``
  is about 6 for ``alpha' = 0.0025``: at least three bad intervals are needed). The defaults
  are sized by ``benchmarks/detection``, whose overdispersed traffic (per-host per-minute
  Gamma shocks, shape 1, and a common shock) they hold to its false-alarm target; much
  burstier traffic needs a larger ``dispersion`` (see that benchmark's README). A shock
  common to both versions needs no guard: conditioning on the total removes it.
- ``alpha`` is the false-alarm budget of the whole rollout; when ``tests`` metrics share it,
  each gets ``alpha' = alpha / tests`` (Bonferroni: the chance that any of them fires is at
  most the sum of their chances). The engine passes ``tests``.

Time-uniform confidence bands on the latency distribution are not implemented: the count
test on one quantile is what rolls back; a band would only add a description.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from rollguard.analysis.judges import base

Array = npt.NDArray[np.float64]
DEFAULT_RATIOS: tuple[float, ...] = tuple(round(float(v), 3) for v in np.geomspace(1.6, 40.0, 6))
DEFAULT_DISPERSION = {"errors": 1.4, "latency": 1.0}
# log-bucket histogram of stable latencies: 20 buckets per decade from 100 us to 1000 s
_HIST_LOW, _HIST_PER_DECADE, _HIST_BUCKETS = 1e-4, 20, 140


def log_increments(
    x: Any, y: Any, r: Any, *, ratios: Array, ratio0: float, dispersion: Any = 1.0
) -> Array:
    """Each interval's log likelihood ratio for every alternative (shape ``(..., K)``).

    ``x``, ``y``: canary and stable counts; ``r``: the canary's share of requests. An interval
    where one version had no traffic carries no information (0).

    >>> inc = log_increments(3, 0, 0.5, ratios=np.array([2.0]), ratio0=1.0)
    >>> round(float(inc[0]), 3)  # 3 * log((2/3) / (1/2))
    0.863
    """
    x_, y_, r_ = (np.asarray(a, dtype=np.float64)[..., None] for a in (x, y, r))
    ok = (r_ > 0) & (r_ < 1)
    rs = np.where(ok, r_, 0.5)
    p0 = rs * ratio0 / (rs * ratio0 + 1 - rs)
    pk = rs * ratios / (rs * ratios + 1 - rs)
    inc = x_ * np.log(pk / p0) + y_ * np.log((1 - pk) / (1 - p0))
    inc = inc / np.asarray(dispersion, dtype=np.float64)[..., None]
    return np.where(ok, inc, 0.0)


def log_mixture(log_m: Array) -> Any:
    """``log(sum_k w_k M_k)`` with equal weights, over the last axis."""
    top = np.max(log_m, axis=-1, keepdims=True)
    out = top[..., 0] + np.log(np.mean(np.exp(log_m - top), axis=-1))
    return out


@dataclass(frozen=True, kw_only=True)
class SequentialJudge:
    """Mixture sequential probability ratio test on the canary's share of bad requests.

    >>> j = SequentialJudge(metric="errors", alpha=0.01)
    >>> s = j.initial_state()
    >>> for _ in range(10):
    ...     s, v = j.update(s, base.IntervalData(
    ...         candidate=base.VersionInterval(requests=50, errors=2),
    ...         stable=base.VersionInterval(requests=950, errors=1)))
    >>> v.status
    'fail'
    """

    metric: Literal["errors", "latency"] = "errors"
    alpha: float = 0.01
    tests: int = 1
    ratio: float = 1.0
    ratios: tuple[float, ...] = DEFAULT_RATIOS
    quantile: float = 0.95
    reference: Literal["stable", "baseline"] = "stable"
    min_reference: int = 200
    dispersion: float | None = None  # None: DEFAULT_DISPERSION[metric]
    max_step: float | None = 2.5
    min_samples: int = 50
    consecutive_error_limit: int = base.DEFAULT_CONSECUTIVE_ERROR_LIMIT
    name: str = "sequential"

    def __post_init__(self) -> None:
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha!r}")
        if not 0 < self.quantile < 1:
            raise ValueError(f"quantile must be in (0, 1), got {self.quantile!r}")
        if self.metric not in ("errors", "latency"):
            raise ValueError(f"metric must be errors or latency, got {self.metric!r}")
        if not self.ratios or min(self.ratios) <= 1:
            raise ValueError("ratios must be alternatives above 1 (times the tolerated ratio)")
        if self.dispersion is not None and self.dispersion < 1:
            raise ValueError(f"dispersion must be >= 1 (1 means Poisson), got {self.dispersion!r}")
        for name in ("tests", "ratio", "min_samples", "consecutive_error_limit"):
            base.check_positive(name, getattr(self, name))
        if self.max_step is not None:
            base.check_positive("max_step", self.max_step)

    @property
    def phi(self) -> float:
        """The tempering factor in use (``dispersion`` or the metric's default)."""
        return DEFAULT_DISPERSION[self.metric] if self.dispersion is None else self.dispersion

    @property
    def log_threshold(self) -> float:
        """``log(tests / alpha)``: the mixture must reach it to fail."""
        return math.log(self.tests / self.alpha)

    @property
    def alternatives(self) -> Array:
        """The alternatives ``theta_k`` as rate ratios (canary / stable)."""
        return self.ratio * np.asarray(self.ratios, dtype=np.float64)

    def step(self, log_m: Array, x: Any, y: Any, r: Any) -> Array:
        """Fold one interval into ``log M_k`` (arrays of runs allowed: ``(..., K)``).

        ``x``, ``y``: the interval's canary and stable counts; ``r``: the canary's share of
        requests. The benchmark calls this with arrays over thousands of rollouts.
        """
        inc = log_increments(
            x, y, r, ratios=self.alternatives, ratio0=self.ratio, dispersion=self.phi
        )
        if self.max_step is not None:
            inc = np.minimum(inc, self.max_step)
        return np.asarray(log_m + inc, dtype=np.float64)

    def initial_state(self) -> dict[str, Any]:
        return {
            "log_m": [0.0] * len(self.ratios),
            "rejected": False,
            "canary": {"requests": 0, "events": 0},
            "stable": {"requests": 0, "events": 0},
            "histogram": {},
            "errors_in_a_row": 0,
        }

    def update(
        self, state: dict[str, Any], interval: base.IntervalData
    ) -> tuple[dict[str, Any], base.JudgeVerdict]:
        state = _copy(state)
        streak, verdict = base.error_streak(
            state, interval.error, limit=self.consecutive_error_limit
        )
        state["errors_in_a_row"] = streak
        if verdict is not None:
            return state, verdict
        counts = self._counts(state, interval)
        if counts is None:
            self._remember(state, interval)
            verdict = base.JudgeVerdict(
                "inconclusive", "no latency reference yet", self._inputs(state)
            )
            return state, verdict
        (xc, nc), (ys, ns), ref = counts
        r = nc / (nc + ns) if nc + ns > 0 else 0.0
        log_m = self.step(np.asarray(state["log_m"]), xc, ys, r)
        state["log_m"] = [float(v) for v in log_m]
        state["canary"]["requests"] += nc
        state["canary"]["events"] += xc
        state["stable"]["requests"] += ns
        state["stable"]["events"] += ys
        self._remember(state, interval)
        if float(log_mixture(log_m)) >= self.log_threshold:
            state["rejected"] = True
        inputs = self._inputs(state)
        if ref is not None:
            inputs["reference_seconds"] = ref
        what = "errors" if self.metric == "errors" else f"requests slower than {ref:.4g}s"
        seen = state["canary"]["requests"]
        if seen < self.min_samples:
            reason = f"{seen} of {self.min_samples} canary samples needed"
            return state, base.JudgeVerdict("inconclusive", reason, inputs)
        lr, th = inputs["log_lr"], inputs["log_threshold"]
        summary = (
            f"canary {inputs['canary_events']}/{inputs['canary_requests']} vs stable "
            f"{inputs['stable_events']}/{inputs['stable_requests']} {what}"
        )
        if state["rejected"]:
            reason = f"{summary}: log likelihood ratio reached {th:.2f} (now {lr:.2f})"
            return state, base.JudgeVerdict("fail", reason, inputs)
        reason = f"{summary}: log likelihood ratio {lr:.2f} < {th:.2f}"
        return state, base.JudgeVerdict("pass", reason, inputs)

    # -- helpers -------------------------------------------------------------------------

    def _counts(
        self, state: dict[str, Any], interval: base.IntervalData
    ) -> tuple[tuple[int, int], tuple[int, int], float | None] | None:
        c, s = interval.candidate, interval.stable
        if self.metric == "errors":
            return (c.errors, c.requests), (s.errors, s.requests), None
        ref = self._reference(state, interval)
        if ref is None:
            return None
        slow_c = sum(1 for v in c.latencies if v > ref)
        slow_s = sum(1 for v in s.latencies if v > ref)
        return (slow_c, len(c.latencies)), (slow_s, len(s.latencies)), ref

    def _reference(self, state: dict[str, Any], interval: base.IntervalData) -> float | None:
        b = interval.baseline
        snapshot = b.value if b and b.value is not None and b.error is None else None
        if self.reference == "baseline" and snapshot is not None:
            return snapshot
        hist: dict[str, int] = state["histogram"]
        total = sum(hist.values())
        if total < self.min_reference:
            return snapshot
        rank = math.ceil(self.quantile * total)  # nearest rank
        seen = 0
        for key in sorted(hist, key=int):
            seen += hist[key]
            if seen >= rank:
                return float(_HIST_LOW * 10 ** ((int(key) + 1) / _HIST_PER_DECADE))
        return None  # unreachable: rank <= total

    def _remember(self, state: dict[str, Any], interval: base.IntervalData) -> None:
        if self.metric != "latency":
            return
        hist: dict[str, int] = state["histogram"]
        for v in interval.stable.latencies:
            k = str(_bucket(v))
            hist[k] = hist.get(k, 0) + 1

    def _inputs(self, state: dict[str, Any]) -> dict[str, Any]:
        log_m = np.asarray(state["log_m"])
        c, s = state["canary"], state["stable"]
        rate_c = c["events"] / c["requests"] if c["requests"] else None
        rate_s = s["events"] / s["requests"] if s["requests"] else None
        ratio = rate_c / rate_s if rate_c is not None and rate_s else None
        return {
            "canary_requests": c["requests"],
            "canary_events": c["events"],
            "stable_requests": s["requests"],
            "stable_events": s["events"],
            "rate_ratio": ratio,
            "log_lr": float(log_mixture(log_m)),
            "log_threshold": self.log_threshold,
            "alpha": self.alpha,
            "tests": self.tests,
            "tolerated_ratio": self.ratio,
            "dispersion": self.phi,
            "max_step": self.max_step,
        }


def _bucket(seconds: float) -> int:
    if seconds <= _HIST_LOW:
        return 0
    k = int(math.floor(math.log10(seconds / _HIST_LOW) * _HIST_PER_DECADE))
    return min(k, _HIST_BUCKETS - 1)


def _copy(state: dict[str, Any]) -> dict[str, Any]:
    out = dict(state)
    out["canary"] = dict(state["canary"])
    out["stable"] = dict(state["stable"])
    out["histogram"] = dict(state["histogram"])
    out["log_m"] = list(state["log_m"])
    return out


__all__ = [
    "DEFAULT_DISPERSION",
    "DEFAULT_RATIOS",
    "SequentialJudge",
    "log_increments",
    "log_mixture",
]
