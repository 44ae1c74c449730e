"""JSON values as a check compares and reports them.

Shared by the ``json:`` expectations (:mod:`rollguard.checks.expect`) and the ``query`` check,
which judge a value against the plan's and quote it in a one-line detail. Equality is JSON's,
not Python's: ``true`` is not ``1``; ``1`` and ``1.0`` are the same number.
"""

from __future__ import annotations

import json
from typing import Any

SHOWN_CHARS = 80
"""The longest a value is quoted in a detail line; a longer one is cut with ``...``."""


def json_equal(a: Any, b: Any) -> bool:
    """JSON equality: ``true`` is not ``1`` (Python says it is).

    >>> json_equal([1, {"a": True}], [1.0, {"a": True}]), json_equal(True, 1)
    (True, False)
    """
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    return bool(a == b)


def show_value(value: Any) -> str:
    """``value`` quoted as JSON for a detail line: whole floats without ``.0``, cut when long.

    >>> show_value(3.0), show_value("ok"), show_value([1, None])
    ('3', '"ok"', '[1, null]')
    """
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = json.dumps(value, default=str)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 3] + "..."


__all__ = ["SHOWN_CHARS", "json_equal", "show_value"]
