"""The ``bench`` check: the built-in load generator against the example chat service (a real
process on 127.0.0.1), and bench commands whose output is parsed.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rollguard.checks.base import CheckContext, CheckResult
from rollguard.checks.bench import BenchCheckRunner
from rollguard.checks.loadgen import MissingValue, percentile, render
from rollguard.checks.query import QueryCheckRunner
from rollguard.plan import model
from tests.conftest import free_port, require
from tests.examples.chat_procs import clean_env, script, stop_process

LISTENING = re.compile(r"listening on (http://\S+)")


@dataclass
class Chat:
    url: str
    db: Path


@pytest.fixture
def chat(tmp_path: Path) -> Iterator[Chat]:
    """The example chat service on a port of its choosing, with its SQLite file."""
    db = tmp_path / "chat.db"
    log_path = tmp_path / "chat.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, script("chat_service.py"), "--port", "0", "--version", "go"]
            + ["--db", str(db)],
            env=clean_env(),
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
    try:
        deadline = time.monotonic() + 15
        while not (found := LISTENING.search(log_path.read_text())):
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"chat service did not start:\n{log_path.read_text()}")
            time.sleep(0.05)
        yield Chat(url=found.group(1), db=db)
    finally:
        stop_process(proc)


async def bench(ctx: CheckContext, **fields: Any) -> CheckResult:
    spec = model.BenchCheck.model_validate({"name": "bench", "kind": "bench", **fields})
    return await BenchCheckRunner().run(spec, ctx)


def record(ctx: CheckContext, name: str = "bench.json") -> dict[str, Any]:
    value = json.loads((ctx.evidence_dir / name).read_text())
    assert isinstance(value, dict)
    return value


CHAT_REQUESTS = [
    {
        "method": "POST",
        "path": "/threads",
        "json": {"title": "bench {{worker}}"},
        "once": True,
        "capture": {"thread": "id"},
    },
    {
        "method": "POST",
        "path": "/threads/{{thread}}/messages",
        "weight": 3,
        "json": {"author": "bench-{{worker}}", "body": "message {{seq}}"},
    },
    {"method": "GET", "path": "/threads/{{thread}}/messages?limit=5"},
]


async def test_loadgen_creates_threads_and_messages(ctx: CheckContext, chat: Chat) -> None:
    result = await bench(
        ctx,
        url=chat.url,
        requests=CHAT_REQUESTS,
        count=60,
        concurrency=4,
        targets={"p95_ms": {"max": 10_000}, "error_ratio": {"max": "0%"}, "requests": {"min": 60}},
    )
    assert result.status == "passed", (result, record(ctx, "loadgen.json"))
    assert result.evidence == ["bench.json", "loadgen.json"]
    summary = record(ctx)["results"]
    assert summary["requests"] == 60 and summary["errors"] == 0
    assert summary["p50_ms"] <= summary["p95_ms"] <= summary["p99_ms"] <= summary["max_ms"]
    assert [v["ok"] for v in record(ctx)["verdicts"]] == [True, True, True]
    raw = record(ctx, "loadgen.json")
    assert raw["per_template"]["POST /threads"] == 4  # once per worker
    posted = raw["per_template"]["POST /threads/{{thread}}/messages"]
    assert set(raw["outcomes"]) == {"200", "201"}

    # every acknowledged message is in the service's database
    persisted = model.QueryCheck.model_validate(
        {
            "name": "persisted",
            "kind": "query",
            "url": f"sqlite:///{chat.db}",
            "sql": "SELECT count(*) FROM messages WHERE author LIKE 'bench-%'",
            "equals": posted,
        }
    )
    assert (await QueryCheckRunner().run(persisted, ctx)).passed


async def test_open_loop_rate_and_weighted_pick(ctx: CheckContext, chat: Chat) -> None:
    result = await bench(
        ctx,
        url=chat.url,
        requests=[{"path": "/status", "weight": 3}, {"path": "/threads"}],
        pick="weighted",
        seed=7,
        count=40,
        rate=400,
        concurrency=3,
        targets={"error_ratio": {"max": 0}, "requests": {"min": 40, "max": 40}},
    )
    assert result.passed, result
    counts = record(ctx, "loadgen.json")["per_template"]
    assert counts["GET /status"] + counts["GET /threads"] == 40


async def test_duration_mode_sends_until_the_time_is_up(ctx: CheckContext, chat: Chat) -> None:
    result = await bench(
        ctx,
        url=chat.url,
        requests=[{"path": "/status"}],
        duration="300ms",
        concurrency=2,
        targets={"requests": {"min": 1}, "rps": {"min": 0.1}},
    )
    assert result.passed, result


async def test_broken_target_fails(ctx: CheckContext, chat: Chat) -> None:
    result = await bench(
        ctx,
        url=chat.url,
        requests=[{"path": "/nowhere"}],
        count=10,
        targets={"error_ratio": {"max": "1%"}},
    )
    assert result.status == "failed"
    assert result.summary == "error_ratio <= 0.01 failed: error_ratio is 1"
    assert record(ctx, "loadgen.json")["outcomes"] == {"404": 10}


async def test_capture_and_template_errors_count_as_errors(ctx: CheckContext, chat: Chat) -> None:
    result = await bench(
        ctx,
        url=chat.url,
        requests=[
            {"path": "/status", "once": True, "capture": {"thread": "no.such.field"}},
            {"path": "/threads/{{thread}}/messages"},
        ],
        count=4,
        concurrency=1,
        targets={"errors": {"max": 0}},
    )
    assert result.status == "failed"
    raw = record(ctx, "loadgen.json")
    assert raw["outcomes"]["error:capture"] == 1
    assert raw["outcomes"]["error:template"] == 3
    assert "no value for {{thread}}" in raw["error_samples"][-1]


async def test_unreachable_url_reports_no_latency(ctx: CheckContext) -> None:
    result = await bench(
        ctx,
        url=f"http://127.0.0.1:{free_port()}",
        count=3,
        concurrency=1,
        targets={"p95_ms": {"max": 100}},
    )
    assert result.status == "error"
    assert result.summary == "p95_ms <= 100: not reported by the bench"
    assert record(ctx, "loadgen.json")["outcomes"] == {"error:ConnectError": 3}


def test_render_and_percentile() -> None:
    assert render(
        {"t": "{{thread}}", "b": "m{{seq}}", "l": ["{{seq}}"]}, {"thread": 7, "seq": 2}
    ) == {"t": 7, "b": "m2", "l": [2]}
    with pytest.raises(MissingValue):
        render("/threads/{{thread}}", {})
    ordered = [float(n) for n in range(1, 101)]
    assert percentile(ordered, 0.5) == 50 and percentile(ordered, 0.95) == 95
    assert percentile([3.0], 0.99) == 3.0


# ---------------------------------------------------------------------------- commands


async def test_command_with_regex(ctx: CheckContext) -> None:
    shell = "echo 'threads_bench: p50=4.1ms p95=12.5ms rps=812.3 errors=0.001'"
    regex = (
        r"p50=(?P<p50>[\d.]+)ms p95=(?P<p95>[\d.]+)ms "
        r"rps=(?P<rps>[\d.]+) errors=(?P<error_ratio>[\d.]+)"
    )
    targets = {"p95": {"max": 20}, "rps": {"min": 500}, "error_ratio": {"max": "0.5%"}}
    result = await bench(ctx, shell=shell, regex=regex, targets=targets)
    assert result.passed, result
    assert record(ctx)["results"] == {
        "p50_ms": 4.1,
        "p95_ms": 12.5,
        "rps": 812.3,
        "error_ratio": 0.001,
    }
    assert "stdout.txt" in result.evidence and "command.json" in result.evidence

    slow = await bench(ctx, shell=shell, regex=regex, targets={"p95_ms": {"max": 10}})
    assert slow.status == "failed"
    assert slow.summary == "p95_ms <= 10 failed: p95_ms is 12.5"


async def test_command_output_file_with_json_paths(ctx: CheckContext) -> None:
    summary = {"summary": {"p95": 31.5, "throughput": 250}}
    shell = f"mkdir -p out && echo '{json.dumps(summary)}' > out/summary.json && echo done"
    result = await bench(
        ctx,
        shell=shell,
        output_file="out/summary.json",
        paths={"p95_ms": "summary.p95", "rps": "summary.throughput"},
        targets={"p95_ms": {"max": 50}, "rps": {"min": 100}},
    )
    assert result.passed, result
    assert "artifacts/out/summary.json" in result.evidence


async def test_command_errors(ctx: CheckContext) -> None:
    crashed = await bench(
        ctx, shell="echo 'p95=1'; exit 3", regex=r"p95=(?P<p95>\d+)", targets={"p95": {"max": 5}}
    )
    assert crashed.status == "error"
    assert crashed.summary.startswith("bench command exited 3")
    allowed = await bench(
        ctx,
        shell="echo 'p95=1'; exit 3",
        regex=r"p95=(?P<p95>\d+)",
        exit_codes=[0, 3],
        targets={"p95": {"max": 5}},
    )
    assert allowed.passed
    garbled = await bench(ctx, shell="echo hello", parser="hey", targets={"p95": {"max": 5}})
    assert garbled.status == "error"
    assert "cannot read the bench output (stdout.txt)" in garbled.summary
    missing = await bench(
        ctx, command=["no-such-bench-tool"], parser="k6", targets={"p95": {"max": 5}}
    )
    assert missing.status == "error"


async def test_real_wrk_run_parsed(ctx: CheckContext, chat: Chat) -> None:
    require(shutil.which("wrk") is not None, "wrk is not installed (apt-get install wrk)")
    result = await bench(
        ctx,
        command=["wrk", "--latency", "-t1", "-c2", "-d1s", f"{chat.url}/status"],
        parser="wrk",
        targets={"p99_ms": {"max": 10_000}, "requests": {"min": 1}, "error_ratio": {"max": 0}},
        timeout=30,
    )
    assert result.passed, (result, (ctx.evidence_dir / "stdout.txt").read_text())
    results = record(ctx)["results"]
    assert {"p50_ms", "p90_ms", "p99_ms", "rps", "requests", "mean_ms"} <= set(results)
