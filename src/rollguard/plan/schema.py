"""The shape of a plan, read from the models: JSON Schema, the Markdown reference, and the
type introspection that the loader uses to explain errors.

The models in :mod:`rollguard.plan.model` are the single source of truth. Everything a user
reads about the plan format is generated from them: ``json_schema()`` for editors and
``reference_markdown()`` for ``docs/plan-reference.md``. A test regenerates the reference and
fails when the committed file differs, or when a field has no description. Regenerate with::

    python -m rollguard.plan.schema > docs/plan-reference.md

:func:`shape_of` unwraps a field annotation (``Annotated``, ``X | None``, nested ``FieldInfo``)
into a :class:`Shape`: the bare type, its flattened constraints, the unit it is written in
(duration, threshold, fraction) and the discriminator of a tagged union. The loader walks
shapes along a pydantic error location to drop union tags and to say what was expected.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from inspect import cleandoc
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel, BeforeValidator
from pydantic.fields import FieldInfo

from rollguard.durations import format_duration
from rollguard.plan import base as units
from rollguard.plan import model


def _before(alias: Any) -> Any:
    return next(m.func for m in alias.__metadata__ if isinstance(m, BeforeValidator))


_UNITS: dict[Any, str] = {
    _before(units.Duration): "duration",
    _before(units.Threshold): "threshold",
    _before(units.Fraction): "fraction",
}


@dataclass(frozen=True)
class Shape:
    """What one place of a plan holds: a bare type plus what the annotations said about it."""

    tp: Any
    constraints: tuple[Any, ...] = ()
    unit: str | None = None
    discriminator: str | None = None

    @property
    def origin(self) -> Any:
        return get_origin(self.tp)

    def is_model(self) -> bool:
        return isinstance(self.tp, type) and issubclass(self.tp, BaseModel)

    def members(self) -> list[type[BaseModel]]:
        """The models of a tagged union (empty for anything else)."""
        if self.discriminator is None:
            return []
        return [m for m in get_args(self.tp) if isinstance(m, type) and issubclass(m, BaseModel)]

    def tags(self) -> dict[str, type[BaseModel]]:
        """Tag value -> model, for a tagged union."""
        out: dict[str, type[BaseModel]] = {}
        for member in self.members():
            field = member.model_fields[self.discriminator or ""]
            for tag in get_args(field.annotation):
                out[str(tag)] = member
        return out


def shape_of(annotation: Any, field: FieldInfo | None = None) -> Shape:
    """Unwrap ``annotation`` (with the constraints of ``field``, when given) into a Shape."""
    meta: list[Any] = list(field.metadata) if field is not None else []
    tp = annotation
    while True:
        if get_origin(tp) is Annotated:
            meta.extend(tp.__metadata__)
            tp = get_args(tp)[0]
            continue
        if get_origin(tp) in (Union, types.UnionType):
            rest = [a for a in get_args(tp) if a is not type(None)]
            if len(rest) == 1:
                tp = rest[0]
                continue
        break
    flat: list[Any] = []
    for item in meta:  # a nested FieldInfo carries its own metadata
        flat.extend([item, *item.metadata] if isinstance(item, FieldInfo) else [item])
    unit = next((_UNITS[m.func] for m in flat if isinstance(m, BeforeValidator)), None)
    tag = next(
        (m.discriminator for m in flat if isinstance(m, FieldInfo) and m.discriminator), None
    )
    bounds = tuple(m for m in flat if isinstance(m, annotated_types.BaseMetadata))
    return Shape(tp, bounds, unit, tag if isinstance(tag, str) else None)


def yaml_fields(cls: type[BaseModel]) -> dict[str, tuple[str, FieldInfo]]:
    """YAML key (the alias when there is one) -> (attribute name, field), in declared order."""
    return {(f.alias or name): (name, f) for name, f in cls.model_fields.items()}


def bounds_text(shape: Shape) -> str:
    """``0..100``, ``>= 1`` or ``> 0`` from a shape's numeric constraints ('' when none)."""
    low: Any = None
    high: Any = None
    strict = ""
    for c in shape.constraints:
        if isinstance(c, annotated_types.Gt):
            low, strict = c.gt, ">"
        elif isinstance(c, annotated_types.Ge) and low is None:
            low, strict = c.ge, ">="
        elif isinstance(c, annotated_types.Le):
            high = c.le
    if low is not None and high is not None and strict == ">=":
        return f"{low}..{high}"
    parts = [f"{strict} {low}" if low is not None else "", f"<= {high}" if high else ""]
    return " and ".join(p for p in parts if p)


_DURATION = "a duration like 30s, 10m, 1h, 250ms"


