"""The maintenance window as a pure function of the time: open now, or when it opens next."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from rollguard.plan.gates import DAYS, WindowSpec


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def is_open(spec: WindowSpec, now: float) -> bool:
    """Whether the window is open at ``now`` (seconds since the epoch).

    A window whose ``end`` is before its ``start`` runs past midnight; the day named is the day
    it opens.

    >>> w = WindowSpec(days=["mon"], start="22:00", end="02:00")
    >>> is_open(w, dt.datetime(2026, 11, 24, 1, 0, tzinfo=dt.UTC).timestamp())  # Tuesday 01:00
    True
    """
    local = dt.datetime.fromtimestamp(now, tz=ZoneInfo(spec.timezone))
    minute = local.hour * 60 + local.minute
    start, end = _minutes(spec.start), _minutes(spec.end)
    today = DAYS[local.weekday()]
    yesterday = DAYS[(local.weekday() - 1) % 7]
    if start <= end:
        return today in spec.days and start <= minute <= end
    return (today in spec.days and minute >= start) or (yesterday in spec.days and minute <= end)


def next_open(spec: WindowSpec, now: float) -> float | None:
    """When the window opens next (``now`` when open; None if it never opens)."""
    if is_open(spec, now):
        return now
    t = (int(now) // 60 + 1) * 60
    for _ in range(8 * 24 * 60):  # minute by minute over a week and a day: bounded and simple
        if is_open(spec, t):
            return float(t)
        t += 60
    return None
