"""The logs provider: matching lines in files or a command's output, whole or per window."""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rollguard.metrics import registry
from rollguard.metrics.base import Measurement
from rollguard.metrics.logs import count_matches, parse_time
from rollguard.plan.model import LogsMetric

PERSISTENCE = "ERROR persistence:"
T0 = datetime(2025, 1, 1, 12, 0, tzinfo=UTC).timestamp()


def stamp(offset: float) -> str:
    return (
        datetime.fromtimestamp(T0 + offset, UTC)
        .isoformat(timespec="milliseconds")
        .replace("+00:00", "Z")
    )


def chat_log(version: str, errors_at: list[float]) -> str:
    """A log in the example chat service's format, one error line per offset in seconds."""
    lines = [f"{stamp(0)} chat[{version}] INFO startup: listening on http://127.0.0.1:3011"]
    for i, at in enumerate(errors_at):
        lines.append(f"{stamp(at)} chat[{version}] {PERSISTENCE} dropped write of message {i}")
    lines.append(f"{stamp(60)} chat[{version}] INFO shutdown: stopping")
    return "\n".join(lines) + "\n"


def spec(**fields: object) -> LogsMetric:
    return LogsMetric.model_validate({"kind": "logs", "pattern": PERSISTENCE, **fields})


async def measure(
    s: LogsMetric, *, role: str, version: str, since: float = T0, until: float = T0 + 60
) -> Measurement:
    return await registry.measure(
        s,
        version=role,
        since=since,
        until=until,
        traffic=None,
        labels={"role": role, "version": version},
    )


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    processes = tmp_path / "processes"
    processes.mkdir()
    (processes / "stable-node.log").write_text(chat_log("node", []))
    (processes / "candidate-go.log").write_text(chat_log("go", [12.0, 13.5, 40.0]))
    return tmp_path


async def test_counts_matching_lines_of_each_versions_process_log(run_dir: Path) -> None:
    s = spec(files=[f"{run_dir}/processes/{{{{role}}}}-{{{{version}}}}.log"])
    candidate = await measure(s, role="candidate", version="go")
    stable = await measure(s, role="stable", version="node")
    assert (candidate.value, candidate.samples, candidate.error) == (3.0, 5, None)
    assert (stable.value, stable.samples, stable.error) == (0.0, 2, None)


async def test_with_timestamps_only_lines_in_the_window_count(run_dir: Path) -> None:
    s = spec(
        files=[f"{run_dir}/processes/candidate-*.log"],
        timestamp_regex=r"^(?P<ts>\S+Z) ",
    )
    m = await measure(s, role="candidate", version="go", since=T0 + 10, until=T0 + 30)
    assert (m.value, m.samples) == (2.0, 2)
    later = await measure(s, role="candidate", version="go", since=T0 + 30, until=T0 + 50)
    assert (later.value, later.samples) == (1.0, 1)


def test_a_line_without_a_time_belongs_to_the_line_before() -> None:
    lines = ["@100 ERROR a", "  traceback ERROR line", "@200 ok", "ERROR orphan of 200"]
    clock = lambda line: float(line[1:4]) if line.startswith("@") else None  # noqa: E731
    assert count_matches(lines, re.compile("ERROR"), clock=clock, since=90, until=150) == (2, 2)
    assert count_matches(["ERROR before any time"], re.compile("ERROR"), clock=clock) == (0, 0)


@pytest.mark.parametrize(
    ("text", "fmt", "expected"),
    [
        ("2025-01-01T12:00:00.000Z", "iso8601", T0),
        ("2025-01-01T13:00:00+01:00", "iso8601", T0),
        ("2025-01-01 12:00:00", "iso8601", T0),  # no zone: UTC
        (str(T0), "epoch", T0),
        ("01/Jan/2025:12:00:00", "%d/%b/%Y:%H:%M:%S", T0),
        ("yesterday", "iso8601", None),
    ],
)
def test_timestamp_formats(text: str, fmt: str, expected: float | None) -> None:
    assert parse_time(text, fmt) == expected


async def test_no_file_is_no_data(tmp_path: Path) -> None:
    m = await measure(spec(files=[f"{tmp_path}/nothing-*.log"]), role="candidate", version="go")
    assert (m.value, m.samples, m.error) == (None, 0, None)


async def test_glob_metacharacters_in_a_label_are_literal(tmp_path: Path) -> None:
    (tmp_path / "candidate-go.log").write_text(f"{PERSISTENCE} x\n")
    s = spec(files=[f"{tmp_path}/candidate-{{{{version}}}}.log"])
    m = await measure(s, role="candidate", version="g*")
    assert (m.value, m.error) == (None, None)


async def test_counts_lines_of_a_commands_stdout_and_stderr() -> None:
    script = (
        "import sys; print('ok {{version}}'); print('ERROR persistence: a');"
        " print('ERROR persistence: b', file=sys.stderr)"
    )
    m = await measure(spec(command=[sys.executable, "-c", script]), role="candidate", version="go")
    assert (m.value, m.samples, m.error) == (2.0, 3, None)


async def test_shell_templates_are_quoted() -> None:
    m = await measure(
        spec(shell="echo {{version}}", pattern="^a; b$"), role="stable", version="a; b"
    )
    assert (m.value, m.samples, m.error) == (1.0, 1, None)


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"shell": "echo ERROR persistence: x; exit 3"}, "exited 3"),
        (
            {"command": [sys.executable, "-c", "import time; time.sleep(30)"], "timeout": "200ms"},
            "timed out",
        ),
        ({"command": ["/nonexistent/tool"]}, "cannot run"),
        ({"shell": "echo", "pattern": "("}, "bad pattern"),
        ({"files": ["/tmp/{{colour}}.log"]}, "unknown template {{colour}}"),
    ],
)
async def test_failures_are_errors_never_a_pass(fields: dict[str, object], fragment: str) -> None:
    m = await measure(spec(**fields), role="candidate", version="go")
    assert m.value is None and m.error is not None and fragment in m.error


def test_exactly_one_source() -> None:
    with pytest.raises(ValueError, match="exactly one of `files`"):
        spec(files=["a"], shell="b")
    with pytest.raises(ValueError, match="exactly one of `files`"):
        spec()
