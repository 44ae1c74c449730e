"""Load a plan file: YAML -> validated :class:`~rollguard.plan.model.Plan`, or every problem.

A plan is read in three passes, and all problems of the last two are reported together in one
:class:`~rollguard.errors.PlanError`, sorted by line, each as ``FILE:LINE:COL: path: message``:

1. **YAML.** ruamel.yaml's round-trip loader keeps the line and column of every key and list
   item (``.lc``). Syntax errors and duplicate keys stop here with a single issue, since the
   structure after them cannot be trusted. A plan of another ``apiVersion`` stops here too:
   its keys would be judged against the wrong schema.
2. **Models.** The data, converted to plain Python values, is validated by pydantic. Each error
   location (``('steps', 1, 'smoke', 0, 'http', 'url')``) is walked along the model types
   (:func:`rollguard.plan.schema.shape_of`) to drop union tags, to find the YAML node and to
   know what was expected there, so that messages read ``steps[1].weight: 120 is too large
   (expected a whole number 0..100)`` instead of pydantic's wording. Errors raised by a
   plan-wide validator start with the path they concern; that path is located too.
3. **Templates.** Every string is scanned for ``${...}``; unknown names and unterminated
   templates are reported where they occur.

The loader never mutates or re-orders the text: :class:`LoadedPlan` keeps the exact text so
that a resumed rollout parses what the original one ran.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from rollguard.errors import PlanError, PlanIssue
from rollguard.plan import model, schema, templates

Part = str | int


@dataclass(frozen=True)
class LoadedPlan:
    """A validated plan with where it came from.

    ``path`` is the resolved file (or the ``filename`` given to :func:`parse_plan`), ``text``
    the exact text validated (what a rollout stores, so that resuming parses the same plan),
    ``base_dir`` the resolved folder that relative paths of the plan (``cwd:``) start from.
    """

    plan: model.Plan
    path: Path
    text: str
    base_dir: Path


def load_plan(path: str | Path) -> LoadedPlan:
    """Read and validate the plan file at ``path``; raise :class:`PlanError` listing every
    problem.

    >>> load_plan("examples/chat/plan.yaml").plan.name  # doctest: +SKIP
    'chat-node-to-go'
    """
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise _fatal(str(path), "no such file (expected the path of a plan YAML file)") from None
    except IsADirectoryError:
        raise _fatal(str(path), "is a folder (expected the path of a plan YAML file)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise _fatal(str(path), f"cannot be read: {exc}") from None
    loaded = parse_plan(text, filename=str(path), base_dir=file.parent)
    return LoadedPlan(loaded.plan, file.resolve(), text, loaded.base_dir)


PlanRule = Callable[[model.Plan], list[tuple[str, str]]]
"""A check a higher layer adds (e.g. "this judge is installed"): (dotted path, message) pairs."""

_rules: list[PlanRule] = []


def add_rule(rule: PlanRule) -> None:
    """Register a plan rule that every load applies after the models validated.

    Rules let the layers above the plan (judges, plugins) report problems with the same file,
    line and field as the models do.
    """
    if rule not in _rules:
        _rules.append(rule)


def parse_plan(text: str, *, filename: str, base_dir: Path) -> LoadedPlan:
    """Validate plan ``text``; ``filename`` is only used in messages.

    >>> parse_plan("apiVersion: 3", filename="p.yaml", base_dir=Path("."))
    Traceback (most recent call last):
    rollguard.errors.PlanError: p.yaml:1:1: apiVersion: 3 is not a supported apiVersion ...
    """
    raw = _read_yaml(text, filename)
    issues = _template_issues(raw, filename)
    try:
        plan = model.Plan.model_validate(_plain(raw))
    except ValidationError as exc:
        issues += [_issue(err, raw, filename) for err in exc.errors()]
    else:
        for rule in _rules:
            for dotted, message in rule(plan):
                parts = _parse_path(dotted)
                line, col = _locate(raw, parts)
                issues.append(PlanIssue(filename, line, col, dotted, message))
    if issues:
        unique = dict.fromkeys(issues)
        raise PlanError(sorted(unique, key=lambda i: (i.line or 0, i.column or 0, i.path)))
    return LoadedPlan(plan, Path(filename), text, base_dir.resolve())


# ---------------------------------------------------------------------------- YAML


def _fatal(
    filename: str, message: str, *, line: int | None = None, col: int | None = None, path: str = ""
) -> PlanError:
    return PlanError([PlanIssue(filename, line, col, path, message)])


def _read_yaml(text: str, filename: str) -> CommentedMap:
    yaml = YAML(typ="rt")
    try:
        raw = yaml.load(text)
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark is not None else (None, None)
        problem = str(exc.problem or exc.context or "invalid YAML")
        dup = re.match(r'found duplicate key "(.*?)"', problem)
        if dup:
            key = dup.group(1)
            where = _mapping_at(text, exc.context_mark)
            path = _dotted([*where, key]) if where is not None else key
            message = f"duplicate key '{key}' (each key may appear once per mapping)"
            raise _fatal(filename, message, line=line, col=col, path=path) from None
        raise _fatal(filename, f"invalid YAML: {problem}", line=line, col=col) from None
    except YAMLError as exc:
        raise _fatal(filename, f"invalid YAML: {exc}") from None
    if raw is None:
        raise _fatal(filename, f"the plan is empty (expected a mapping, {_TOP})", line=1, col=1)
    if not isinstance(raw, CommentedMap):
        what = "a list" if isinstance(raw, list) else f"{raw!r}"
        raise _fatal(filename, f"the top level is {what} (expected a mapping, {_TOP})", line=1)
    version = raw.get("apiVersion")
    if "apiVersion" in raw and version != model.API_VERSION:
        line, col = _locate(raw, ["apiVersion"])
        message = f"{version!r} is not a supported apiVersion (expected {model.API_VERSION})"
        raise _fatal(filename, message, line=line, col=col, path="apiVersion")
    return raw


def _mapping_at(text: str, mark: Any) -> list[Part] | None:
    """The path of the mapping that starts at ``mark``, read again with duplicates allowed."""
    yaml = YAML(typ="rt")
    yaml.allow_duplicate_keys = True
    try:
        raw = yaml.load(text)
    except YAMLError:
        return None

    def find(node: Any, parts: list[Part]) -> list[Part] | None:
        if isinstance(node, CommentedMap) and (node.lc.line, node.lc.col) == (
            mark.line,
            mark.column,
        ):
            return parts
        children = node.items() if isinstance(node, dict) else enumerate(node)
        for k, v in children if isinstance(node, dict | list) else ():
            found = find(v, [*parts, k])
            if found is not None:
                return found
        return None

    return find(raw, []) if mark is not None else None


_TOP = f"starting with apiVersion: {model.API_VERSION}, then name, stable, candidate, steps"


def _plain(node: Any) -> Any:
    """Plain Python values (no ruamel subclasses) so that models hold ordinary data."""
    if isinstance(node, dict):
        return {_plain(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    for kind in (bool, str, int, float):  # bool first: ruamel's booleans subclass int
        if isinstance(node, kind):
            return kind(node)
    return node


def _locate(raw: CommentedMap, parts: list[Part]) -> tuple[int, int]:
    """1-based (line, column) of the deepest node of ``parts`` that exists: the key of a
    mapping entry or the start of a list item; for a missing key, its parent."""
    node: Any = raw
    line, col = raw.lc.line, raw.lc.col
    for part in parts:
        if isinstance(node, CommentedMap) and part in node:
            # a key merged in with `<<: *anchor` has its position in the anchored mapping
            merged = [node, *(m[-1] if isinstance(m, tuple) else m for m in node.merge)]
            owners = [m for m in merged if isinstance(m, CommentedMap) and part in m.lc.data]
            owner = owners[0] if owners else None
            if owner is not None:
                line, col = owner.lc.key(part)
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and part < len(node):
            line, col = node.lc.item(part)
        else:
            break
        node = node[part]
    return line + 1, col + 1


def _dotted(parts: list[Part]) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


_PATH = re.compile(r"^([A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[\d+\])*): (.+)$", re.DOTALL)


def _parse_path(text: str) -> list[Part]:
    return [int(p) if p.isdigit() else p for p in re.findall(r"[A-Za-z_]\w*|\d+", text)]


# ---------------------------------------------------------------------------- model errors


@dataclass
class _Target:
    """Where a pydantic error location leads in the plan."""

    parts: list[Part]
    shape: schema.Shape | None  # what the located place holds, None when unknown
    owner: type[BaseModel] | None  # the model in which the last key was looked up


def _resolve(loc: tuple[int | str, ...]) -> _Target:
    shape: schema.Shape | None = schema.Shape(model.Plan)
    target = _Target([], shape, None)
    for elem in loc:
        if elem == "[key]":
            continue
        if shape is not None and shape.discriminator is not None:
            member = shape.tags().get(str(elem))
            shape = schema.Shape(member) if member is not None else None
            if member is not None:
                continue  # the tag of a union member is not part of the YAML path
        target.parts.append(elem)
        if shape is None:
            continue
        args = get_args(shape.tp)
        if shape.is_model():
            target.owner = shape.tp
            field = schema.yaml_fields(shape.tp).get(str(elem))
            shape = schema.shape_of(field[1].annotation, field[1]) if field else None
        elif shape.origin is list and isinstance(elem, int):
            shape = schema.shape_of(args[0])
        elif shape.origin is dict:
            shape = schema.shape_of(args[1])
        else:
            shape = None
    target.shape = shape
    return target


def _issue(err: ErrorDetails, raw: CommentedMap, filename: str) -> PlanIssue:
    target = _resolve(err["loc"])
    message = _message(err, target)
    if not target.parts and err["type"] == "value_error":
        found = _PATH.match(message)  # plan-wide checks name the path they concern
        if found:
            target.parts, message = _parse_path(found.group(1)), found.group(2)
    if err["type"] in ("union_tag_invalid", "union_tag_not_found"):
        shape = target.shape
        target.parts.append(shape.discriminator if shape and shape.discriminator else "kind")
    line, col = _locate(raw, target.parts)
    return PlanIssue(filename, line, col, _dotted(target.parts), message)


_TOO_LARGE = {"less_than", "less_than_equal", "too_long"}
_TOO_SMALL = {"greater_than", "greater_than_equal", "too_short"}
_NOT_A = {
    "int_parsing": "a whole number",
    "int_type": "a whole number",
    "int_from_float": "a whole number",
    "float_parsing": "a number",
    "float_type": "a number",
    "string_type": "text",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "list_type": "a list",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
}


def _message(err: ErrorDetails, target: _Target) -> str:
    kind, value, shape = err["type"], _show(err.get("input")), target.shape
    key = str(target.parts[-1]) if target.parts else ""
    expected = schema.expected_text(shape)
    if kind == "missing":
        if key == "apiVersion":
            return f"missing apiVersion (expected {model.API_VERSION})"
        return f"missing required key '{key}' ({_about(target)}expected {expected})"
    if kind == "extra_forbidden":
        return _unknown_key(key, target.owner)
    if kind in ("union_tag_invalid", "union_tag_not_found") and shape is not None:
        known = ", ".join(shape.tags())
        checks = all(issubclass(m, model.CheckBase) for m in shape.members())
        noun = "check kind" if checks else "kind"
        tag = err.get("ctx", {}).get("tag")
        if tag is None:
            return f"missing '{shape.discriminator}' (expected a {noun}: {known})"
        return f"unknown {noun} {tag!r} (known kinds: {known})"
    if kind == "literal_error" and key == "apiVersion":
        return f"{value} is not a supported apiVersion (expected {model.API_VERSION})"
    if kind == "literal_error":
        return f"{value} is not allowed (expected {expected})"
    if kind in _TOO_LARGE:
        return f"{value} is too large (expected {expected})"
    if kind in _TOO_SMALL:
        return f"{value} is too small (expected {expected})"
    if kind in _NOT_A:
        hint = "; quote values such as 1.10 or 3f9c2e1" if kind == "string_type" else ""
        return f"{value} is not {_NOT_A[kind]} (expected {expected}{hint})"
    if kind == "value_error" and shape is not None and shape.unit is not None:
        return f"{value} is not {_unit_noun(shape.unit, err.get('input'))} (expected {expected})"
    return err["msg"].removeprefix("Value error, ")


_SENTENCE_END = re.compile(r"(?<!e\.g)\.\s")


def _about(target: _Target) -> str:
    field = schema.yaml_fields(target.owner).get(str(target.parts[-1])) if target.owner else None
    text = (field[1].description or "") if field else ""
    first = _SENTENCE_END.split(text)[0].rstrip(".")
    return f"{first[:1].lower()}{first[1:]}; " if first else ""


def _show(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def _unit_noun(unit: str, value: Any) -> str:
    if isinstance(value, int | float) and unit == "duration":
        return "a duration that is not negative"
    if unit == "duration" or (unit == "threshold" and not str(value).strip().endswith("%")):
        return "a duration" if unit == "duration" else "a number, percentage or duration"
    return "a percentage"


def _unknown_key(key: str, owner: type[BaseModel] | None) -> str:
    if owner is None:
        return f"unknown key '{key}'"
    allowed = list(schema.yaml_fields(owner))
    close = difflib.get_close_matches(key, allowed, n=1)
    if close:
        return f"unknown key '{key}' (did you mean '{close[0]}'?)"
    return f"unknown key '{key}' (allowed keys: {', '.join(allowed)})"


# ---------------------------------------------------------------------------- templates


def _template_issues(raw: CommentedMap, filename: str) -> list[PlanIssue]:
    issues: list[PlanIssue] = []

    def visit(node: Any, parts: list[Part]) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                visit(v, [*parts, k])
        elif isinstance(node, list):
            for i, v in enumerate(node):
                visit(v, [*parts, i])
        elif isinstance(node, str):
            try:
                bad = [
                    templates.unknown_name_message(r.name)
                    for r in templates.references(node)
                    if not templates.is_known(r.name, default=r.default)
                ]
            except templates.TemplateSyntaxError as exc:
                bad = [str(exc)]
            for message in bad:
                line, col = _locate(raw, parts)
                issues.append(PlanIssue(filename, line, col, _dotted(parts), message))

    visit(raw, [])
    return issues


__all__ = ["LoadedPlan", "load_plan", "parse_plan"]
