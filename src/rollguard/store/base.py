"""The store: an append-only event log per rollout, plus a small projection for listings.

A rollout's state is the fold of its events (:mod:`rollguard.engine.state`); the store knows
nothing about what the events mean. Sequence numbers are dense per rollout (1, 2, 3, ...):
``append`` assigns the next one atomically, so two processes appending to the same rollout
(the runner and a person's ``rollguard approve``) never produce a gap or a duplicate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class Event:
    """One entry of a rollout's log."""

    rollout_id: str
    seq: int
    at: float  # wall time, seconds since the epoch
    type: str
    data: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "at": self.at, "type": self.type, "data": self.data}


@dataclass(frozen=True)
class RolloutRow:
    """The projection of one rollout kept for listings (``rollguard history``)."""

    id: str
    plan_name: str
    state: str
    created_at: float
    updated_at: float
    step: int | None
    weight: int | None
    outcome: str | None


class Store(Protocol):
    """Where rollouts and their events live."""

    def create(self, rollout_id: str, *, plan_name: str, at: float) -> None:
        """Register a new rollout (its first event is appended separately)."""
        ...

    def append(self, rollout_id: str, type: str, data: dict[str, Any], *, at: float) -> Event:
        """Append one event with the next sequence number and return it."""
        ...

    def events(self, rollout_id: str, *, after: int = 0) -> list[Event]:
        """Events of a rollout with ``seq > after``, in order. Unknown id: RolloutNotFound."""
        ...

    def update(
        self,
        rollout_id: str,
        *,
        state: str,
        step: int | None,
        weight: int | None,
        outcome: str | None,
        at: float,
    ) -> None:
        """Refresh the listing projection of a rollout."""
        ...

    def get(self, rollout_id: str) -> RolloutRow:
        """The projection of one rollout; an id prefix works when it is unique."""
        ...

    def list(self, *, limit: int = 50) -> list[RolloutRow]:
        """Newest rollouts first."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
