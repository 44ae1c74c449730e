"""Parsing of the human units a plan uses: durations (``30s``, ``10m``, ``1h30m``, ``250ms``)
and percentages (``0.5%``).

Durations are seconds as ``float``; percentages are fractions (``0.5%`` -> ``0.005``).
"""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_WHOLE = re.compile(r"^(?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+$")


def parse_duration(text: str | int | float) -> float:
    """Return the number of seconds in ``text``.

    >>> parse_duration("1m30s")
    90.0
    >>> parse_duration("250ms")
    0.25
    """
    if isinstance(text, bool):
        raise ValueError("a duration like 30s, 10m, 1h or 250ms")
    if isinstance(text, int | float):
        if text < 0:
            raise ValueError("a duration that is not negative")
        return float(text)
    compact = text.strip().replace(" ", "")
    if not _WHOLE.match(compact):
        raise ValueError(f"a duration like 30s, 10m, 1h or 250ms, not {text!r}")
    return sum(float(n) * _UNITS[u] for n, u in _PART.findall(compact))


def format_duration(seconds: float) -> str:
    """Render seconds the way a plan would write them.

    >>> format_duration(90)
    '1m30s'
    >>> format_duration(0.25)
    '250ms'
    """
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    out = ""
    if hours:
        out += f"{hours}h"
    if minutes:
        out += f"{minutes}m"
    if secs or not out:
        out += f"{secs}s"
    return out


def parse_percent(text: str | int | float) -> float:
    """Return a fraction: ``"0.5%"`` -> 0.005. A bare number is taken as a fraction already.

    >>> parse_percent("25%")
    0.25
    """
    if isinstance(text, bool):
        raise ValueError("a percentage like 0.5%")
    if isinstance(text, int | float):
        return float(text)
    s = text.strip()
    if s.endswith("%"):
        try:
            return float(s[:-1]) / 100.0
        except ValueError:
            raise ValueError(f"a percentage like 0.5%, not {text!r}") from None
    try:
        return float(s)
    except ValueError:
        raise ValueError(f"a percentage like 0.5% or a fraction like 0.005, not {text!r}") from None
