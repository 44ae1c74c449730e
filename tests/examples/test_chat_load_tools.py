"""bench.py, traffic.py and the command lines of every example script."""

from __future__ import annotations

import signal
import subprocess
import sys

import httpx
import pytest

from tests.conftest import free_port
from tests.examples.chat_procs import (
    RunningService,
    StartService,
    clean_env,
    json_line,
    run_script,
    script,
    stop_process,
    wait_until,
)


def _unused_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


def _requests_served(service: RunningService) -> float:
    text = httpx.get(f"{service.url}/metrics", timeout=10).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("chat_http_requests_total{") and 'route="/metrics"' not in line
    )


@pytest.mark.parametrize("name", ["chat_service.py", "contract.py", "bench.py", "traffic.py"])
def test_every_script_has_help(name: str) -> None:
    result = run_script(name, "--help")
    assert result.returncode == 0
    assert "--url" in result.stdout or "--db" in result.stdout


def test_bench_prints_a_json_summary(service: RunningService) -> None:
    result = run_script("bench.py", "--url", service.url, "--requests", "60", "--concurrency", "4")
    assert result.returncode == 0, result.stderr
    summary = json_line(result.stdout)
    for field in ("requests", "errors", "error_ratio", "p50_ms", "p95_ms", "p99_ms"):
        assert field in summary
    assert summary["requests"] == 60
    assert summary["errors"] == 0
    assert summary["throughput_rps"] > 0
    assert 0 < summary["p50_ms"] <= summary["p95_ms"] <= summary["p99_ms"]


def test_bench_counts_injected_errors(start_service: StartService) -> None:
    service = start_service(env={"CHAT_FAULT_5XX": "0.5"})
    result = run_script("bench.py", "--url", service.url, "--requests", "100")
    assert result.returncode == 0, result.stderr
    summary = json_line(result.stdout)
    assert summary["errors"] == summary["statuses"]["500"] > 0
    assert summary["error_ratio"] == round(summary["errors"] / summary["requests"], 4)


def test_bench_exits_1_when_p95_misses_the_target(start_service: StartService) -> None:
    service = start_service(env={"CHAT_FAULT_LATENCY": "0.1"})
    result = run_script(
        "bench.py",
        *("--url", service.url, "--requests", "20", "--concurrency", "4"),
        *("--p95-target-ms", "50"),
    )
    assert result.returncode == 1, result.stderr
    summary = json_line(result.stdout)
    assert summary["p95_ms"] >= 100
    assert summary["p95_within_target"] is False


def test_bench_exits_2_when_it_cannot_reach_the_service() -> None:
    result = run_script("bench.py", "--url", _unused_url(), "--requests", "5")
    assert result.returncode == 2
    assert "could not run" in result.stderr


def test_contract_reports_an_unreachable_service() -> None:
    result = run_script("contract.py", "--url", _unused_url())
    assert result.returncode == 1
    assert "ERROR request to" in result.stdout
    assert json_line(result.stdout) == {"passed": 0, "failed": 1, "artifact": None}


def test_traffic_runs_for_a_duration(service: RunningService) -> None:
    result = run_script("traffic.py", "--url", service.url, "--rate", "50", "--duration", "2")
    assert result.returncode == 0, result.stderr
    summary = json_line(result.stdout)
    assert summary["sent"] > 0
    assert summary["errors"] == 0
    assert sum(summary["statuses"].values()) == summary["sent"]
    assert _requests_served(service) >= summary["sent"]


def test_traffic_stops_cleanly_on_sigterm(service: RunningService) -> None:
    proc = subprocess.Popen(
        [sys.executable, script("traffic.py"), "--url", service.url, "--rate", "50"],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: _requests_served(service) >= 10, what="traffic to arrive")
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=20)
    finally:
        stop_process(proc)
    assert proc.returncode == 0, stderr
    assert json_line(stdout)["sent"] >= 10


def test_traffic_keeps_going_while_the_service_is_down() -> None:
    url = _unused_url()
    result = run_script("traffic.py", "--url", url, "--rate", "20", "--duration", "1")
    assert result.returncode == 0, result.stderr
    summary = json_line(result.stdout)
    assert summary["sent"] == summary["errors"] == summary["statuses"]["error"] > 0
