"""The ``logs`` metric provider: how many log lines match a pattern.

The lines come from files (globs) or from a command's output (stdout and stderr together,
e.g. ``kubectl logs``). ``{{name}}`` templates in the globs and the command are filled in per
version: ``{{version}}``, ``{{role}}``, ``{{window}}`` (e.g. ``30s``), ``{{since}}`` and
``{{until}}`` (Unix seconds), plus any label the runner passes. The seed's "persistence
errors observed in logs" is::

    kind: logs
    pattern: "ERROR persistence:"
    files: ["${run.dir}/processes/{{role}}-{{version}}.log"]

Which lines count (the provider keeps no state between observations, so a restarted
controller measures exactly what the first one would have):

- with ``timestamp_regex``, only lines whose time lies in ``[since, until]``; a line without
  a time (a traceback's continuation) belongs to the last line that had one, and lines before
  the first time are skipped;
- without it, every line: the count is cumulative since the file began (or over the
  command's whole output). That suits a per-rollout file such as a process log under the run
  folder, which starts with the rollout; a shared long-lived file needs timestamps.

The measurement: ``value`` is the number of matching lines, ``samples`` the number of lines
scanned (so a trigger on a quiet log usually wants ``min_samples: 1``). No file matching the
globs is *no data*; an unreadable file, a bad regex, a failing or timed-out command is an
*error*, never a pass.
"""

from __future__ import annotations

import asyncio
import glob
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from rollguard.metrics import placeholders, subprocesses
from rollguard.metrics.base import Measurement
from rollguard.plan import model

LineClock = Callable[[str], float | None]
"""The time of a log line in Unix seconds, None when the line carries none."""


class LogsError(Exception):
    """The logs could not be read or scanned; the message says why."""


class LogsProvider:
    """Counts matching lines for one version.

    Example::

        provider = LogsProvider(labels={"role": "candidate", "version": "go"})
        spec = LogsMetric(kind="logs", pattern="ERROR persistence:",
                          files=["/run/processes/{{role}}-{{version}}.log"])
        m = await provider.measure(spec, version="candidate", since=t0, until=t1)
        m.value, m.samples  # (2.0, 57): 2 matching lines of 57
    """

    def __init__(self, *, labels: Mapping[str, str] | None = None) -> None:
        self._labels = dict(labels or {})

    async def measure(
        self, spec: model.LogsMetric, *, version: str, since: float, until: float
    ) -> Measurement:
        """The number of lines matching ``spec.pattern`` for ``version``."""
        values = placeholders.window_values(self._labels, version=version, since=since, until=until)
        try:
            pattern = _compile(spec.pattern, "pattern")
            clock = line_clock(spec) if spec.timestamp_regex else None
            if spec.files:
                paths = expand(spec.files, values)
                if not paths:
                    return Measurement(None, 0)
                lines: list[str] = []
                for path in paths:
                    lines += await asyncio.to_thread(_read_lines, path)
            else:
                lines = (await _command_output(spec, values)).splitlines()
        except (LogsError, subprocesses.CommandError, placeholders.PlaceholderError) as exc:
            return Measurement(None, 0, error=str(exc))
        matches, scanned = count_matches(lines, pattern, clock=clock, since=since, until=until)
        return Measurement(float(matches), scanned)


def _compile(text: str, what: str) -> re.Pattern[str]:
    try:
        return re.compile(text)
    except re.error as exc:
        raise LogsError(f"bad {what} regular expression {text!r}: {exc}") from None


def expand(globs: Iterable[str], values: Mapping[str, str]) -> list[Path]:
    """The files matching the templated globs, sorted and without duplicates."""
    found: set[str] = set()
    for pattern in globs:
        found.update(
            glob.glob(placeholders.fill(pattern, values, quote=glob.escape), recursive=True)
        )
    return [Path(p) for p in sorted(found) if Path(p).is_file()]


def _read_lines(path: Path) -> list[str]:
    try:
        return path.read_bytes().decode("utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise LogsError(f"cannot read {path}: {exc.strerror or exc}") from None


async def _command_output(spec: model.LogsMetric, values: Mapping[str, str]) -> str:
    command = placeholders.fill_command(values, argv=spec.command, shell=spec.shell)
    return await subprocesses.output(
        command, what="the log command", env=spec.env, timeout=spec.timeout, merge_stderr=True
    )


def line_clock(spec: model.LogsMetric) -> LineClock:
    """The function that reads a line's time as ``spec`` describes it.

    >>> spec = model.LogsMetric(kind="logs", pattern="x", files=["f"],
    ...                         timestamp_regex=r"^\\S+")
    >>> line_clock(spec)("1970-01-01T00:01:00.000Z chat[go] INFO startup: ok")
    60.0
    """
    regex = _compile(spec.timestamp_regex or "", "timestamp")
    group = "ts" if "ts" in regex.groupindex else 0
    fmt = spec.timestamp_format

    def clock(line: str) -> float | None:
        match = regex.search(line)
        if match is None or match.group(group) is None:
            return None
        return parse_time(match.group(group), fmt)

    return clock


def parse_time(text: str, fmt: str) -> float | None:
    """Unix seconds from a timestamp in ``fmt`` (``iso8601``, ``epoch`` or a strptime
    format); times without a zone are UTC; None when the text does not parse.

    >>> parse_time("2025-01-01T00:00:00Z", "iso8601")
    1735689600.0
    """
    try:
        if fmt == "epoch":
            return float(text)
        when = datetime.fromisoformat(text) if fmt == "iso8601" else datetime.strptime(text, fmt)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()


def count_matches(
    lines: Iterable[str],
    pattern: re.Pattern[str],
    *,
    clock: LineClock | None = None,
    since: float = 0.0,
    until: float = float("inf"),
) -> tuple[int, int]:
    """(matching lines, scanned lines); with a ``clock``, only lines in ``[since, until]``.

    >>> count_matches(["ok", "ERROR x", "ok"], re.compile("ERROR"))
    (1, 3)
    """
    matches = scanned = 0
    current: float | None = None
    for line in lines:
        if clock is not None:
            stamp = clock(line)
            current = current if stamp is None else stamp
            if current is None or not since <= current <= until:
                continue
        scanned += 1
        if pattern.search(line):
            matches += 1
    return matches, scanned


__all__ = [
    "LogsError",
    "LogsProvider",
    "count_matches",
    "expand",
    "line_clock",
    "parse_time",
]
