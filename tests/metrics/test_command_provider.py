"""The command provider: a number from a real command's stdout."""

from __future__ import annotations

import sys

import pytest

from rollguard.metrics import registry
from rollguard.metrics.base import Measurement
from rollguard.plan.model import CommandMetric


def py(code: str) -> list[str]:
    return [sys.executable, "-c", code]


async def measure(**fields: object) -> Measurement:
    spec = CommandMetric.model_validate({"kind": "command", **fields})
    return await registry.measure(
        spec,
        version="candidate",
        since=1000.0,
        until=1030.0,
        traffic=None,
        labels={"role": "candidate", "version": "go"},
    )


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"command": py("print(' 0.004 ')")}, (0.004, 1)),
        (
            {
                "shell": "echo 'count=120 ratio=0.25'",
                "regex": r"count=(?P<samples>\d+) ratio=(?P<value>\S+)",
            },
            (0.25, 120),
        ),
        (
            {
                "shell": """echo '{"data": {"p95": [0.1, 0.3]}, "n": 40}'""",
                "path": "data.p95[-1]",
                "samples_path": "n",
            },
            (0.3, 40),
        ),
        ({"shell": """echo '{"p95": null}'""", "path": "p95"}, (None, 0)),
    ],
)
async def test_reads_the_number(fields: dict[str, object], expected: tuple[object, int]) -> None:
    m = await measure(**fields)
    assert (m.value, m.samples, m.error) == (*expected, None)


async def test_templates_and_environment_describe_the_version() -> None:
    code = (
        "import os, sys; assert sys.argv[1:] == ['go', 'candidate', '30s', '1000', '1030'];"
        " print(len(os.environ['ROLLGUARD_VERSION']) + float(os.environ['ROLLGUARD_UNTIL']))"
    )
    m = await measure(
        command=[*py(code), "{{version}}", "{{role}}", "{{window}}", "{{since}}", "{{until}}"]
    )
    assert (m.value, m.error) == (1032.0, None)


async def test_shell_templates_are_quoted() -> None:
    m = await measure(shell="printf %s {{version}} | wc -c")
    assert m.value == 2.0


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"shell": "echo 1; echo broken >&2; exit 2"}, "exited 2: broken"),
        ({"command": py("import time; time.sleep(30)"), "timeout": "200ms"}, "timed out"),
        ({"shell": "echo fast"}, "not a number"),
        ({"shell": "echo nan"}, "not a finite number"),
        ({"shell": "echo inf"}, "not a finite number"),
        ({"shell": "echo x=1", "regex": r"y=(?P<value>\d)"}, "no group 'value'"),
        ({"shell": "echo '{}'", "path": "a.b"}, "nothing at 'a.b'"),
        ({"shell": "echo '{\"a\": true}'", "path": "a"}, "not a number"),
        ({"shell": "echo nope", "path": "a"}, "not JSON"),
        ({"command": ["/nonexistent/tool"]}, "cannot run"),
        ({"shell": "echo {{colour}}"}, "unknown template {{colour}}"),
    ],
)
async def test_failures_are_errors_never_a_pass(fields: dict[str, object], fragment: str) -> None:
    m = await measure(**fields)
    assert m.value is None and m.error is not None
    assert fragment in m.error


def test_exactly_one_way_to_run() -> None:
    with pytest.raises(ValueError, match="exactly one of `command`"):
        CommandMetric.model_validate({"kind": "command"})
    with pytest.raises(ValueError, match="either `regex` or `path`"):
        CommandMetric.model_validate({"kind": "command", "shell": "x", "regex": "a", "path": "b"})
