"""Evaluation of a check's ``expect:`` list, shared by every check kind that produces text.

A runner gathers what it produced into a :class:`Subject` (exit code, named streams such as
``stdout`` or an HTTP body, collected artifacts) and :func:`evaluate` returns one
:class:`Outcome` per expectation. The only I/O here is reading the files a subject points at.

Where an expectation looks (``in:``):

- a stream name the runner provides: ``output``, ``stdout``, ``stderr`` for commands,
  ``output`` (the body) for HTTP. ``output`` of a command is stdout followed by stderr.
- ``artifacts``: every collected artifact file. It fails when nothing was collected or when
  one of the check's artifact globs matched nothing: a missing report never passes as clean.
- anything else is a glob (``*``, ``?``, ``**``) matched against the collected artifacts'
  paths (relative, as stored in the evidence folder) or, for an absolute glob, their original
  paths. It fails when it matches no collected artifact.

Over several artifacts, each file must satisfy the assertion on its own. Within ``output``,
stdout and stderr count as one text.

``json`` parses the whole text as one document when it can; otherwise it takes **the last line
that parses as a JSON object or array** (benchmarks and test runners print logs, then a JSON
summary). For ``output`` that is stdout's last JSON line, or stderr's when stdout has none.
At most :data:`READ_CAP` bytes (the end of the text) are parsed.

Invariant: when a text is known to be cut short (an HTTP body over its cap), no assertion that
needs all of it (``not_contains``, ``no_line_matches``, ``json``) can pass on it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rollguard import jsonpath
from rollguard.checks.json_values import json_equal, show_value
from rollguard.plan import model

READ_CAP = 8 * 1024 * 1024
"""Bytes of one text kept in memory to parse it as JSON (the end of the text)."""

SHOWN_LINES = 5
"""Offending lines quoted in an outcome, at most."""

_LINE_CLIP = 200


@dataclass(frozen=True)
class Text:
    """One text an expectation can read: a file, or content already in memory."""

    name: str  # shown in outcomes: "stdout", "reports/run.log", "body"
    path: Path | None = None
    content: str | None = None
    complete: bool = True  # False when ``content`` is only the beginning of the real text

    def lines(self) -> Iterator[tuple[int, str]]:
        """``(line number, line)`` pairs, streamed from the file when there is one."""
        if self.content is not None:
            yield from enumerate(self.content.splitlines(), 1)
            return
        assert self.path is not None
        with self.path.open(encoding="utf-8", errors="replace") as f:
            for number, line in enumerate(f, 1):
                yield number, line.rstrip("\r\n")

    def find(self, needle: str) -> int | None:
        """Line number where ``needle`` first starts, or None; reads files in chunks."""
        if self.content is not None:
            at = self.content.find(needle)
            return None if at < 0 else self.content.count("\n", 0, at) + 1
        assert self.path is not None
        keep = max(len(needle) - 1, 0)  # a match may straddle two chunks
        carry, newlines = "", 0
        with self.path.open(encoding="utf-8", errors="replace") as f:
            while chunk := f.read(1 << 20):
                window = carry + chunk
                at = window.find(needle)
                if at >= 0:
                    return newlines + window.count("\n", 0, at) + 1
                cut = max(len(window) - keep, 0)
                newlines += window.count("\n", 0, cut)
                carry = window[cut:]
        return None

    def tail(self, cap: int = READ_CAP) -> tuple[str, bool]:
        """The last ``cap`` bytes of the text and whether that is all of it."""
        if self.content is not None:
            return self.content[-cap:], self.complete and len(self.content) <= cap
        assert self.path is not None
        with self.path.open("rb") as f:
            size = f.seek(0, 2)
            f.seek(max(size - cap, 0))
            data = f.read()
        text = data.decode("utf-8", errors="replace")
        if size > cap:  # drop the partial first line
            text = text.partition("\n")[2]
        return text, size <= cap


@dataclass(frozen=True)
class Artifact:
    """A collected artifact: its path under ``artifacts/``, the copy, and where it came from."""

    name: str  # relative, "/"-separated, e.g. "reports/junit.xml"
    path: Path  # the copy in the evidence folder
    origin: Path  # the file the command wrote


@dataclass(frozen=True)
class Subject:
    """Everything a check produced that expectations can look at."""

    kind: str  # "command", "http": named in messages
    streams: dict[str, list[Text]] = field(default_factory=dict)  # "output": [stdout, stderr]
    exit_code: int | None = None
    artifacts: list[Artifact] = field(default_factory=list)
    unmatched_globs: list[str] = field(default_factory=list)  # artifact globs that found nothing


@dataclass(frozen=True)
class Outcome:
    """The verdict on one expectation."""

    expectation: str  # e.g. "no_line_matches /ERROR/ in artifacts"
    ok: bool
    reason: str = ""  # why it failed (or a short note when it held)
    quotes: tuple[str, ...] = ()  # offending lines, "reports/run.log:12: ERROR boom"

    def detail_lines(self) -> list[str]:
        """Lines for :attr:`CheckResult.details`: a verdict line, then quoted lines."""
        head = f"{'ok' if self.ok else 'FAILED'}: {self.expectation}"
        if self.reason:
            head += f" ({self.reason})"
        return [head, *(f"  {q}" for q in self.quotes)]


def evaluate(expectations: Sequence[model.Expect], subject: Subject) -> list[Outcome]:
    """One outcome per expectation, in order.

    >>> subject = Subject(kind="command", exit_code=0)
    >>> [o.ok for o in evaluate([model.Expect(exit_code=0)], subject)]
    [True]
    """
    return [evaluate_one(e, subject) for e in expectations]


def evaluate_one(expectation: model.Expect, subject: Subject) -> Outcome:
    """The outcome of a single expectation against ``subject``."""
    label = describe(expectation)
    if expectation.exit_code is not None:
        return _exit_code(label, expectation.exit_code, subject)
    targets = _targets(expectation.source, subject)
    if isinstance(targets, str):
        return Outcome(label, False, targets)
    if expectation.no_line_matches is not None:
        return _no_line_matches(label, expectation.no_line_matches, targets)
    if expectation.contains is not None:
        return _contains(label, expectation.contains, targets)
    if expectation.not_contains is not None:
        return _not_contains(label, expectation.not_contains, targets)
    assert expectation.json_path is not None
    return _json(label, expectation.json_path, targets)


def describe(expectation: model.Expect) -> str:
    """A short, readable form: ``contains 'ok' in stderr``, ``json summary.p95 <= 0.25``."""
    if expectation.exit_code is not None:
        return f"exit_code == {expectation.exit_code}"
    if expectation.no_line_matches is not None:
        text = f"no_line_matches /{expectation.no_line_matches}/"
    elif expectation.contains is not None:
        text = f"contains {expectation.contains!r}"
    elif expectation.not_contains is not None:
        text = f"not_contains {expectation.not_contains!r}"
    else:
        assert expectation.json_path is not None
        text = "json " + _describe_json(expectation.json_path)
    if expectation.source != "output":
        text += f" in {expectation.source}"
    return text


def glob_match(pattern: str, path: str) -> bool:
    """Whether ``path`` ("/"-separated) matches ``pattern``; ``**`` spans folders.

    >>> glob_match("reports/**/*.log", "reports/a/b/run.log"), glob_match("*.log", "a/run.log")
    (True, False)
    """
    return _glob_regex(pattern.removeprefix("./")).fullmatch(path) is not None


# ---------------------------------------------------------------------------- internals


Target = tuple[str, list[Text]]  # one logical document: its name and its parts


def _targets(source: str, subject: Subject) -> list[Target] | str:
    """The documents ``source`` names, or the reason it names none."""
    if source in subject.streams:
        return [(source, subject.streams[source])]
    if source in ("output", "stdout", "stderr"):
        return f"{source} is not available for a {subject.kind} check"
    if source == "artifacts":
        if subject.unmatched_globs:
            return "artifact glob matched nothing: " + ", ".join(subject.unmatched_globs)
        if not subject.artifacts:
            return "no artifacts were collected"
        chosen = subject.artifacts
    else:
        chosen = [
            a
            for a in subject.artifacts
            if glob_match(source, a.name) or glob_match(source, a.origin.as_posix())
        ]
        if not chosen:
            return f"no collected artifact matches {source!r}"
    return [(a.name, [Text(a.name, path=a.path)]) for a in chosen]


def _exit_code(label: str, expected: int, subject: Subject) -> Outcome:
    if subject.exit_code is None:
        return Outcome(label, False, f"no exit code in this {subject.kind} check")
    if subject.exit_code != expected:
        return Outcome(label, False, f"exit code was {subject.exit_code}")
    return Outcome(label, True)


def _no_line_matches(label: str, pattern: str, targets: list[Target]) -> Outcome:
    try:
        regex = re.compile(pattern)
    except re.error as exc:
        return Outcome(label, False, f"invalid regular expression: {exc}")
    quotes: list[str] = []
    count = 0
    for _, parts in targets:
        for part in parts:
            for number, line in part.lines():
                if regex.search(line):
                    count += 1
                    if len(quotes) < SHOWN_LINES:
                        quotes.append(f"{part.name}:{number}: {line[:_LINE_CLIP]}")
    if count:
        noun = "line matches" if count == 1 else "lines match"
        return Outcome(label, False, f"{count} {noun}", tuple(quotes))
    return _unless_cut(label, targets)


def _contains(label: str, needle: str, targets: list[Target]) -> Outcome:
    absent = [name for name, parts in targets if all(p.find(needle) is None for p in parts)]
    if absent:
        return Outcome(label, False, "not found in " + _some(absent))
    return Outcome(label, True, _files_note(targets))


def _not_contains(label: str, needle: str, targets: list[Target]) -> Outcome:
    quotes: list[str] = []
    for _, parts in targets:
        for part in parts:
            number = part.find(needle)
            if number is not None:
                quotes.append(f"{part.name}:{number}")
    if quotes:
        return Outcome(label, False, "found in " + _some(quotes), tuple(quotes[:SHOWN_LINES]))
    return _unless_cut(label, targets)


def _json(label: str, spec: model.JsonExpect, targets: list[Target]) -> Outcome:
    try:
        jsonpath.parse(spec.path)
    except jsonpath.PathError as exc:
        return Outcome(label, False, str(exc))
    failures: list[str] = []
    for name, parts in targets:
        found = _json_document(parts)
        if found is None:
            failures.append(f"{name}: no JSON document found")
            continue
        document, where = found
        problem = _judge(spec, jsonpath.resolve(document, spec.path))
        if problem:
            failures.append(f"{where}: {problem}")
    if failures:
        return Outcome(label, False, failures[0], tuple(failures[1:SHOWN_LINES]))
    return Outcome(label, True, _files_note(targets))


def _json_document(parts: list[Text]) -> tuple[Any, str] | None:
    """The whole text as JSON, else its last line holding a JSON object or array."""
    for part in parts:
        text, whole = part.tail()
        if whole:
            try:
                return json.loads(text), part.name
            except ValueError:
                pass
        lines = text.splitlines()
        for index in range(len(lines) - 1, -1, -1):
            line = lines[index].strip()
            if not line.startswith(("{", "[")):
                continue
            try:
                value = json.loads(line)
            except ValueError:
                continue
            where = f"{part.name}:{index + 1}" if whole else f"{part.name} (near the end)"
            return value, where
    return None


def _judge(spec: model.JsonExpect, value: Any) -> str:
    """Why ``value`` breaks ``spec``, or "" when it holds."""
    missing = value is jsonpath.MISSING
    if spec.exists is False:
        return "" if missing else f"{spec.path} exists (= {show_value(value)})"
    if missing:
        return f"{spec.path} is missing"
    if spec.equals is not None and not json_equal(value, spec.equals):
        return f"{spec.path} is {show_value(value)}, expected {show_value(spec.equals)}"
    if spec.max is not None or spec.min is not None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{spec.path} is {show_value(value)}, not a number"
        if spec.max is not None and value > spec.max:
            return f"{spec.path} is {show_value(value)}, above the max {show_value(spec.max)}"
        if spec.min is not None and value < spec.min:
            return f"{spec.path} is {show_value(value)}, below the min {show_value(spec.min)}"
    return ""


def _describe_json(spec: model.JsonExpect) -> str:
    rules = []
    if spec.equals is not None:
        rules.append(f"== {show_value(spec.equals)}")
    if spec.min is not None:
        rules.append(f">= {show_value(spec.min)}")
    if spec.max is not None:
        rules.append(f"<= {show_value(spec.max)}")
    if spec.exists is not None:
        rules.append("exists" if spec.exists else "is missing")
    return f"{spec.path} {' and '.join(rules) or 'exists'}"


def _some(items: list[str]) -> str:
    shown = ", ".join(items[:SHOWN_LINES])
    return shown + (f" and {len(items) - SHOWN_LINES} more" if len(items) > SHOWN_LINES else "")


def _unless_cut(label: str, targets: list[Target]) -> Outcome:
    """A pass, unless a text was cut short (what was not read may hold the offence)."""
    cut = [p.name for _, parts in targets for p in parts if not p.complete]
    if cut:
        return Outcome(label, False, f"only the beginning of {', '.join(cut)} was kept")
    return Outcome(label, True, _files_note(targets))


def _files_note(targets: list[Target]) -> str:
    return f"{len(targets)} files" if len(targets) > 1 else ""


_GLOB_TOKENS = {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}


def _glob_regex(pattern: str) -> re.Pattern[str]:
    pieces = re.split(r"(\*\*/|\*\*|\*|\?)", pattern)
    return re.compile("".join(_GLOB_TOKENS.get(p) or re.escape(p) for p in pieces))


__all__ = [
    "READ_CAP",
    "SHOWN_LINES",
    "Artifact",
    "Outcome",
    "Subject",
    "Text",
    "describe",
    "evaluate",
    "evaluate_one",
    "glob_match",
]