def expected_text(shape: Shape | None) -> str:
    """What a place of the plan accepts, in words."""
    if shape is None:
        return "a valid value"
    bounds = bounds_text(shape)
    if shape.unit == "duration":
        above = bounds.startswith("> ")  # every duration is >= 0, only "> 0" is worth saying
        return (
            _DURATION.replace("a duration", f"a duration above {bounds[2:]}")
            if above
            else _DURATION
        )
    if shape.unit == "threshold":
        return "a number, a percentage like 0.5% or a duration like 250ms"
    if shape.unit == "fraction":
        return "a percentage like 0.5% or a fraction like 0.005"
    if shape.discriminator is not None:
        return f"a mapping with {shape.discriminator}: {' or '.join(shape.tags())}"
    if shape.is_model():
        return "a mapping with keys " + ", ".join(yaml_fields(shape.tp))
    if shape.origin is Literal:
        return "one of: " + ", ".join(str(v) for v in get_args(shape.tp))
    if shape.origin is list:
        return f"a list of {expected_text(shape_of(get_args(shape.tp)[0]))}"
    if shape.origin is dict:
        return f"a mapping of names to {expected_text(shape_of(get_args(shape.tp)[1]))}"
    names = {int: "a whole number", float: "a number", str: "text", bool: "true or false"}
    text = names.get(shape.tp, "a value")
    return f"{text} {bounds}" if bounds else text


# ---------------------------------------------------------------------------- models reached


def reachable_models() -> dict[type[BaseModel], list[str]]:
    """Every model reachable from :class:`~rollguard.plan.model.Plan`, with the YAML paths
    where it appears, in breadth-first order."""
    found: dict[type[BaseModel], list[str]] = {model.Plan: ["(top level)"]}
    queue: list[tuple[type[BaseModel], str]] = [(model.Plan, "")]
    while queue:
        cls, prefix = queue.pop(0)
        for key, (_, field) in yaml_fields(cls).items():
            for sub, path in _models_in(shape_of(field.annotation, field), f"{prefix}{key}"):
                if sub not in found:
                    found[sub] = []
                    queue.append((sub, f"{path}."))
                found[sub].append(path)
    return found


def _models_in(shape: Shape, path: str) -> Iterator[tuple[type[BaseModel], str]]:
    if shape.is_model():
        yield shape.tp, path
    elif shape.discriminator:
        for member in shape.members():
            yield member, path
    elif shape.origin is list:
        yield from _models_in(shape_of(get_args(shape.tp)[0]), f"{path}[]")
    elif shape.origin is dict:
        yield from _models_in(shape_of(get_args(shape.tp)[1]), f"{path}.<name>")


# ---------------------------------------------------------------------------- outputs


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a plan file (YAML names), for editors and external validators."""
    return model.Plan.model_json_schema(by_alias=True)


def type_text(shape: Shape) -> str:
    """A short human name of a shape, with links to model sections."""
    if shape.unit is not None:
        return shape.unit
    if shape.is_model():
        return f"[{shape.tp.__name__}](#{shape.tp.__name__.lower()})"
    if shape.discriminator:
        links = ", ".join(type_text(Shape(m)) for m in shape.members())
        return f"one of {links} (by `{shape.discriminator}`)"
    if shape.origin is Literal:
        return " or ".join(f"`{v}`" for v in get_args(shape.tp))
    if shape.origin is list:
        return f"list of {type_text(shape_of(get_args(shape.tp)[0]))}"
    if shape.origin is dict:
        return f"map of string to {type_text(shape_of(get_args(shape.tp)[1]))}"
    names = {str: "string", int: "integer", float: "number", bool: "boolean", Any: "any"}
    text = names.get(shape.tp, getattr(shape.tp, "__name__", str(shape.tp)))
    bounds = bounds_text(shape)
    return f"{text} ({bounds})" if bounds else text


def _default_text(field: FieldInfo, shape: Shape) -> str:
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True, validated_data={})
    if value is None:
        return "—"
    if isinstance(value, BaseModel):
        return "its defaults"
    if shape.unit == "duration" and isinstance(value, int | float):
        return f"`{format_duration(value)}`"
    if isinstance(value, str):
        return f'`"{value}"`'
    return f"`{value}`"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def reference_markdown() -> str:
    """The plan reference in Markdown: one section per model, one table row per field."""
    lines = [
        "# Plan reference",
        "",
        "Every key a plan file (`apiVersion: rollguard/v1`) may hold, generated from the models "
        "in `src/rollguard/plan/model.py`. Regenerate with "
        "`python -m rollguard.plan.schema > docs/plan-reference.md`.",
        "",
        "Units: a *duration* is written `30s`, `10m`, `1h30m`, `250ms` or a number of seconds; "
        "a *fraction* is `0.5%` or `0.005`; a *threshold* is a number, a percentage (`0.5%`) "
        "or a duration (`250ms`, compared in seconds). Strings may hold `${...}` templates: "
        "`${stable.url}`, `${candidate.url}`, `${router.url}`, `${run.id}`, `${env.NAME}`, ... "
        "(`$${` is a literal `${`).",
    ]
    for cls, paths in reachable_models().items():
        lines += ["", f"## {cls.__name__}", "", cleandoc(cls.__doc__ or "")]
        lines += ["", "Appears at: " + ", ".join(f"`{p}`" for p in paths), ""]
        lines += ["| field | type | default | description |", "|---|---|---|---|"]
        for key, (_, field) in yaml_fields(cls).items():
            shape = shape_of(field.annotation, field)
            row = [f"`{key}`", type_text(shape), _default_text(field, shape)]
            row.append(field.description or "")
            lines.append("| " + " | ".join(_cell(c) for c in row) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Print the Markdown reference (or, with ``--json``, the JSON Schema) to stdout."""
    import json

    args = sys.argv[1:] if argv is None else argv
    if args == ["--json"]:
        sys.stdout.write(json.dumps(json_schema(), indent=2) + "\n")
    else:
        sys.stdout.write(reference_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
