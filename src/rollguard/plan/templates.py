"""``${...}`` templates in plan strings, filled in at run time.

A plan string may refer to values that only exist once a rollout runs: where the candidate
listens, the run's id and folder, an environment variable. The grammar is deliberately tiny:

- ``${name}`` is replaced by the value of ``name``; ``name`` is one of :data:`TEMPLATE_NAMES`
  or ``env.NAME`` (an environment variable of the controller);
- ``${env.NAME:-default}`` uses ``default`` when ``NAME`` is not set (environment only);
- ``$${`` is a literal ``${`` (so a shell snippet can keep its own ``${HOME}``);
- a ``${`` without its closing ``}`` is an error.

Substitution is a single pass: a value that itself contains ``${`` is inserted as is and never
expanded again, so an environment variable cannot inject a template.

Names are checked when the plan is loaded (:func:`unknown_name_message`, used by the loader),
so at run time the only thing that can be missing is an environment variable, which is a
:class:`~rollguard.errors.PermanentError` (retrying will not set it). This module is pure: the
caller passes the context and the environment in.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pydantic import BaseModel

from rollguard import errors

TEMPLATE_NAMES: tuple[str, ...] = (
    "stable.url",
    "stable.version",
    "candidate.url",
    "candidate.version",
    "router.url",
    "run.id",
    "run.dir",
    "plan.dir",
    "run.python",
)
"""The fixed names a template may use, besides ``env.NAME``."""

ENV_PREFIX = "env."

# Alternatives are tried left to right: the escape first, then a closed reference, then a
# lone opener, which can only be unterminated.
_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

M = TypeVar("M", bound=BaseModel)


class TemplateSyntaxError(ValueError):
    """A ``${`` without its closing ``}``; ``offset`` is where it starts in the text."""

    def __init__(self, text: str, offset: int) -> None:
        super().__init__(
            f"unterminated template at {text[offset : offset + 20]!r} "
            "(expected ${name}; write $${ for a literal ${)"
        )
        self.offset = offset


@dataclass(frozen=True)
class Reference:
    """One ``${name}`` found in a text, with the offset of its ``$``."""

    name: str
    offset: int
    default: str | None = None  # from ``${env.NAME:-default}``


def _split_default(body: str) -> tuple[str, str | None]:
    name, sep, default = body.partition(":-")
    return name.strip(), (default if sep else None)


def references(text: str) -> list[Reference]:
    """Every ``${name}`` in ``text`` in order, escapes skipped.

    >>> [r.name for r in references("curl ${candidate.url}/status $${HOME}")]
    ['candidate.url']

    Raises :class:`TemplateSyntaxError` for an unterminated ``${``.
    """
    out: list[Reference] = []
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token == "$${":
            continue
        if match.group(1) is None:
            raise TemplateSyntaxError(text, match.start())
        name, default = _split_default(match.group(1))
        out.append(Reference(name, match.start(), default))
    return out


def find_names(text: str) -> list[str]:
    """The names referenced in ``text``, in order (duplicates kept).

    >>> find_names("${stable.url} and ${env.TOKEN}, not $${literal}")
    ['stable.url', 'env.TOKEN']
    """
    return [r.name for r in references(text)]


def is_known(name: str, *, default: str | None = None) -> bool:
    """Whether ``name`` may appear in a template (a fixed name or ``env.NAME``); only
    environment references may carry a ``:-default``."""
    if default is not None and not name.startswith(ENV_PREFIX):
        return False
    if name.startswith(ENV_PREFIX):
        return _ENV_NAME.fullmatch(name[len(ENV_PREFIX) :]) is not None
    return name in TEMPLATE_NAMES


def unknown_name_message(name: str) -> str:
    """A message for a name that :func:`is_known` refuses, with a suggestion when one is close.

    >>> unknown_name_message("candidate.uri").split(" (")[0]
    "unknown template name 'candidate.uri'"
    """
    if name.startswith(ENV_PREFIX):
        return (
            f"{name!r} is not a valid environment variable name "
            "(expected env.NAME with NAME made of letters, digits and _)"
        )
    close = difflib.get_close_matches(name, TEMPLATE_NAMES, n=1)
    hint = f"did you mean '{close[0]}'? " if close else ""
    known = ", ".join(TEMPLATE_NAMES)
    return f"unknown template name {name!r} ({hint}known: {known}; environment: env.NAME)"


def render_text(text: str, context: Mapping[str, str], *, env: Mapping[str, str]) -> str:
    """Fill in every template of one string.

    >>> render_text("${candidate.url}/status", {"candidate.url": "http://c"}, env={})
    'http://c/status'
    """
    pieces: list[str] = []
    last = 0
    for match in _TOKEN.finditer(text):
        pieces.append(text[last : match.start()])
        last = match.end()
        if match.group(0) == "$${":
            pieces.append("${")
            continue
        if match.group(1) is None:
            raise errors.PermanentError(str(TemplateSyntaxError(text, match.start())))
        name, default = _split_default(match.group(1))
        pieces.append(_value(name, context, env, default))
    pieces.append(text[last:])
    return "".join(pieces)


def _value(
    name: str, context: Mapping[str, str], env: Mapping[str, str], default: str | None = None
) -> str:
    if name.startswith(ENV_PREFIX):
        var = name[len(ENV_PREFIX) :]
        if var not in env and default is not None:
            return default
        if var not in env:
            raise errors.PermanentError(
                f"environment variable {var} is not set (the plan uses ${{{name}}})"
            )
        return env[var]
    if name not in context:
        raise errors.PermanentError(f"template name {name!r} has no value in this rollout")
    return context[name]


def render(value: Any, context: Mapping[str, str], *, env: Mapping[str, str]) -> Any:
    """Fill in the templates of every string inside ``value`` (lists, tuples, dict values).

    Mapping keys and non-string scalars are returned unchanged.

    >>> render({"url": "${router.url}/x", "n": 3}, {"router.url": "http://r"}, env={})
    {'url': 'http://r/x', 'n': 3}
    """
    if isinstance(value, str):
        return render_text(value, context, env=env)
    if isinstance(value, Mapping):
        return {k: render(v, context, env=env) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(render(v, context, env=env) for v in value)
    return value


def render_model(m: M, context: Mapping[str, str], *, env: Mapping[str, str]) -> M:
    """A copy of the model ``m`` with its templates filled in, validated again.

    >>> from rollguard.plan import model
    >>> check = model.HttpCheck(kind="http", name="s", url="${candidate.url}/status")
    >>> render_model(check, {"candidate.url": "http://c"}, env={}).url
    'http://c/status'
    """
    data = m.model_dump(by_alias=True)
    return type(m).model_validate(render(data, context, env=env))


__all__ = [
    "TEMPLATE_NAMES",
    "Reference",
    "TemplateSyntaxError",
    "find_names",
    "is_known",
    "references",
    "render",
    "render_model",
    "render_text",
    "unknown_name_message",
]
