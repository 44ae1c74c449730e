"""Per-second buckets of the router's counters, with a fake clock."""

from __future__ import annotations

import random

import pytest

from rollguard.backends.local.stats import RouterStats, status_class


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_status_classes() -> None:
    assert [status_class(s) for s in (101, 200, 301, 404, 500, None)] == [
        "1xx",
        "2xx",
        "3xx",
        "4xx",
        "5xx",
        "error",
    ]


def test_windows_pick_the_seconds_in_range_and_count_exactly() -> None:
    clock = FakeClock(1000.2)
    stats = RouterStats(clock=clock)
    stats.record("stable", status=200, latency=0.01)
    stats.record("stable", status=503, latency=0.02)
    clock.now = 1005.9
    stats.record("stable", status=None, latency=0.5)
    stats.record("stable", status=404, latency=0.03)
    stats.record("candidate", status=200, latency=0.04)
    clock.now = 1010.0
    stats.record("stable", status=302, latency=0.05)

    first = stats.window("stable", since=1000, until=1005)
    assert (first.requests, first.errors) == (2, 1)
    assert first.status_classes == {"2xx": 1, "5xx": 1}
    assert sorted(first.latencies) == [0.01, 0.02]

    # A window is widened to whole seconds: 1005.5 still holds the bucket of second 1005.
    middle = stats.window("stable", since=1005.5, until=1006)
    assert (middle.requests, middle.errors) == (2, 1)
    assert middle.status_classes == {"4xx": 1, "error": 1}

    everything = stats.window("stable", since=0, until=2000)
    assert everything.requests == 5
    assert everything.status_classes == {"2xx": 1, "3xx": 1, "4xx": 1, "5xx": 1, "error": 1}

    assert stats.window("candidate", since=1000, until=1011).requests == 1
    empty = stats.window("candidate", since=1011, until=1100)
    assert (empty.requests, empty.errors, empty.latencies) == (0, 0, [])
    assert empty.percentile(95) is None


def test_an_explicit_time_and_an_out_of_order_record_land_in_their_second() -> None:
    stats = RouterStats(clock=FakeClock(50.0))
    stats.record("stable", status=200, latency=0.1, at=40.5)
    stats.record("stable", status=200, latency=0.1, at=30.0)
    stats.record("stable", status=200, latency=0.1, at=35.0)
    assert stats.window("stable", since=30, until=31).requests == 1
    assert stats.window("stable", since=35, until=41).requests == 2


def test_buckets_older_than_the_retention_are_dropped() -> None:
    clock = FakeClock(0.0)
    stats = RouterStats(clock=clock, retention=60)
    stats.record("stable", status=200, latency=0.1)
    clock.now = 30
    stats.record("stable", status=200, latency=0.1)
    clock.now = 75
    stats.record("stable", status=200, latency=0.1)
    assert stats.window("stable", since=0, until=100).requests == 2


def test_unknown_version_is_an_error() -> None:
    with pytest.raises(KeyError, match="stable, candidate"):
        RouterStats().window("canary", since=0, until=1)


def test_percentiles_are_exact_on_known_latencies() -> None:
    stats = RouterStats(clock=FakeClock(10.0))
    values = [ms / 1000 for ms in range(1, 101)]
    random.Random(2).shuffle(values)
    for value in values:
        stats.record("candidate", status=200, latency=value)
    window = stats.window("candidate", since=10, until=11)
    assert sorted(window.latencies) == sorted(values)  # below the reservoir size: every value
    # Nearest rank, give or take the one rank that VersionTraffic's rounding may shift.
    for q, expected in ((50, 0.050), (95, 0.095), (99, 0.099), (100, 0.100)):
        assert window.percentile(q) == pytest.approx(expected, abs=0.0011)


def test_sampled_buckets_are_weighted_by_their_request_count() -> None:
    # A busy second of fast requests and a quiet second of slow ones: without weights the
    # quiet second's 50 slow samples would be half of the merge and move p50 to the slow side.
    clock = FakeClock(0.0)
    stats = RouterStats(clock=clock, reservoir=50, max_latencies=1000, rng=random.Random(4))
    rng = random.Random(9)
    for _ in range(5000):
        stats.record("stable", status=200, latency=rng.uniform(0.010, 0.020))
    clock.now = 1.0
    for _ in range(50):
        stats.record("stable", status=200, latency=rng.uniform(1.0, 2.0))
    window = stats.window("stable", since=0, until=2)
    assert window.requests == 5050
    assert len(window.latencies) == 1000
    p50 = window.percentile(50)
    p95 = window.percentile(95)
    p999 = window.percentile(99.9)
    assert p50 is not None and 0.010 <= p50 <= 0.020
    assert p95 is not None and p95 <= 0.020  # the slow 1% is above p95 ...
    assert p999 is not None and p999 >= 1.0  # ... and shows at the far tail


def test_memory_is_bounded_by_the_reservoir() -> None:
    stats = RouterStats(clock=FakeClock(5.0), reservoir=16)
    for i in range(1000):
        stats.record("stable", status=200, latency=i / 1000)
    bucket = stats._buckets["stable"][0]  # noqa: SLF001 - white-box check of the bound
    assert (bucket.seen, len(bucket.latencies)) == (1000, 16)
