"""The phases of a rollout and the exit code each final outcome maps to.

::

    pending → preflight → baseline → canary → post_validation → awaiting_signoff → completed
                  │           │          │            │
                  └─ failed   └──────────┴────────────┴──► rolling_back → rolled_back
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Phase(StrEnum):
    PENDING = "pending"
    PREFLIGHT = "preflight"
    BASELINE = "baseline"
    CANARY = "canary"
    POST_VALIDATION = "post_validation"
    AWAITING_SIGNOFF = "awaiting_signoff"
    ROLLING_BACK = "rolling_back"
    COMPLETED = "completed"
    ROLLED_BACK = "rolled_back"
    FAILED = "failed"

    @property
    def final(self) -> bool:
        return self in FINAL


FINAL = frozenset({Phase.COMPLETED, Phase.ROLLED_BACK, Phase.FAILED})
"""Phases a rollout never leaves."""

TRAFFIC_PHASES = frozenset({Phase.CANARY, Phase.POST_VALIDATION})
"""Phases in which triggers are evaluated (once the candidate has had traffic)."""


class ExitCode(IntEnum):
    """Exit codes of ``rollguard run``/``resume``/``demo`` (and every other command)."""

    COMPLETED = 0
    INTERNAL_ERROR = 1
    INVALID_INPUT = 2
    ROLLED_BACK = 3
    PREFLIGHT_FAILED = 4
    ABORTED = 5


EXIT_CODES_HELP = (
    "Exit codes: 0 completed, 1 internal error, 2 invalid input (plan or arguments), "
    "3 rolled back, 4 preflight failed, 5 aborted."
)
