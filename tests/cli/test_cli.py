"""The CLI as a user meets it: exit codes, clear errors without tracebacks, --output json."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rollguard.engine.service import Service
from rollguard.plan.loader import load_plan
from tests.e2e.harness import PLAN

ROLLGUARD = [sys.executable, "-m", "rollguard"]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ROLLGUARD, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


def test_help_explains_the_exit_codes() -> None:
    res = cli("--help")
    assert res.returncode == 0
    text = " ".join(res.stdout.split())
    assert "0 completed, 1 internal error, 2 invalid input" in text
    assert "3 rolled back, 4 preflight failed, 5 aborted" in text
    for command in ("run", "resume", "status", "history", "abort", "approve", "validate", "demo"):
        assert command in res.stdout


def test_validate_accepts_the_example_plan() -> None:
    res = cli("validate", str(PLAN), "--output", "json")
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout) == {
        "valid": True,
        "plan": "chat-node-to-go",
        "steps": 6,
        "triggers": 4,
        "checks": 14,
    }


BASE = """apiVersion: rollguard/v1
name: t
stable: {version: a, url: "http://127.0.0.1:1"}
candidate: {version: b, url: "http://127.0.0.1:2"}
analysis: {interval: 2s}
steps: [{weight: 5}]
"""

# name -> (text replaced, replacement, line expected, text expected in the message)
MISTAKES = {
    "bad yaml": ("name: t", "name: t: x", 2, "invalid YAML"),
    "unknown key": ("name: t", "name: t\nowner: {}", 3, "unknown key 'owner'"),
    "bad duration": ("interval: 2s", "interval: soon", 5, "analysis.interval"),
    "weight over 100": ("weight: 5", "weight: 120", 6, "steps[0].weight"),
    "unknown template": ("name: t", "name: ${candidate.uri}", 2, "candidate.uri"),
    "missing stable url": ('url: "http://127.0.0.1:1"', "image: x", 3, "stable.url"),
}


@pytest.mark.parametrize("name", sorted(MISTAKES))
def test_a_wrong_plan_gives_file_line_field_and_exit_2_without_traceback(
    tmp_path: Path, name: str
) -> None:
    old, new, line, needle = MISTAKES[name]
    plan = tmp_path / "plan.yaml"
    assert old in BASE
    plan.write_text(BASE.replace(old, new, 1))
    res = cli("validate", str(plan))
    assert res.returncode == 2
    assert "Traceback" not in res.stderr + res.stdout
    first = res.stderr.splitlines()[0]
    assert first.startswith(f"{plan}:{line}:"), first
    assert needle in first


def test_validate_json_lists_every_issue(tmp_path: Path) -> None:
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        BASE.replace("steps: [{weight: 5}]", "steps: [{weight: 500, observe: x}]") + "extra: 1\n"
    )
    res = cli("validate", str(plan), "--output", "json")
    assert res.returncode == 2
    issues = json.loads(res.stdout)["issues"]
    assert {i["path"] for i in issues} >= {"steps[0].weight", "steps[0].observe", "extra"}
    assert all(i["line"] for i in issues)


def test_a_missing_plan_file_is_invalid_input() -> None:
    res = cli("run", "/nonexistent/plan.yaml")
    assert res.returncode == 2 and "Traceback" not in res.stderr


def _waiting_rollout(tmp_path: Path) -> tuple[str, Path]:
    store = tmp_path / "rg.db"
    svc = Service(str(store))
    rollout_id = svc.create(load_plan(PLAN))
    svc.close()
    return rollout_id, store


def test_approve_is_refused_for_a_person_not_listed_for_the_role(tmp_path: Path) -> None:
    rollout_id, store = _waiting_rollout(tmp_path)
    res = cli("approve", rollout_id, "--as", "mallory", "--role", "sre", "--store", str(store))
    assert res.returncode == 2
    assert "'mallory' may not approve as 'sre': the plan lists bob for that role" in res.stderr
    ok = cli(
        "approve",
        rollout_id,
        "--as",
        "bob",
        "--role",
        "sre",
        "--store",
        str(store),
        "--output",
        "json",
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"approved": True, "step": 3, "role": "sre", "by": "bob"}


def test_an_unknown_role_or_rollout_is_refused_clearly(tmp_path: Path) -> None:
    rollout_id, store = _waiting_rollout(tmp_path)
    res = cli("approve", rollout_id, "--as", "carol", "--role", "qa", "--store", str(store))
    assert res.returncode == 2 and "no approval by role 'qa' is pending" in res.stderr
    res = cli("status", "nope", "--store", str(store))
    assert res.returncode == 2 and "no rollout with id 'nope'" in res.stderr


def test_status_history_and_abort_speak_json(tmp_path: Path) -> None:
    rollout_id, store = _waiting_rollout(tmp_path)
    hist = json.loads(cli("history", "--store", str(store), "--output", "json").stdout)
    assert [h["id"] for h in hist] == [rollout_id]
    status = json.loads(cli("status", "--store", str(store), "--output", "json").stdout)
    assert status["id"] == rollout_id and status["state"] == "pending"
    res = cli("abort", rollout_id[:12], "--reason", "pager", "--store", str(store), "-o", "json")
    assert json.loads(res.stdout) == {"abort_requested": True, "id": rollout_id}


def test_an_aborted_rollout_exits_5(tmp_path: Path) -> None:
    rollout_id, store = _waiting_rollout(tmp_path)
    cli("abort", rollout_id, "--store", str(store))
    res = cli("resume", rollout_id, "--store", str(store), "--output", "json")
    assert res.returncode == 5, res.stderr
    assert json.loads(res.stdout)["outcome"] == "aborted"


def test_resume_is_refused_while_another_controller_drives_the_rollout(tmp_path: Path) -> None:
    import socket

    rollout_id, store = _waiting_rollout(tmp_path)
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        svc = Service(str(store))
        svc.store.append(
            rollout_id,
            "controller_started",
            {"pid": other.pid, "host": socket.gethostname()},
            at=0.0,
        )
        svc.close()
        res = cli("resume", rollout_id, "--store", str(store))
        assert res.returncode == 2
        assert f"driven by controller pid {other.pid} on this host" in res.stderr
    finally:
        other.kill()
        other.wait()
    cli("abort", rollout_id, "--store", str(store))
    res = cli("resume", rollout_id, "--store", str(store), "--output", "json")
    assert res.returncode == 5, res.stderr  # the dead controller no longer holds it
