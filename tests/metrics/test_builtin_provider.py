"""The builtin metric provider over the router's counters."""

from __future__ import annotations

import pytest

from rollguard.backends.base import VersionTraffic
from rollguard.backends.local.stats import RouterStats
from rollguard.metrics.builtin import BuiltinProvider, value_of
from rollguard.plan.model import BuiltinMetric


def traffic() -> RouterStats:
    """Candidate: 100 requests between t=100 and t=110, 2 of them 5xx and 1 failed upstream."""
    stats = RouterStats(clock=lambda: 0.0)
    for i in range(100):
        status: int | None = 200
        if i in (10, 20):
            status = 500
        elif i == 30:
            status = None
        elif i == 40:
            status = 404  # a client error is not an error of the version
        stats.record("candidate", status=status, latency=(i + 1) / 1000, at=100 + i / 10)
    stats.record("stable", status=200, latency=0.5, at=105)
    return stats


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("requests", 100.0),
        ("rate", 10.0),
        ("error_ratio", 0.03),
        ("p50", 0.050),
        ("p95", 0.095),
        ("p99", 0.099),
    ],
)
async def test_each_query_over_a_window(query: str, expected: float) -> None:
    provider = BuiltinProvider(traffic())
    m = await provider.measure(
        BuiltinMetric(query=query),  # type: ignore[arg-type]
        version="candidate",
        since=100,
        until=110,
    )
    # Percentiles: nearest rank, give or take one rank (1 ms here) of VersionTraffic's rounding.
    assert m.value == pytest.approx(expected, abs=0.0011 if query.startswith("p") else 1e-9)
    assert m.samples == 100
    assert m.error is None


@pytest.mark.parametrize("query", ["requests", "rate", "error_ratio", "p50", "p95", "p99"])
async def test_no_requests_is_no_data_never_zero(query: str) -> None:
    provider = BuiltinProvider(traffic())
    m = await provider.measure(
        BuiltinMetric(query=query),  # type: ignore[arg-type]
        version="candidate",
        since=200,
        until=260,
    )
    assert (m.value, m.samples) == (None, 0)


async def test_the_window_limits_what_is_counted() -> None:
    provider = BuiltinProvider(traffic())
    spec = BuiltinMetric(query="requests")
    first_half = await provider.measure(spec, version="candidate", since=100, until=105)
    assert first_half.value == 50
    stable = await provider.measure(
        BuiltinMetric(query="p95"), version="stable", since=100, until=110
    )
    assert (stable.value, stable.samples) == (0.5, 1)


def test_zero_errors_is_a_real_zero() -> None:
    assert value_of("error_ratio", VersionTraffic(requests=10, errors=0), seconds=5) == 0.0
    assert value_of("rate", VersionTraffic(requests=10, errors=0), seconds=0) is None
    with pytest.raises(ValueError, match="unknown builtin query"):
        value_of("p42", VersionTraffic(requests=1, errors=0), seconds=1)
