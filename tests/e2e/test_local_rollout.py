"""The embedded default, end to end: real processes, real router, real traffic, real rollback.

Each test runs the ``rollguard`` CLI as a separate process, as a user would, on free ports.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rollguard.engine.service import Service
from tests.e2e.harness import (
    EXAMPLE,
    PLAN,
    ROLLGUARD,
    assert_log_is_whole,
    chat_registry,
    demo_env,
    events,
    output_json,
    require_registry,
    rollguard,
    router_url,
    start,
    stop,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(autouse=True)
def _registry_installed() -> None:
    """The example plan checks its images in a registry (the demo starts one of its own)."""
    require_registry()


def test_demo_promotes_a_healthy_candidate_and_keeps_the_evidence(tmp_path: Path) -> None:
    store = tmp_path / "rg.db"
    res = rollguard("demo", "--output", "json", "--store", str(store), env=demo_env())
    out = output_json(res)
    assert res.returncode == 0, res.stderr[-3000:]
    assert out["state"] == "completed" and out["weight"] == 100
    run_dir = Path(out["evidence"])
    contract = list(run_dir.glob("checks/preflight/*contract*/artifacts/**/contract-run-*.out"))
    assert contract, "the preflight contract output is in the evidence"
    assert all("ERROR" not in p.read_text() for p in contract)
    assert list(run_dir.glob("metrics/*-baseline.json"))
    assert len(list(run_dir.glob("metrics/*-analysis.json"))) >= 4
    assert (run_dir / "summary.md").read_text().startswith(f"# Rollout {out['id']}: completed")
    assert (run_dir / "events.jsonl").read_text().count("\n") == len(events(store, out["id"]))
    assert list(run_dir.glob("processes/candidate-go.log"))
    assert_log_is_whole(events(store, out["id"]))


def _first_injected_5xx(log: Path) -> float:
    for line in log.read_text().splitlines():
        if "injected fault" in line and " 500 " in line:
            stamp = line.split()[0]
            return (
                dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S.%fZ")
                .replace(tzinfo=dt.UTC)
                .timestamp()
            )
    raise AssertionError(f"no injected 5xx in {log}")


def test_demo_fault_5xx_rolls_back_on_the_5xx_trigger_within_two_intervals(tmp_path: Path) -> None:
    store = tmp_path / "rg.db"
    res = rollguard(
        "demo", "--fault", "5xx", "--output", "json", "--store", str(store), env=demo_env()
    )
    out = output_json(res)
    assert res.returncode == 3, res.stderr[-3000:]
    assert out["outcome"] == "rolled_back" and out["weight"] == 0
    # Either 5xx trigger: the sequential test against stable, or the absolute guardrail.
    assert out["trigger"]["trigger"] in {"5xx-rate", "5xx-guardrail"}
    assert out["trigger"]["status"] == "fail" and out["trigger"]["value"] > 0.005

    evs = events(store, out["id"])
    assert_log_is_whole(evs)
    run_dir = Path(out["evidence"])
    first_fault = _first_injected_5xx(run_dir / "processes" / "candidate-go.log")
    fired = next(e for e in evs if e.type == "trigger_fired")
    observations_between = [
        e
        for e in evs
        if e.type == "action_finished"
        and e.data["action"] == "observe"
        and first_fault <= e.at <= fired.at
    ]
    # Within two analysis intervals: at most two observations after the first faulty response.
    assert 1 <= len(observations_between) <= 2, [e.at - first_fault for e in observations_between]

    # Stable serves everything: the weight went to 0 before the candidate was stopped.
    after = [e for e in evs if e.seq > fired.seq and e.type == "action_finished" and e.data["ok"]]
    assert [e.data["action"] for e in after][:2] == ["set_weight", "rollback"]
    assert after[0].data["args"] == {"weight": 0}

    summary = (run_dir / "summary.md").read_text()
    assert out["trigger"]["trigger"] in summary and out["trigger"]["reason"] in summary
    assert re.search(r"candidate value \d+\.\d\d% over \d+ requests", summary)


def test_demo_fault_latency_rolls_back_on_the_p95_trigger(tmp_path: Path) -> None:
    res = rollguard(
        "demo",
        "--fault",
        "latency",
        "--output",
        "json",
        "--store",
        str(tmp_path / "rg.db"),
        env=demo_env(),
    )
    out = output_json(res)
    assert res.returncode == 3, res.stderr[-3000:]
    assert out["trigger"]["trigger"] == "p95-latency"
    # The sequential judge's value is the share of canary requests slower than stable's p95:
    # with 150 ms added to every request it is far above the tolerated 2 x 5%.
    assert out["trigger"]["value"] > 0.1
    assert out["trigger"]["baseline"] < 0.1


def test_demo_fault_writes_is_caught_by_the_persistence_smoke_check(tmp_path: Path) -> None:
    res = rollguard(
        "demo",
        "--fault",
        "writes",
        "--output",
        "json",
        "--store",
        str(tmp_path / "rg.db"),
        env=demo_env(),
    )
    out = output_json(res)
    assert res.returncode == 3, res.stderr[-3000:]
    assert out["trigger"] is None
    assert out["rollback"]["kind"] == "check"
    assert "contract against canary" in out["rollback"]["reason"]
    smoke = out["checks"]["steps[1].smoke"]["results"]
    failed = next(r for r in smoke if r["name"] == "contract against canary")
    assert failed["status"] == "failed"
    artifact = next(
        Path(out["evidence"]).glob(f"{failed['folder']}/artifacts/**/contract-run-*.out")
    )
    assert "not persisted" in artifact.read_text()
    assert out["checks"]["rollback.verify"]["passed"] is True


def _wait_for(predicate, *, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_kill_9_mid_step_then_resume_continues_that_step(tmp_path: Path) -> None:
    store = tmp_path / "rg.db"
    with chat_registry(tmp_path / "registry") as registry:
        _kill_9_then_resume(store, demo_env(registry.host))


def _kill_9_then_resume(store: Path, env: dict[str, str]) -> None:
    traffic = start(
        [sys.executable, str(EXAMPLE / "traffic.py"), "--url", router_url(env), "--rate", "60"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    runner = start(
        [*ROLLGUARD, "run", str(PLAN), "--store", str(store), "--auto-approve", "--output", "json"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        svc = Service(str(store))

        def in_ramp_25() -> bool:
            rows = svc.history(limit=1)
            if not rows:
                return False
            s = svc.inspect(rows[0].id).state
            return s.step == 3 and s.router_weight == 25 and s.pending is None

        _wait_for(in_ramp_25, timeout=150, what="step 4 (25%) to be running")
        rollout_id = svc.history(limit=1)[0].id
        os.kill(runner.pid, signal.SIGKILL)  # the controller only; its services live on
        runner.wait()
        before = events(store, rollout_id)
        assert not any(e.type == "rollout_finished" for e in before)

        resumed = rollguard(
            "resume",
            rollout_id,
            "--store",
            str(store),
            "--auto-approve",
            "--output",
            "json",
            env=env,
        )
        out = output_json(resumed)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        assert out["state"] == "completed"
        svc.close()
    finally:
        stop(runner)
        stop(traffic)

    evs = events(store, rollout_id)
    assert_log_is_whole(evs)
    assert [e.to_dict() for e in evs[: len(before)]] == [e.to_dict() for e in before]
    resumed_at = next(e.seq for e in evs if e.type == "resumed")
    after = [e for e in evs if e.seq > resumed_at]
    # The step is continued, not restarted: no step before 4 starts again.
    assert all(e.data["index"] >= 4 for e in after if e.type == "step_started")
    completed = [e for e in after if e.type == "step_completed"]
    assert completed and completed[0].data["index"] == 3
    # The weight of that step is applied again before it completes.
    weights = [e for e in after if e.type == "action_finished" and e.data["action"] == "set_weight"]
    assert weights and weights[0].data["args"] == {"weight": 25}
    assert weights[0].seq < completed[0].seq
