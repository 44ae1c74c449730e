"""The JSON record a check keeps of one run, and the result that points at it.

Not a check: the ``bench``, ``image`` and ``query`` checks share it (they may not import each
other). Each fills a dict as it goes (what it asked, what came back, why it failed) and ends,
whatever the outcome, through :func:`finish`: the record gets the status and the duration in
seconds, is written as indented JSON (``bench.json``, ``image.json``, ``query.json``), and is
the first file of the result's evidence, so every run leaves the record behind.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from rollguard.checks.base import CheckResult, CheckStatus


class CheckSpec(Protocol):
    """What a result takes from the spec of the check that ran."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> str: ...


def finish(
    spec: CheckSpec,
    record: dict[str, Any],
    *,
    path: Path,
    started: float,
    status: CheckStatus,
    summary: str,
    details: list[str],
    evidence: Sequence[str] = (),
    default: Callable[[Any], Any] | None = None,
) -> CheckResult:
    """Write ``record`` with its ``status`` and duration to ``path``; the run's result.

    ``started`` is the run's ``time.monotonic()``; ``evidence`` lists the run's other files
    (after the record); ``default`` is ``json.dumps``'s, for values JSON has no type for.

    Example::

        return records.finish(spec, record, path=ctx.evidence_dir / "image.json",
                              started=started, status="failed", summary="tag not found",
                              details=[])
    """
    record["status"] = status
    record["duration"] = round(time.monotonic() - started, 3)
    path.write_text(json.dumps(record, indent=2, default=default) + "\n")
    return CheckResult(
        name=spec.name,
        kind=spec.kind,
        status=status,
        summary=summary,
        duration=time.monotonic() - started,
        details=details,
        evidence=[path.name, *evidence],
    )


__all__ = ["CheckSpec", "finish"]
