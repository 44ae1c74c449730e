"""Renderers of the migration audit (:mod:`rollguard.evidence.report`): one module per format.

They format the report's data and nothing else: no store, no plan, no file reads, so the
same data always renders the same document. Shared wording lives here: the formats of times
and durations, the columns of every table, and the cells of the tables whose cells are plain
text in both formats (phases, steps, approvals), which each renderer then escapes its way.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

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


PHASE_COLUMNS = ("phase", "entered", "lasted", "reason")
STEP_COLUMNS = ("#", "step", "kind", "what", "started", "completed")
CHECK_COLUMNS = ("check", "kind", "status", "summary", "took", "evidence")
TRIGGER_COLUMNS = (
    "trigger",
    "metric",
    "bounds",
    "last verdict",
    "candidate",
    "baseline",
    "samples",
    "reason",
)
APPROVAL_COLUMNS = ("step", "role", "by", "at", "note")
ACTION_COLUMNS = ("action", "kind", "result", "detail", "evidence")


def phase_rows(report: dict[str, Any]) -> list[list[Any]]:
    """The cells of the phases table (:data:`PHASE_COLUMNS`), unescaped."""
    return [
        [
            p["phase"],
            when(p["at"]),
            duration(p["until"] - p["at"]) if p["until"] else "-",
            p["reason"] or "",
        ]
        for p in report["phases"]
    ]


def step_rows(report: dict[str, Any]) -> list[list[Any]]:
    """The cells of the steps table (:data:`STEP_COLUMNS`), unescaped."""
    return [
        [
            s["number"],
            s["name"],
            s["kind"],
            s["detail"],
            clock(s["started"]),
            clock(s["completed"]),
        ]
        for s in report["steps"]
    ]


def approval_rows(report: dict[str, Any]) -> list[list[Any]]:
    """The cells of the approvals table (:data:`APPROVAL_COLUMNS`), unescaped."""
    return [
        [
            f"{a['step']}" + (f" ({a['step_name']})" if a["step_name"] else ""),
            a["role"],
            a["by"],
            when(a["at"]),
            a["note"],
        ]
        for a in report["approvals"]
    ]
