"""Renderers of the migration audit (:mod:`rollguard.evidence.report`): one module per format.

They format the report's data and nothing else: no store, no plan, no file reads, so the
same data always renders the same document. Shared wording lives here.
"""

from __future__ import annotations

import datetime as dt

STATUS_WORDS = {
    "passed": "passed",
    "failed": "FAILED",
    "error": "ERROR",
    "skipped": "skipped",
    "pass": "pass",
    "fail": "FAIL",
    "inconclusive": "inconclusive",
}


def when(at: float | None) -> str:
    """``2026-11-27 14:22:33Z`` (UTC), or ``-`` when there is no time.

    >>> when(0.0)
    '1970-01-01 00:00:00Z'
    """
    if at is None:
        return "-"
    return dt.datetime.fromtimestamp(at, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def clock(at: float | None) -> str:
    """``14:22:33`` (UTC), or ``-``."""
    if at is None:
        return "-"
    return dt.datetime.fromtimestamp(at, tz=dt.UTC).strftime("%H:%M:%S")


def duration(seconds: float | None) -> str:
    """``42.0s``, ``12m05s``, ``2h03m``, or ``-``."""
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.1f}s"
    s = int(seconds)
    if s < 7200:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def status_word(status: str) -> str:
    """How a check or verdict status reads in the audit (failures in capitals)."""
    return STATUS_WORDS.get(status, status)


def outcome_line(report: dict[str, object]) -> str:
    """``completed (exit code 0)`` or ``in progress (canary)``."""
    code = report.get("exit_code")
    return f"{report['outcome']}" + (f" (exit code {code})" if code is not None else "")
