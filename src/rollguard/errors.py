"""The whole exception tree of rollguard, in one place.

::

    RollguardError
    ├── PlanError            user-fixable plan problem (exit code 2); carries every issue found
    ├── StoreError           the event store cannot be read or written
    │   └── RolloutNotFound  no rollout with that id
    ├── GateRefused          an approval or sign-off that the plan does not allow
    ├── TemporaryError       a failure that may pass if retried after ``delay`` seconds
    ├── PermanentError       a failure that retrying will not fix
    └── CheckFailed          a check ran and its expectations did not hold

Errors are raised inside and caught only at boundaries: the runner turns a plugin's exception
into an outcome plus an event, the CLI maps errors to exit codes.
"""

from __future__ import annotations

from dataclasses import dataclass


class RollguardError(Exception):
    """Base of every error rollguard raises on purpose."""

    def __init__(
        self, message: str, *, rollout_id: str | None = None, step: int | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.rollout_id = rollout_id
        self.step = step


@dataclass(frozen=True)
class PlanIssue:
    """One problem in a plan file: where it is and what was expected."""

    file: str
    line: int | None
    column: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"


class PlanError(RollguardError):
    """The plan is invalid. ``issues`` holds every problem found, not only the first."""

    def __init__(self, issues: list[PlanIssue]) -> None:
        self.issues = issues
        super().__init__("\n".join(str(i) for i in issues) or "invalid plan")


class StoreError(RollguardError):
    """The event store cannot be read or written."""


class RolloutNotFound(StoreError):
    """No rollout with the given id exists in the store."""


class GateRefused(RollguardError):
    """An approval, sign-off or abort that the plan or the rollout's state does not allow."""


class TemporaryError(RollguardError):
    """A failure that may pass when retried after ``delay`` seconds (a provider timeout)."""

    def __init__(self, message: str, *, delay: float = 1.0, **kwargs: object) -> None:
        super().__init__(message, **kwargs)  # type: ignore[arg-type]
        self.delay = delay


class PermanentError(RollguardError):
    """A failure that retrying will not fix (a missing binary, a bad query)."""


class CheckFailed(RollguardError):
    """A check ran and at least one of its expectations did not hold."""


__all__ = [
    "CheckFailed",
    "GateRefused",
    "PermanentError",
    "PlanError",
    "PlanIssue",
    "RollguardError",
    "RolloutNotFound",
    "StoreError",
    "TemporaryError",
]
