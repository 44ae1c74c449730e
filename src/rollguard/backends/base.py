"""The ``Backend`` extension point: what moves traffic and versions.

A backend is driven by the runner with a handful of idempotent actions. Calling any of them
twice (after a crash, on resume) is harmless: ``set_weight(25)`` twice leaves 25% on the
candidate, ``prepare()`` adopts versions that are already running instead of starting them
again. The engine never knows which backend it drives.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from rollguard.plan import model


@dataclass(frozen=True)
class VersionTraffic:
    """Traffic one version served over a window (from a router that sees every request)."""

    requests: int
    errors: int  # 5xx responses and failed upstream connections
    status_classes: dict[str, int] = field(default_factory=dict)  # "2xx": n, "5xx": n, "error": n
    latencies: list[float] = field(default_factory=list)  # seconds; may be a bounded sample

    def percentile(self, q: float) -> float | None:
        """Latency percentile ``q`` (0..100) in seconds, None without requests."""
        if not self.latencies:
            return None
        ordered = sorted(self.latencies)
        rank = max(
            0, min(len(ordered) - 1, math.ceil(q / 100.0 * len(ordered)) - 1)
        )  # nearest rank
        return ordered[rank]


class TrafficStats(Protocol):
    """Per-version request counters a backend's router keeps (the built-in metrics read them)."""

    def window(self, version: str, *, since: float, until: float) -> VersionTraffic:
        """Traffic of ``version`` (``"stable"`` or ``"candidate"``) between two wall times."""
        ...


@dataclass(frozen=True)
class BackendContext:
    """What a backend gets when it is built for one rollout."""

    plan: model.Plan
    run_dir: Path  # the rollout's evidence folder; process logs go under run_dir / "processes"
    base_dir: Path  # the plan file's folder; relative paths in the plan start here
    log: Callable[[str], None] = print  # one line of human-readable progress


class Backend(Protocol):
    """Moves traffic between the stable and the candidate version."""

    async def prepare(self) -> None:
        """Make both versions run and serve, with 0% on the candidate. Adopts what already runs."""
        ...

    async def set_weight(self, weight: int) -> None:
        """Send ``weight`` percent of new requests to the candidate (0..100)."""
        ...

    async def promote(self) -> None:
        """Make the candidate the version that serves everything; retire the old stable."""
        ...

    async def rollback(self) -> None:
        """Candidate weight to 0 first, then restore the stable revision, retire the candidate."""
        ...

    def traffic(self) -> TrafficStats | None:
        """The router's counters when this backend has a router rollguard can read, else None."""
        ...

    async def close(self, *, stop_versions: bool) -> None:
        """Release what this process holds (router sockets); stop the versions if asked."""
        ...
