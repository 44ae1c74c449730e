"""The ``{{name}}`` placeholders of a metric source, and the values they are filled with.

A metric's query, URL, headers, command or file globs may name the version being measured and
the window: ``{{version}}``, ``{{role}}`` (``stable`` or ``candidate``), ``{{window}}`` (whole
seconds, e.g. ``30s``), ``{{since}}`` and ``{{until}}`` (Unix seconds), plus any label the
runner passes. They are filled in at each observation, once per version. The double-brace
syntax keeps them apart from the plan's ``${...}`` templates, which are filled in once when the
rollout starts.

This is not a provider: the providers share it, and each says how a value is quoted where it
lands (URL-encoded, shell-quoted, a glob escaped, a PromQL string escaped). A name that has no
value is a :class:`PlaceholderError`, which a provider reports as a measurement error.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable, Mapping, Sequence

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")


class PlaceholderError(ValueError):
    """A ``{{name}}`` with no value; the message lists the names that have one."""

    def __init__(self, name: str, known: Iterable[str], *, where: str = "") -> None:
        self.name = name
        self.known = sorted(known)
        inside = f" in {where}" if where else ""
        super().__init__(
            f"unknown template {{{{{name}}}}}{inside} (known: {', '.join(self.known)})"
        )


def window_values(
    labels: Mapping[str, str], *, version: str, since: float, until: float
) -> dict[str, str]:
    """The values of the placeholders for one version over ``[since, until]``.

    ``version`` is the role measured (``stable`` or ``candidate``); ``labels`` come from the
    runner (``version`` is the plan's version label) and may override ``role``.

    >>> window_values({"version": "go"}, version="candidate", since=1000.2, until=1029.9)
    {'role': 'candidate', 'version': 'go', 'window': '30s', 'since': '1000', 'until': '1029'}
    """
    return {
        "role": version,
        **labels,
        "window": f"{max(1, round(until - since))}s",
        "since": str(int(since)),
        "until": str(int(until)),
    }


def fill(
    text: str,
    values: Mapping[str, str],
    *,
    quote: Callable[[str], str] = str,
    where: str = "",
) -> str:
    """Fill in ``{{name}}`` placeholders, each value passed through ``quote``.

    ``where`` names the text in the error for an unknown name (``query``: "... in query").

    >>> fill("rate.sh {{ version }} {{window}}", {"version": "go", "window": "30s"})
    'rate.sh go 30s'
    >>> fill("/v/{{version}}", {"version": "go 1"}, quote=lambda v: v.replace(" ", "+"))
    '/v/go+1'
    """

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise PlaceholderError(name, values, where=where)
        return quote(values[name])

    return _PLACEHOLDER.sub(one, text)


def fill_command(
    values: Mapping[str, str], *, argv: Sequence[str] | None, shell: str | None
) -> list[str] | str:
    """The command of a metric source with its placeholders filled in: ``argv`` when given
    (each argument filled as is), else the ``shell`` line (each value shell-quoted).

    >>> fill_command({"version": "go 1"}, argv=["rate.sh", "{{version}}"], shell=None)
    ['rate.sh', 'go 1']
    >>> fill_command({"version": "go 1"}, argv=None, shell="rate.sh {{version}}")
    "rate.sh 'go 1'"
    """
    if argv is not None:
        return [fill(arg, values) for arg in argv]
    return fill(shell or "", values, quote=shlex.quote)


__all__ = ["PlaceholderError", "fill", "fill_command", "window_values"]
