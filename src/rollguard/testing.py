"""Public fakes for tests of rollguard and of its plugins.

- :class:`FakeClock`: time that moves only when told (``sleep`` advances it at once), so a
  test runs an hour of observation windows in milliseconds.
- :class:`MemoryTraffic`: a :class:`~rollguard.backends.base.TrafficStats` fed by hand.
- :class:`FakeBackend`: a backend that records what it was asked to do and, when the clock
  advances, makes up traffic for both versions from simple per-version rates.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from rollguard.backends.base import BackendContext, TrafficStats, VersionTraffic


class FakeClock:
    """A clock for tests: ``sleep`` advances time instead of waiting."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start
        self.listeners: list[Callable[[float, float], None]] = []

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        before = self.t
        self.t += max(0.0, seconds)
        for listener in self.listeners:
            listener(before, self.t)

    async def sleep(self, seconds: float) -> None:
        self.advance(seconds if seconds > 0 else 0.05)
        await asyncio.sleep(0)


@dataclass
class _Request:
    at: float
    status: int
    latency: float


class MemoryTraffic:
    """Request records per version, queried by window like the built-in router's stats."""

    def __init__(self) -> None:
        self.records: dict[str, list[_Request]] = {"stable": [], "candidate": []}

    def record(self, version: str, *, at: float, status: int, latency: float) -> None:
        self.records[version].append(_Request(at, status, latency))

    def window(self, version: str, *, since: float, until: float) -> VersionTraffic:
        rows = [r for r in self.records[version] if since <= r.at <= until]
        classes: dict[str, int] = {}
        for r in rows:
            key = f"{r.status // 100}xx"
            classes[key] = classes.get(key, 0) + 1
        return VersionTraffic(
            requests=len(rows),
            errors=sum(1 for r in rows if r.status >= 500),
            status_classes=classes,
            latencies=[r.latency for r in rows],
        )


@dataclass
class VersionBehaviour:
    """How a fake version answers: its 5xx ratio and latency (seconds)."""

    error_ratio: float = 0.0
    latency: float = 0.01


@dataclass
class FakeBackend:
    """Records calls; generates ``rps`` requests a second split by the current weight."""

    ctx: BackendContext | None = None
    rps: float = 50.0
    stable: VersionBehaviour = field(default_factory=VersionBehaviour)
    candidate: VersionBehaviour = field(default_factory=VersionBehaviour)
    seed: int = 7
    calls: list[str] = field(default_factory=list)
    weight: int = 0
    fail: dict[str, int] = field(default_factory=dict)  # action -> times to fail first

    def __post_init__(self) -> None:
        self.stats = MemoryTraffic()
        self.rng = random.Random(self.seed)

    def attach(self, clock: FakeClock) -> FakeBackend:
        clock.listeners.append(self.generate)
        return self

    def generate(self, start: float, end: float) -> None:
        n = int((end - start) * self.rps)
        for i in range(n):
            at = start + (i + 1) * (end - start) / max(n, 1)
            version = "candidate" if self.rng.random() * 100 < self.weight else "stable"
            b = self.candidate if version == "candidate" else self.stable
            status = 500 if self.rng.random() < b.error_ratio else 200
            self.stats.record(version, at=at, status=status, latency=b.latency)

    def _maybe_fail(self, action: str) -> None:
        self.calls.append(action)
        if self.fail.get(action, 0) > 0:
            self.fail[action] -= 1
            raise RuntimeError(f"{action} failed (fake)")

    async def prepare(self) -> None:
        self._maybe_fail("prepare")
        self.weight = 0

    async def set_weight(self, weight: int) -> None:
        self._maybe_fail(f"set_weight:{weight}")
        self.weight = weight

    async def promote(self) -> None:
        self._maybe_fail("promote")
        self.weight = 100

    async def rollback(self) -> None:
        self._maybe_fail("rollback")
        self.weight = 0

    def traffic(self) -> TrafficStats:
        return self.stats

    async def close(self, *, stop_versions: bool) -> None:
        self.calls.append(f"close:{stop_versions}")


__all__ = ["FakeBackend", "FakeClock", "MemoryTraffic", "VersionBehaviour"]
