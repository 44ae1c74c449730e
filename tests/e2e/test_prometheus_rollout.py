"""End to end: a rollout of the example judged by a real Prometheus rolls back a faulty
candidate.

Prometheus scrapes the stable and candidate ports (chosen free and passed to the plan through
``CHAT_*_PORT``) every second; ``traffic.py`` sends 60 requests/s through the router; the
candidate answers 30% of API requests with 500 from 8 s after its start. The 5xx trigger on
the Prometheus metric must fire and the rollout must end rolled back (exit code 3).
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import ROLLGUARD, demo_env, output_json, router_url, start, stop
from tests.prometheus_server import require_prometheus, running_prometheus

pytestmark = pytest.mark.e2e

PLAN = Path(__file__).parent / "prom" / "rollout.yaml"


def rollout(tmp_path: Path, **faults: str) -> tuple[int, dict[str, Any], str]:
    """Run the plan against a fresh Prometheus with ``faults`` in the candidate's environment;
    return the exit code, the JSON outcome and stderr. Every process is stopped afterwards."""
    require_prometheus()
    env = demo_env(**faults)
    targets = [f"127.0.0.1:{env['CHAT_STABLE_PORT']}", f"127.0.0.1:{env['CHAT_CANDIDATE_PORT']}"]
    with running_prometheus(tmp_path / "prometheus", targets=targets) as prom:
        prom.wait_for('up{job="test"}')  # ingestion works (the targets are still down)
        env["PROM_URL"] = prom.url
        traffic = start(
            [*ROLLGUARD[:1], "examples/chat/traffic.py", "--url", router_url(env), "--rate", "60"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        run = start(
            [*ROLLGUARD, "run", str(PLAN), "--store", str(tmp_path / "rg.db")]
            + ["--auto-approve", "--output", "json"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            stdout, stderr = run.communicate(timeout=120)
        finally:
            stop(run, signal.SIGINT)
            stop(traffic)
    res = subprocess.CompletedProcess(run.args, run.returncode, stdout, stderr)
    return res.returncode, output_json(res), stderr


def test_prometheus_metrics_roll_back_a_faulty_candidate(tmp_path: Path) -> None:
    code, out, stderr = rollout(tmp_path, CANDIDATE_FAULT_5XX="0.3", CANDIDATE_FAULT_AFTER="8")
    assert code == 3, (out.get("trigger"), stderr[-3000:])
    assert out["outcome"] == "rolled_back" and out["weight"] == 0
    fired = out["trigger"]
    assert fired["trigger"] == "5xx-rate" and fired["metric"] == "error_rate"
    # Either bound may fire first: max 5%, or 5x a baseline floored at 0.1%.
    assert fired["status"] == "fail" and fired["value"] > 0.005
    assert fired["bound"] in ("max: 0.05", "max_ratio_to_baseline: 5")
    assert fired["samples"] >= 10
    assert out["checks"]["rollback.verify"]["passed"] is True


def test_persistence_errors_in_the_candidates_log_roll_back(tmp_path: Path) -> None:
    # traffic.py posts messages; the candidate acknowledges them and drops them, logging
    # "ERROR persistence: ..." to its process log, which the logs metric counts.
    code, out, stderr = rollout(
        tmp_path, CANDIDATE_FAULT_DROP_WRITES="1", CANDIDATE_FAULT_AFTER="6"
    )
    assert code == 3, (out.get("trigger"), stderr[-3000:])
    fired = out["trigger"]
    assert fired["trigger"] == "persistence-errors" and fired["metric"] == "persistence_errors"
    assert fired["status"] == "fail" and fired["value"] >= 1
