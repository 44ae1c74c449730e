"""A tiny dotted-path resolver for JSON documents: ``summary.failed``, ``items[0].id``.

One reader for every dotted path a plan holds: the ``json:`` expectations and captures of the
checks, and the ``path``/``samples_path`` of the metric providers. Pure (no I/O), so both
layers may import it. The grammar is deliberately small::

    path    := segment ( "." segment )*
    segment := name? ( "[" integer "]" )*

A name is any run of characters other than ``.``, ``[`` and ``]`` (no quoting). Indexes may
be negative (``items[-1]`` is the last item). A path of ``$`` or the empty string is the
document itself, and a leading ``$.`` is accepted and ignored.

Resolution never raises on the document's shape: a missing key, an index out of range or a
step into a scalar all return :data:`MISSING`, which callers compare with ``is``. Only a path
that does not follow the grammar raises :class:`PathError` (a plan mistake, not a data one).
"""

from __future__ import annotations

import re
from typing import Any, Final

_SEGMENT = re.compile(r"([^.\[\]]*)((?:\[-?\d+\])*)")
_INDEX = re.compile(r"\[(-?\d+)\]")


class _Missing:
    """The type of :data:`MISSING` (one instance only): falsy, printed as ``<missing>``."""

    def __repr__(self) -> str:
        return "<missing>"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()
"""What :func:`resolve` returns when the path leads nowhere in the document."""


class PathError(ValueError):
    """The path does not follow the grammar (for example ``a..b`` or ``a[x]``)."""


Step = str | int


def parse(path: str) -> list[Step]:
    """Split ``path`` into keys (``str``) and indexes (``int``).

    >>> parse("items[0].id")
    ['items', 0, 'id']
    >>> parse("$")
    []
    """
    text = path.strip()
    if text in ("", "$"):
        return []
    if text.startswith("$."):
        text = text[2:]
    elif text.startswith("$["):
        text = text[1:]
    steps: list[Step] = []
    for raw in text.split("."):
        match = _SEGMENT.fullmatch(raw)
        if match is None or not raw:
            raise PathError(f"invalid JSON path {path!r} (expected a.b[0].c)")
        name, indexes = match.groups()
        if name:
            steps.append(name)
        steps.extend(int(i) for i in _INDEX.findall(indexes))
    return steps


def resolve(document: Any, path: str) -> Any:
    """The value at ``path`` in ``document``, or :data:`MISSING`.

    >>> resolve({"items": [{"id": 7}]}, "items[0].id")
    7
    >>> resolve({"items": []}, "items[0].id") is MISSING
    True
    """
    value = document
    for step in parse(path):
        if isinstance(step, int):
            if not isinstance(value, list) or not -len(value) <= step < len(value):
                return MISSING
            value = value[step]
        else:
            if not isinstance(value, dict) or step not in value:
                return MISSING
            value = value[step]
    return value


__all__ = ["MISSING", "PathError", "parse", "resolve"]
