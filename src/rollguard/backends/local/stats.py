"""Per-version request counters of the built-in router, in per-second buckets.

Every finished request is recorded once, for the version that served it, in the bucket of the
whole second (of the injected wall clock) in which it finished. A bucket holds exact counts per
status class (``2xx`` .. ``5xx`` and ``error`` for a failed upstream) and a bounded reservoir
of latencies: up to ``reservoir`` values are kept exactly, beyond that a uniform sample is kept
(reservoir sampling with an injected ``random.Random``) together with the number of latencies
seen, so that buckets can be merged without over-weighting the quiet seconds.

Invariants:

- Counts are exact: ``window()`` sums whole buckets, so a window is widened to whole seconds
  (a bucket belongs to a window when its second starts in ``[floor(since), until)``).
- Buckets older than ``retention`` seconds (relative to the newest record) are dropped, so
  memory is bounded by ``retention * reservoir`` latencies per version.
- Latencies are exact while a window holds at most ``max_latencies`` values none of which were
  sampled away; otherwise the window's latencies are ``max_latencies`` evenly spaced quantiles
  of the weighted merge of the reservoirs, which keeps p50/p95/p99 within one sample rank.
"""

from __future__ import annotations

import math
import random
import time
from array import array
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from rollguard.backends.base import VersionTraffic

VERSIONS = ("stable", "candidate")
"""The two versions a router splits traffic between."""


def status_class(status: int | None) -> str:
    """``"2xx"``.. ``"5xx"`` for an HTTP status, ``"error"`` when no response came (None).

    >>> status_class(503), status_class(None)
    ('5xx', 'error')
    """
    if status is None:
        return "error"
    return f"{status // 100}xx"


@dataclass
class _Bucket:
    second: int
    classes: dict[str, int] = field(default_factory=dict)
    seen: int = 0  # latencies offered to the reservoir (equals the request count)
    latencies: array[float] = field(default_factory=lambda: array("d"))


class RouterStats:
    """Request counters per version; implements :class:`rollguard.backends.base.TrafficStats`.

    Example::

        stats = RouterStats(clock=lambda: 100.0)
        stats.record("stable", status=200, latency=0.012)
        stats.window("stable", since=100, until=101).requests  # 1
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.time,
        retention: float = 3600.0,
        reservoir: int = 128,
        max_latencies: int = 20_000,
        rng: random.Random | None = None,
    ) -> None:
        self._clock = clock
        self._retention = retention
        self._reservoir = reservoir
        self._max_latencies = max_latencies
        self._rng = rng if rng is not None else random.Random(0)
        self._buckets: dict[str, deque[_Bucket]] = {v: deque() for v in VERSIONS}

    def record(
        self, version: str, *, status: int | None, latency: float, at: float | None = None
    ) -> None:
        """Count one finished request of ``version`` (``status=None``: upstream failed)."""
        now = self._clock() if at is None else at
        second = math.floor(now)
        buckets = self._buckets[version]
        bucket = self._bucket_for(buckets, second)
        name = status_class(status)
        bucket.classes[name] = bucket.classes.get(name, 0) + 1
        bucket.seen += 1
        if len(bucket.latencies) < self._reservoir:
            bucket.latencies.append(latency)
        else:
            # Algorithm R: every latency of the second has the same chance to be kept.
            slot = self._rng.randrange(bucket.seen)
            if slot < self._reservoir:
                bucket.latencies[slot] = latency
        self._expire(buckets, newest=second)

    def _bucket_for(self, buckets: deque[_Bucket], second: int) -> _Bucket:
        if buckets and buckets[-1].second == second:
            return buckets[-1]
        if not buckets or buckets[-1].second < second:
            buckets.append(_Bucket(second))
            return buckets[-1]
        # A record for an earlier second (the clock stepped back, or an explicit ``at``):
        # rare, so a linear search that keeps the deque sorted is fine.
        for index, bucket in enumerate(buckets):
            if bucket.second == second:
                return bucket
            if bucket.second > second:
                buckets.insert(index, _Bucket(second))
                return buckets[index]
        raise AssertionError("unreachable: the last bucket is newer than the record")

    def _expire(self, buckets: deque[_Bucket], *, newest: int) -> None:
        horizon = newest - self._retention
        while buckets and buckets[0].second < horizon:
            buckets.popleft()

    def window(self, version: str, *, since: float, until: float) -> VersionTraffic:
        """Traffic of ``version`` in the buckets whose second starts in [floor(since), until)."""
        if version not in self._buckets:
            raise KeyError(f"unknown version {version!r} (expected one of {', '.join(VERSIONS)})")
        first = math.floor(since)
        chosen = [b for b in self._buckets[version] if first <= b.second < until]
        classes: dict[str, int] = {}
        for bucket in chosen:
            for name, count in bucket.classes.items():
                classes[name] = classes.get(name, 0) + count
        requests = sum(classes.values())
        errors = classes.get("5xx", 0) + classes.get("error", 0)
        return VersionTraffic(
            requests=requests,
            errors=errors,
            status_classes=dict(sorted(classes.items())),
            latencies=self._latencies(chosen),
        )

    def _latencies(self, chosen: list[_Bucket]) -> list[float]:
        exact = all(b.seen == len(b.latencies) for b in chosen)
        total = sum(len(b.latencies) for b in chosen)
        if exact and total <= self._max_latencies:
            return [value for b in chosen for value in b.latencies]
        # Each kept latency stands for seen/kept requests of its second.
        weighted = sorted(
            (value, b.seen / len(b.latencies)) for b in chosen for value in b.latencies
        )
        weight_total = sum(w for _, w in weighted)
        points = min(self._max_latencies, sum(b.seen for b in chosen))
        out: list[float] = []
        cumulative = 0.0
        index = -1
        for i in range(points):
            target = (i + 0.5) / points * weight_total
            while cumulative < target and index + 1 < len(weighted):
                index += 1
                cumulative += weighted[index][1]
            out.append(weighted[max(index, 0)][0])
        return out

    def versions(self) -> tuple[str, ...]:
        """The versions this router counts."""
        return VERSIONS


__all__ = ["VERSIONS", "RouterStats", "status_class"]
