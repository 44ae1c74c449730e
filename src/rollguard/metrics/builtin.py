"""The ``builtin`` metric provider: numbers from the built-in router's own counters.

The router sees every request, so this provider needs no external system: it reads a
:class:`~rollguard.backends.base.TrafficStats` (usually ``backend.traffic()``) for one version
over ``[since, until]`` and turns it into a :class:`~rollguard.metrics.base.Measurement`.

Queries (``BuiltinMetric.query``):

===============  ==========================================================
``requests``     number of requests in the window
``rate``         requests per second over the window's length
``error_ratio``  (5xx responses + failed upstream exchanges) / requests
``p50/p95/p99``  latency percentile in seconds (time to response headers)
===============  ==========================================================

Invariant: a window without requests is *no data* (``value=None``), never 0, so that a quiet
canary is inconclusive rather than a perfect pass. ``samples`` is always the request count.
"""

from __future__ import annotations

from rollguard.backends.base import TrafficStats, VersionTraffic
from rollguard.metrics.base import Measurement
from rollguard.plan import model

_PERCENTILES = {"p50": 50.0, "p95": 95.0, "p99": 99.0}


class BuiltinProvider:
    """Reads request counts, rates, error ratios and latency percentiles from the router.

    Example::

        provider = BuiltinProvider(backend.traffic())
        m = await provider.measure(BuiltinMetric(query="p95"), version="candidate",
                                   since=now - 60, until=now)
        m.value, m.samples  # (0.042, 1830), or (None, 0) without traffic
    """

    def __init__(self, traffic: TrafficStats) -> None:
        self._traffic = traffic

    async def measure(
        self, spec: model.BuiltinMetric, *, version: str, since: float, until: float
    ) -> Measurement:
        """The value of ``spec.query`` for ``version`` over ``[since, until]``."""
        window = self._traffic.window(version, since=since, until=until)
        return Measurement(
            value=value_of(spec.query, window, seconds=until - since), samples=window.requests
        )


def value_of(query: str, window: VersionTraffic, *, seconds: float) -> float | None:
    """The value of one builtin ``query`` over a window, None when there were no requests.

    >>> value_of("error_ratio", VersionTraffic(requests=200, errors=1), seconds=60)
    0.005
    """
    if window.requests == 0:
        return None
    if query == "requests":
        return float(window.requests)
    if query == "rate":
        return window.requests / seconds if seconds > 0 else None
    if query == "error_ratio":
        return window.errors / window.requests
    if query in _PERCENTILES:
        return window.percentile(_PERCENTILES[query])
    raise ValueError(f"unknown builtin query {query!r}")


__all__ = ["BuiltinProvider", "value_of"]
