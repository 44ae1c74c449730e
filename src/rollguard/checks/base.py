"""The ``Check`` extension point: a pass/fail probe that leaves evidence behind.

A check never passes by accident: a timeout, a missing binary or an unreachable URL is status
``error``, which counts as a failure everywhere a check gates progress.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

CheckStatus = Literal["passed", "failed", "error"]


@dataclass(frozen=True)
class CheckContext:
    """Where a check runs and where it leaves its evidence."""

    evidence_dir: Path  # a folder of its own for this check run; created by the caller
    base_dir: Path  # the plan file's folder: relative cwd and artifact globs start here
    env: dict[str, str] = field(default_factory=dict)  # extra environment for commands


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check run."""

    name: str
    kind: str
    status: CheckStatus
    summary: str  # one line: why it passed or failed
    duration: float  # seconds
    details: list[str] = field(default_factory=list)  # one line per expectation
    evidence: list[str] = field(default_factory=list)  # files written, relative to evidence_dir

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "status": self.status,
            "summary": self.summary,
            "duration": round(self.duration, 3),
            "details": list(self.details),
            "evidence": list(self.evidence),
        }


class Check(Protocol):
    """Runs one check spec of its kind."""

    async def run(self, spec: Any, ctx: CheckContext) -> CheckResult:
        """Run ``spec`` (already rendered: no ``${...}`` left) and report the outcome."""
        ...
