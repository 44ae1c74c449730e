"""Reading a metric's number out of what its source answered: text or a JSON document.

Shared by the providers that parse an answer themselves (``command``, ``http``). A value that
is not a finite number, and a path that leads nowhere, are a :class:`ReadingError`, which a
provider reports as a measurement error, never as a pass. Paths follow the small grammar of
:mod:`rollguard.jsonpath` (``data.items[0].rate``, an optional leading ``$``).
"""

from __future__ import annotations

import math
from typing import Any

from rollguard import jsonpath


class ReadingError(ValueError):
    """The answer holds no usable number where the spec says to read it."""


def number(raw: Any) -> float:
    """A finite number from a JSON value (a number, or text holding one) or a line of text.

    >>> number(" 12 "), number(0.5), number("0.25")
    (12.0, 0.5, 0.25)
    """
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise ReadingError(f"not a number: {raw!r}")
    try:
        value = float(raw)
    except ValueError:
        raise ReadingError(f"not a number: {str(raw)[:200]!r}") from None
    if not math.isfinite(value):
        raise ReadingError(f"not a finite number: {raw!r}")
    return value


def at_path(doc: Any, path: str, *, where: str) -> Any:
    """The value at a dotted path (``data.items[0].rate``) of ``doc``; a
    :class:`ReadingError` naming ``where`` when nothing is there.

    >>> at_path({"data": {"rates": [0.1, 0.2]}}, "data.rates[-1]", where="the answer")
    0.2
    """
    try:
        value = jsonpath.resolve(doc, path)
    except jsonpath.PathError as exc:
        raise ReadingError(str(exc)) from None
    if value is jsonpath.MISSING:
        raise ReadingError(f"nothing at {path!r} in {where}")
    return value


__all__ = ["ReadingError", "at_path", "number"]
