"""The ``command`` check over real subprocesses: status, evidence, timeouts, artifacts."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from rollguard.checks.base import CheckContext, CheckResult
from rollguard.checks.command import CommandCheckRunner
from rollguard.plan import model


async def run(ctx: CheckContext, **fields: Any) -> CheckResult:
    spec = model.CommandCheck.model_validate({"name": "probe", "kind": "command", **fields})
    return await CommandCheckRunner().run(spec, ctx)


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie waiting for its reaper counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rpartition(")")[2].split()[0] not in ("Z", "X")


async def test_exit_zero_passes_with_the_default_expectation(ctx: CheckContext) -> None:
    result = await run(ctx, command=[sys.executable, "-c", "print('hi')"])
    assert result.status == "passed", result
    assert result.summary == "exit code 0, 1 expectation held"
    assert result.details == ["ok: exit_code == 0"]
    assert set(result.evidence) == {"stdout.txt", "stderr.txt", "command.json"}


async def test_exit_one_fails_and_says_why(ctx: CheckContext) -> None:
    result = await run(ctx, shell="echo about to fail; exit 1")
    assert result.status == "failed"
    assert result.summary == "exit_code == 0 failed: exit code was 1"
    assert (ctx.evidence_dir / "stdout.txt").read_text() == "about to fail\n"


async def test_expected_nonzero_exit_code_passes(ctx: CheckContext) -> None:
    result = await run(ctx, shell="exit 3", expect=[{"exit_code": 3}])
    assert result.status == "passed"


async def test_stdout_and_stderr_are_saved_and_recorded(ctx: CheckContext) -> None:
    code = "import sys; print('to out'); print('to err', file=sys.stderr)"
    result = await run(ctx, command=[sys.executable, "-c", code])
    assert result.passed
    assert (ctx.evidence_dir / "stdout.txt").read_text() == "to out\n"
    assert (ctx.evidence_dir / "stderr.txt").read_text() == "to err\n"
    record = json.loads((ctx.evidence_dir / "command.json").read_text())
    assert record["argv"] == [sys.executable, "-c", code]
    assert record["exit_code"] == 0
    assert record["cwd"] == str(ctx.base_dir)
    assert record["duration"] >= 0
    assert record["stdout_bytes"] == 7


async def test_large_output_streams_to_the_file(ctx: CheckContext) -> None:
    code = "import sys; sys.stdout.write('x' * 5_000_000 + '\\nEND\\n')"
    result = await run(
        ctx, command=[sys.executable, "-c", code], expect=[{"contains": "END", "in": "stdout"}]
    )
    assert result.passed, result
    assert (ctx.evidence_dir / "stdout.txt").stat().st_size == 5_000_005


async def test_timeout_is_an_error_and_the_whole_process_group_is_gone(
    ctx: CheckContext,
) -> None:
    started = time.monotonic()
    result = await run(ctx, shell="sleep 100 & echo $! > child.pid; wait", timeout="500ms")
    assert time.monotonic() - started < 10
    assert result.status == "error"
    assert result.summary == "timed out after 500ms"
    child = int((ctx.base_dir / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)
    assert json.loads((ctx.evidence_dir / "command.json").read_text())["timed_out"] is True


async def test_a_background_child_does_not_outlive_the_check(ctx: CheckContext) -> None:
    started = time.monotonic()
    result = await run(ctx, shell="sleep 100 & echo $! > child.pid", timeout=30)
    assert result.passed
    assert time.monotonic() - started < 10
    child = int((ctx.base_dir / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)


async def test_missing_binary_is_an_error(ctx: CheckContext) -> None:
    result = await run(ctx, command=["no-such-binary-rollguard-test", "--version"])
    assert result.status == "error"
    assert result.summary == "command not found: no-such-binary-rollguard-test"
    assert "command.json" in result.evidence


async def test_missing_cwd_is_an_error(ctx: CheckContext) -> None:
    result = await run(ctx, shell="true", cwd="does/not/exist")
    assert result.status == "error"
    assert result.summary.startswith("working directory not found: ")
    assert result.summary.endswith("does/not/exist")


async def test_cwd_is_relative_to_the_plan_folder(ctx: CheckContext) -> None:
    (ctx.base_dir / "svc").mkdir()
    result = await run(ctx, shell="pwd", cwd="svc", expect=[{"contains": "/plan/svc"}])
    assert result.passed, result


async def test_env_values_reach_the_command_but_not_the_evidence(tmp_path: Path) -> None:
    base = tmp_path / "plan"
    base.mkdir()
    ctx = CheckContext(evidence_dir=tmp_path / "ev", base_dir=base, env={"FROM_CTX": "ctx-v"})
    result = await run(
        ctx,
        shell='echo "$API_TOKEN $FROM_CTX"',
        env={"API_TOKEN": "hunter2-secret"},
        expect=[{"contains": "hunter2-secret ctx-v"}],
    )
    assert result.passed, result
    record_text = (ctx.evidence_dir / "command.json").read_text()
    assert "hunter2-secret" not in record_text and "ctx-v" not in record_text
    assert json.loads(record_text)["env_added"] == ["API_TOKEN", "FROM_CTX"]


async def test_shell_exit_127_hints_at_a_missing_command(ctx: CheckContext) -> None:
    result = await run(ctx, shell="no-such-binary-rollguard-test")
    assert result.status == "failed"
    assert any("exit code 127" in line for line in result.details)


async def test_contains_and_not_contains(ctx: CheckContext) -> None:
    shell = "echo 'all 12 tests passed'; echo 'warning: slow' >&2"
    passing = await run(
        ctx,
        shell=shell,
        expect=[
            {"contains": "tests passed"},
            {"contains": "warning", "in": "stderr"},
            {"not_contains": "warning", "in": "stdout"},
        ],
    )
    assert passing.passed, passing
    failing = await run(ctx, shell=shell, expect=[{"not_contains": "warning"}])
    assert failing.status == "failed"
    assert failing.summary == "not_contains 'warning' failed: found in stderr:1"
    missing = await run(ctx, shell=shell, expect=[{"contains": "FAILED", "in": "stdout"}])
    assert missing.summary == "contains 'FAILED' in stdout failed: not found in stdout"


BENCH = (
    "echo 'warming up'; echo '{\"not\": \"the summary\"}'; echo 'running 1000 requests'; "
    'echo \'{"latency": {"p50": 0.04, "p95": 0.21}, "errors": 0, "tool": "bench"}\'; '
    "echo 'done'"
)


@pytest.mark.parametrize(
    ("rule", "status"),
    [
        ({"path": "latency.p95", "max": 0.25}, "passed"),
        ({"path": "latency.p95", "max": 0.2}, "failed"),
        ({"path": "latency.p50", "min": 0.01}, "passed"),
        ({"path": "latency.p50", "min": 0.05}, "failed"),
        ({"path": "errors", "equals": 0}, "passed"),
        ({"path": "tool", "equals": "wrk"}, "failed"),
        ({"path": "latency.p99", "exists": False}, "passed"),
        ({"path": "latency.p99", "exists": True}, "failed"),
        ({"path": "latency.p99", "max": 1}, "failed"),
        ({"path": "not", "exists": True}, "failed"),  # an earlier JSON line is not read
    ],
)
async def test_json_reads_the_last_json_line(
    ctx: CheckContext, rule: dict[str, Any], status: str
) -> None:
    result = await run(ctx, shell=BENCH, expect=[{"json": rule, "in": "stdout"}])
    assert result.status == status, result


async def test_json_failure_names_the_line_and_value(ctx: CheckContext) -> None:
    result = await run(ctx, shell=BENCH, expect=[{"json": {"path": "latency.p95", "max": 0.2}}])
    assert result.summary == (
        "json latency.p95 <= 0.2 failed: stdout:4: latency.p95 is 0.21, above the max 0.2"
    )


async def test_json_without_any_json_fails(ctx: CheckContext) -> None:
    result = await run(ctx, shell="echo plain", expect=[{"json": {"path": "a"}}])
    assert result.status == "failed"
    assert "no JSON document found" in result.summary


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


async def test_artifacts_are_copied_with_double_star_globs(ctx: CheckContext) -> None:
    shell = (
        "mkdir -p out/unit out/contract/v2 && echo ok > out/unit/a.log && "
        "echo ok > out/contract/v2/b.log && echo x > out/skip.txt"
    )
    result = await run(ctx, shell=shell, artifacts=["out/**/*.log"])
    assert result.passed
    assert "artifacts/out/unit/a.log" in result.evidence
    assert "artifacts/out/contract/v2/b.log" in result.evidence
    assert (ctx.evidence_dir / "artifacts/out/contract/v2/b.log").read_text() == "ok\n"
    assert not (ctx.evidence_dir / "artifacts/out/skip.txt").exists()
    record = json.loads((ctx.evidence_dir / "command.json").read_text())
    assert record["artifacts"] == ["out/contract/v2/b.log", "out/unit/a.log"]


async def test_absolute_artifact_globs_keep_paths_below_the_literal_folder(
    ctx: CheckContext, tmp_path: Path
) -> None:
    _write(tmp_path / "elsewhere/reports/run1/summary.json", "{}")
    pattern = str(tmp_path / "elsewhere/reports/**/*.json")
    result = await run(ctx, shell="true", artifacts=[pattern])
    assert "artifacts/run1/summary.json" in result.evidence


async def test_unmatched_glob_is_reported_but_fails_only_artifact_expectations(
    ctx: CheckContext,
) -> None:
    result = await run(ctx, shell="true", artifacts=["reports/*.xml"])
    assert result.passed
    assert "artifact glob matched nothing: reports/*.xml" in result.details
    targeted = await run(
        ctx,
        shell="true",
        artifacts=["reports/*.xml"],
        expect=[{"no_line_matches": "ERROR", "in": "artifacts"}],
    )
    assert targeted.status == "failed"
    assert "artifact glob matched nothing: reports/*.xml" in targeted.summary


async def test_no_line_matches_in_artifacts_quotes_file_and_line(ctx: CheckContext) -> None:
    _write(ctx.base_dir / "logs/api/server.log", "boot\nready\nERROR mongo write failed\nok\n")
    _write(ctx.base_dir / "logs/worker.log", "fine\n")
    result = await run(
        ctx,
        shell="true",
        artifacts=["logs/**/*.log"],
        expect=[{"no_line_matches": "ERROR|FATAL", "in": "artifacts"}],
    )
    assert result.status == "failed"
    assert result.summary == "no_line_matches /ERROR|FATAL/ in artifacts failed: 1 line matches"
    assert "  logs/api/server.log:3: ERROR mongo write failed" in result.details


async def test_no_line_matches_passes_on_clean_artifacts(ctx: CheckContext) -> None:
    _write(ctx.base_dir / "logs/api/server.log", "boot\nready\n")
    result = await run(
        ctx,
        shell="true",
        artifacts=["logs/**/*.log"],
        expect=[{"no_line_matches": "ERROR", "in": "logs/api/*.log"}],
    )
    assert result.passed, result


async def test_json_on_an_artifact_glob_reads_a_pretty_printed_report(ctx: CheckContext) -> None:
    report = {"summary": {"failed": 0, "passed": 41}}
    _write(ctx.base_dir / "reports/contract.json", json.dumps(report, indent=2))
    result = await run(
        ctx,
        shell="true",
        artifacts=["reports/*.json"],
        expect=[
            {"json": {"path": "summary.failed", "equals": 0}, "in": "reports/*.json"},
            {"json": {"path": "summary.passed", "min": 40}, "in": "artifacts"},
        ],
    )
    assert result.passed, result


async def test_glob_source_matching_no_artifact_fails(ctx: CheckContext) -> None:
    _write(ctx.base_dir / "a.log", "x\n")
    result = await run(
        ctx, shell="true", artifacts=["*.log"], expect=[{"contains": "x", "in": "*.json"}]
    )
    assert result.status == "failed"
    assert "no collected artifact matches '*.json'" in result.summary


async def test_the_evidence_folder_is_never_collected(tmp_path: Path) -> None:
    ctx = CheckContext(evidence_dir=tmp_path / "evidence", base_dir=tmp_path)
    result = await run(ctx, shell="echo hi", artifacts=["**/*.txt"])
    assert not any(e.startswith("artifacts/") for e in result.evidence)
    assert "artifact glob matched nothing: **/*.txt" in result.details
    assert sorted(os.listdir(ctx.evidence_dir)) == ["command.json", "stderr.txt", "stdout.txt"]


async def test_a_command_ignoring_sigterm_is_killed(ctx: CheckContext) -> None:
    started = time.monotonic()
    result = await run(
        ctx, shell="trap '' TERM; sleep 100 & echo $! > child.pid; wait", timeout=0.3
    )
    assert result.status == "error"
    assert time.monotonic() - started < 10
    child = int((ctx.base_dir / "child.pid").read_text())
    deadline = time.monotonic() + 5
    while _alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _alive(child)
