"""The judge interface: what a trigger's statistical rule sees, keeps and says.

A **judge** decides whether the candidate is worse than the stable version on one metric. The
engine feeds it one *interval* at a time (the traffic of the ``analysis.interval`` that just
ended) and keeps the judge's running state for it::

    judge = registry.judges.get("sequential")(metric="errors", alpha=0.01, tests=2)
    state = judge.initial_state()
    for interval in intervals:                 # one per analysis interval
        state, verdict = judge.update(state, interval)
        if verdict.status == "fail":
            ...                                # the engine rolls back

Invariants every judge keeps (the property tests check them):

- **pure**: ``update`` does no I/O, reads no clock and no global randomness; the same state
  and interval always give the same result;
- **serialisable state**: the state is a plain ``dict`` of JSON values (numbers, strings,
  lists, dicts, ``None``). The engine writes it into the event log after each interval, and a
  resumed controller continues the judge exactly where it stopped: ``update`` never mutates
  the state it is given, it returns a new one;
- **honest verdicts**: too few samples is ``inconclusive``, never ``pass`` nor ``fail``; a
  provider error is never a pass, and ``consecutive_error_limit`` of them in a row is an
  ``error`` verdict (the engine turns it into a rollback or a pause, as the plan says);
- **numbers behind every verdict**: ``inputs`` holds the counts, the statistic and the
  threshold it was compared with, so the summary can say why.

Statuses have a best-to-worst order, ``pass < inconclusive < error < fail``, the same as
:mod:`rollguard.analysis.assess`; a set of verdicts is as bad as its worst member.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

Status = Literal["pass", "inconclusive", "error", "fail"]
ORDER: dict[str, int] = {"pass": 0, "inconclusive": 1, "error": 2, "fail": 3}
DEFAULT_CONSECUTIVE_ERROR_LIMIT = 4


@dataclass(frozen=True)
class VersionInterval:
    """What one version served during one interval (from a router that sees every request).

    ``latencies`` are seconds and may be a bounded sample of the requests (possibly empty);
    judges that count slow requests use ``len(latencies)`` as the denominator, never
    ``requests``, so a sampled latency list stays unbiased.
    """

    requests: int = 0
    errors: int = 0
    latencies: tuple[float, ...] = ()


@dataclass(frozen=True)
class Measurement:
    """A window-level value from a metric provider (what :mod:`assess` judges today)."""

    value: float | None = None
    samples: int = 0
    error: str | None = None


@dataclass(frozen=True)
class IntervalData:
    """Everything a judge may look at for the interval that just ended.

    Count judges (``sequential``, ``mann_whitney``) read ``candidate`` and ``stable``;
    the ``threshold`` judge reads the window-level measurements ``candidate_window``,
    ``stable_window`` and ``baseline`` (the snapshot of the stable version taken before any
    canary traffic). ``error`` is set when the metric provider failed for this interval: the
    counts are then meaningless and every judge records an error measurement.
    """

    candidate: VersionInterval = field(default_factory=VersionInterval)
    stable: VersionInterval = field(default_factory=VersionInterval)
    candidate_window: Measurement | None = None
    stable_window: Measurement | None = None
    baseline: Measurement | None = None
    error: str | None = None


@dataclass(frozen=True)
class JudgeVerdict:
    """One judge's verdict after one interval, with the numbers behind it."""

    status: Status
    reason: str
    inputs: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, for the event log."""
        return {"status": self.status, "reason": self.reason, "inputs": dict(self.inputs)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> JudgeVerdict:
        """The inverse of :meth:`to_dict`."""
        return cls(status=data["status"], reason=data["reason"], inputs=dict(data["inputs"]))


class Judge(Protocol):
    """A statistical rule over one metric, fed one interval at a time."""

    @property
    def name(self) -> str:
        """The ``kind`` the judge is registered under (``"sequential"``)."""
        ...

    def initial_state(self) -> dict[str, Any]:
        """The state before the first interval (a plain JSON-serialisable dict)."""
        ...

    def update(
        self, state: dict[str, Any], interval: IntervalData
    ) -> tuple[dict[str, Any], JudgeVerdict]:
        """Fold one interval into ``state``; return the new state and the verdict so far."""
        ...


def worst(statuses: list[Status]) -> Status:
    """The worst status of a set (``pass`` for an empty set).

    >>> worst(["pass", "inconclusive", "pass"])
    'inconclusive'
    """
    return max(statuses, key=lambda s: ORDER[s], default="pass")


def error_streak(
    state: dict[str, Any], error: str | None, *, limit: int
) -> tuple[int, JudgeVerdict | None]:
    """Count provider errors in a row; a verdict when this interval is an error.

    Shared by every judge so that a failing provider means the same everywhere: below
    ``limit`` errors in a row the verdict is ``inconclusive`` (an error is never a pass), at
    ``limit`` it is ``error``. A good interval resets the streak.

    >>> error_streak({"errors_in_a_row": 3}, "timeout", limit=4)[1].status
    'error'
    """
    if error is None:
        return 0, None
    streak = int(state.get("errors_in_a_row", 0)) + 1
    inputs = {"errors_in_a_row": streak, "consecutive_error_limit": limit}
    if streak >= limit:
        reason = f"provider error {streak} times in a row (limit {limit}): {error}"
        return streak, JudgeVerdict("error", reason, inputs)
    reason = f"provider error ({streak} of {limit} in a row): {error}"
    return streak, JudgeVerdict("inconclusive", reason, inputs)


def check_positive(name: str, value: float, *, allow_zero: bool = False) -> None:
    """Raise ``ValueError`` for a parameter that must be positive (or non-negative)."""
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}, got {value!r}")


__all__ = [
    "DEFAULT_CONSECUTIVE_ERROR_LIMIT",
    "ORDER",
    "IntervalData",
    "Judge",
    "JudgeVerdict",
    "Measurement",
    "Status",
    "VersionInterval",
    "check_positive",
    "error_streak",
    "worst",
]
