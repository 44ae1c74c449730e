"""The registry of check kinds, and :func:`run_check`, the one way the engine runs a check.

Runners are classes built with no arguments; the registry maps a plan's ``kind:`` to one.
The built-in kinds are registered here directly, so they work even when the installed entry
points are stale; third-party kinds come from the ``rollguard.checks`` entry point group
(see :mod:`rollguard.plugin`).

:func:`run_check` is a boundary: whatever a runner raises becomes a :class:`CheckResult` with
status ``error``, so a broken check can fail a rollout step but never crash the caller.
Cancellation is not an error and propagates.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rollguard.checks.base import Check, CheckContext, CheckResult
from rollguard.checks.bench import BenchCheckRunner
from rollguard.checks.command import CommandCheckRunner
from rollguard.checks.http import HttpCheckRunner
from rollguard.checks.image import ImageCheckRunner
from rollguard.checks.query import QueryCheckRunner
from rollguard.plugin import Registry

CheckFactory = Callable[[], Check]
"""What the registry holds: a runner class (or any callable building a :class:`Check`)."""

checks: Registry[CheckFactory] = Registry("rollguard.checks")
"""Check runners by kind: ``command``, ``http``, ``query``, ``bench``, ``image`` and any
installed through entry points."""

checks.register("command", CommandCheckRunner)
checks.register("http", HttpCheckRunner)
checks.register("query", QueryCheckRunner)
checks.register("bench", BenchCheckRunner)
checks.register("image", ImageCheckRunner)


async def run_check(
    spec: Any, ctx: CheckContext, *, registry: Registry[CheckFactory] | None = None
) -> CheckResult:
    """Run ``spec`` with the runner registered for ``spec.kind``; never raises for a runner.

    An unknown kind raises :class:`rollguard.plugin.UnknownKind` (plan validation catches it
    first). ``registry`` defaults to :data:`checks`.

    Example::

        result = await run_check(plan.preflight[0], CheckContext(evidence_dir=d, base_dir=b))
        if not result.passed:
            print(result.summary)
    """
    factory = (registry or checks).get(spec.kind)
    started = time.monotonic()
    try:
        return await factory().run(spec, ctx)
    except Exception as exc:  # the boundary: a plugin's bug becomes an outcome
        message = str(exc) or "(no message)"
        return CheckResult(
            name=str(getattr(spec, "name", spec.kind)),
            kind=str(spec.kind),
            status="error",
            summary=f"{type(exc).__name__}: {message}",
            duration=time.monotonic() - started,
            details=[f"the {spec.kind} check raised {type(exc).__name__}: {message}"],
        )


__all__ = ["CheckFactory", "checks", "run_check"]
