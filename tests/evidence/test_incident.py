"""The incident report built from hand-made event logs and a small evidence folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rollguard.analysis.assess import Verdict
from rollguard.evidence.folder import RunFolder
from rollguard.evidence.incident import build_incident, redact, write_incident
from rollguard.plan import model
from tests.engine.eventlog import T0, Log, make_plan, observation

TOKEN = "ghp_incident_token_0123456789"
SLACK = "https://hooks.slack.com/services/T0/B0/slacksecret99"
ENV = {"GITHUB_TOKEN": TOKEN, "SLACK_WEBHOOK_URL": SLACK, "CHAT_PORT": "3010"}


def plan() -> model.Plan:
    check = {"name": "stable /status", "kind": "http", "url": "${stable.url}/status"}
    return make_plan(
        service="services/chat",
        stable={"version": "node", "url": "http://127.0.0.1:3010", "image": "reg/chat:node"},
        candidate={"version": "go", "url": "http://127.0.0.1:3011", "image": "reg/chat:go"},
        rollback={"verify": [check]},
        incident={
            "sinks": [
                {"kind": "github", "repo": "acme/chat", "labels": ["incident"]},
                {"kind": "slack", "url": "${env.SLACK_WEBHOOK_URL}"},
            ]
        },
    )


def result(name: str, status: str, summary: str, folder: str) -> dict[str, Any]:
    return {"name": name, "status": status, "summary": summary, "folder": folder, "details": []}


def checks(group: str, *results: dict[str, Any]) -> dict[str, Any]:
    passed = all(r["status"] == "passed" for r in results)
    return {"group": group, "passed": passed, "results": list(results)}


def canary(log: Log) -> Log:
    """Preflight passed, baseline measured, 5% to the candidate, one passing analysis."""
    log.add("phase_entered", T0, phase="preflight")
    log.act("run_checks", T0 + 1, result=checks("preflight"), group="preflight")
    log.add("phase_entered", T0 + 1, phase="baseline")
    log.act("prepare", T0 + 2)
    log.act("observe", T0 + 12, result={"stable": {}}, purpose="baseline")
    log.add("phase_entered", T0 + 12, phase="canary")
    log.add("step_started", T0 + 12, index=0, kind="weight")
    log.act("set_weight", T0 + 12, weight=5)
    return log


def analysis(log: Log, at: float, *verdicts: Verdict) -> None:
    log.act("observe", at, result=observation(), purpose="analysis")
    log.add(
        "analysis", at, observation_seq=log.events[-1].seq, verdicts=[v.to_dict() for v in verdicts]
    )


FAIL = Verdict(
    trigger="5xx",
    metric="errors",
    status="fail",
    reason="errors 2.00% > max 0.50%",
    value=0.02,
    samples=400,
    baseline=0.001,
    baseline_samples=4000,
    bound="max: 0.50%",
    threshold=0.005,
)
PASS = Verdict(trigger="latency", metric="p95", status="pass", reason="within bounds", value=0.04)


def roll_back(log: Log, at: float, kind: str, reason: str, *, verify: str = "passed") -> Log:
    log.add("phase_entered", at, phase="rolling_back", kind=kind, reason=reason)
    log.act("set_weight", at, weight=0)
    log.act("rollback", at + 1)
    verified = result(
        "stable /status",
        verify,
        "GET http://127.0.0.1:3010/status: status 200",
        "checks/rollback.verify/01-stable-status",
    )
    log.act(
        "run_checks", at + 2, result=checks("rollback.verify", verified), group="rollback.verify"
    )
    log.add("phase_entered", at + 2, phase="rolled_back", reason=reason)
    return log.add("rollout_finished", at + 2, outcome="rolled_back", reason=reason, exit_code=3)


def triggered() -> Log:
    log = canary(Log())
    analysis(
        log,
        T0 + 14,
        Verdict(
            trigger="5xx", metric="errors", status="inconclusive", reason="3 of 20 samples needed"
        ),
        PASS,
    )
    analysis(log, T0 + 16, FAIL, PASS)
    log.add("trigger_fired", T0 + 16, verdict=FAIL.to_dict())
    return roll_back(log, T0 + 16, "trigger", "trigger '5xx' fired: errors 2.00% > max 0.50%")


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "runs" / "r1"
    for rel, text in {
        "events.jsonl": "{}\n",
        "metrics/00008-baseline.json": "{}",
        "metrics/00014-analysis.json": "{}",
        "metrics/00017-analysis.json": '{"metrics": {}}',
        "checks/rollback.verify/01-stable-status/result.json": "{}",
        "ci/chat-contract/contract-run-1.out": "ok\n",
    }.items():
        (folder / rel).parent.mkdir(parents=True, exist_ok=True)
        (folder / rel).write_text(text)
    return folder


def test_a_trigger_incident_says_what_fired_with_the_numbers(run_dir: Path) -> None:
    log = triggered()
    incident = build_incident(plan(), log.state(), log.events, run_dir=run_dir, environ=ENV)
    assert incident["rollout_id"] == "r1" and incident["plan_name"] == "chat"
    assert incident["stable"] == {"version": "node", "image": "reg/chat:node"}
    assert incident["candidate"] == {"version": "go", "image": "reg/chat:go"}
    assert incident["outcome"] == "rolled_back" and incident["exit_code"] == 3
    assert incident["weight_at_rollback"] == 5
    assert incident["started_at"] == "2027-01-15T08:00:00+00:00"
    assert incident["rollback_started_at"] == "2027-01-15T08:00:16+00:00"
    assert incident["ended_at"] == "2027-01-15T08:00:18+00:00" and incident["duration"] == 18
    reason = incident["reason"]
    assert reason["kind"] == "trigger"
    verdict = reason["verdict"]
    assert (verdict["value_text"], verdict["threshold_text"], verdict["baseline_text"]) == (
        "2.00%",
        "0.50%",
        "0.10%",
    )
    assert "'5xx'" in incident["title"] and "2.00%" in incident["title"]
    assert "go" in incident["summary"] and "node" in incident["summary"]


def test_the_failing_observations_link_their_metric_snapshots(run_dir: Path) -> None:
    log = triggered()
    incident = build_incident(plan(), log.state(), log.events, run_dir=run_dir, environ=ENV)
    observations = incident["observations"]
    assert [o["snapshot"] for o in observations] == [
        "metrics/00014-analysis.json",
        "metrics/00017-analysis.json",
    ]
    assert observations[-1]["verdicts"][0]["status"] == "fail"
    assert observations[-1]["verdicts"][1]["value_text"] == "40.0ms"
    assert incident["snapshots"] == [
        "metrics/00008-baseline.json",
        "metrics/00014-analysis.json",
        "metrics/00017-analysis.json",
    ]


def test_verification_timeline_and_artifacts(run_dir: Path) -> None:
    log = triggered()
    incident = build_incident(plan(), log.state(), log.events, run_dir=run_dir, environ=ENV)
    assert incident["verification"]["passed"] is True
    assert (
        incident["verification"]["results"][0]["folder"]
        == "checks/rollback.verify/01-stable-status"
    )
    texts = [t["text"] for t in incident["timeline"]]
    assert "TRIGGER '5xx' fired: errors 2.00% > max 0.50%" in texts
    assert "rolling back: restoring stable" in texts
    assert incident["timeline"][0]["offset"] == 0
    paths = {a["path"]: a["bytes"] for a in incident["artifacts"]}
    assert paths["ci/chat-contract/contract-run-1.out"] == 3
    assert paths["metrics/00017-analysis.json"] == len('{"metrics": {}}')
    assert all(not p.startswith("/") for p in paths)
    assert incident["failed_checks"] == []


def test_a_failed_smoke_check_is_the_reason_with_its_evidence(run_dir: Path) -> None:
    log = canary(Log())
    smoke = result(
        "contract against canary", "failed", "exit code 1", "checks/steps-0-.smoke/01-contract"
    )
    log.act("run_checks", T0 + 20, result=checks("steps[0].smoke", smoke), group="steps[0].smoke")
    roll_back(
        log,
        T0 + 20,
        "check",
        "smoke check failed in step 1: contract against canary",
        verify="failed",
    )
    incident = build_incident(plan(), log.state(), log.events, run_dir=run_dir, environ={})
    reason = incident["reason"]
    assert reason["kind"] == "check"
    assert [c["name"] for c in reason["checks"]] == ["contract against canary"]
    assert reason["checks"][0]["folder"] == "checks/steps-0-.smoke/01-contract"
    assert {c["group"] for c in incident["failed_checks"]} == {"steps[0].smoke", "rollback.verify"}
    assert incident["verification"]["passed"] is False
    assert "FAILED" in incident["markdown"] and "contract against canary" in incident["title"]


def test_an_abort_names_who_and_why(run_dir: Path) -> None:
    log = canary(Log())
    log.add("abort_requested", T0 + 20, by="alice", reason="customer reports")
    roll_back(log, T0 + 20, "abort", "aborted by alice: customer reports")
    incident = build_incident(plan(), log.state(), log.events, run_dir=run_dir, environ={})
    assert incident["reason"]["kind"] == "abort"
    assert (incident["reason"]["by"], incident["reason"]["why"]) == ("alice", "customer reports")
    assert "Aborted by **alice**: customer reports" in incident["markdown"]


def test_provider_errors_are_listed(run_dir: Path) -> None:
    log = canary(Log())
    error = Verdict(
        trigger="5xx", metric="errors", status="error", reason="provider error: timeout"
    )
    analysis(log, T0 + 14, error, PASS)
    roll_back(log, T0 + 20, "provider_error", "metric provider failed 4 times in a row for 5xx")
    incident = build_incident(plan(), log.state(), log.events, run_dir=run_dir, environ={})
    assert incident["reason"]["kind"] == "provider_error"
    assert [v["reason"] for v in incident["reason"]["errors"]] == ["provider error: timeout"]
    assert "provider error: timeout" in incident["markdown"]


def test_no_secret_is_written(run_dir: Path) -> None:
    log = canary(Log())
    leaky = result(
        "contract",
        "failed",
        f"mongodb://app:hunter2pw@db:27017/chat refused token {TOKEN} and {SLACK}",
        "checks/x",
    )
    log.act("run_checks", T0 + 20, result=checks("steps[0].smoke", leaky), group="steps[0].smoke")
    roll_back(log, T0 + 20, "check", "smoke check failed in step 1: contract")
    incident = build_incident(plan(), log.state(), log.events, run_dir=run_dir, environ=ENV)
    json_path, md_path = write_incident(RunFolder(run_dir), incident)
    for text in (json_path.read_text(), md_path.read_text()):
        assert TOKEN not in text and "hunter2pw" not in text and "slacksecret99" not in text
        assert "mongodb://***@db:27017/chat" in text
        assert "127.0.0.1:3010" in text  # ordinary values stay readable


def test_write_incident_writes_json_and_markdown(run_dir: Path) -> None:
    log = triggered()
    incident = build_incident(plan(), log.state(), log.events, run_dir=run_dir, environ={})
    json_path, md_path = write_incident(RunFolder(run_dir), incident)
    assert (json_path.name, md_path.name) == ("incident.json", "incident.md")
    assert json.loads(json_path.read_text()) == incident
    markdown = md_path.read_text()
    assert markdown == incident["markdown"]
    for heading in (
        "## Why it rolled back",
        "## Failing observations",
        "## Rollback verification",
        "## Timeline",
        "## Artifacts",
    ):
        assert f"\n{heading}\n" in markdown
    assert "`metrics/00017-analysis.json`" in markdown
    # Built again, the report does not list itself among the artifacts.
    again = build_incident(plan(), log.state(), log.events, run_dir=run_dir, environ={})
    assert again["artifacts"] == incident["artifacts"]


def test_redact() -> None:
    assert redact("https://u:p@h/x token abc123", ["abc123"]) == "https://***@h/x token ***"


def test_only_the_last_analyses_before_the_rollback_are_kept(run_dir: Path) -> None:
    log = canary(Log())
    for i in range(5):
        analysis(log, T0 + 14 + i, PASS)
    roll_back(log, T0 + 30, "abort", "aborted by bob: test")
    analysis(log, T0 + 40, FAIL)  # after the rollback began: not a cause
    incident = build_incident(plan(), log.state(), log.events, run_dir=run_dir, environ={})
    seqs = [o["seq"] for o in incident["observations"]]
    assert len(seqs) == 3 and all(
        o["verdicts"][0]["status"] == "pass" for o in incident["observations"]
    )
    assert seqs == sorted(seqs)
