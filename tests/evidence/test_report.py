"""The migration audit, rendered from real rollouts driven by the runner with the public fakes.

Two rollouts of one plan (a checklist computed from checks and signed by roles, a promotion
that rewrites a file, a completion action): one completes, one is rolled back by a trigger.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from rollguard.engine import runner as runner_mod
from rollguard.engine.phases import Phase
from rollguard.engine.service import Service
from rollguard.engine.state import RolloutState, fold
from rollguard.evidence import report
from rollguard.evidence.folder import RunFolder
from rollguard.evidence.templates import when
from rollguard.plan import model
from rollguard.plan.loader import load_plan
from rollguard.store.base import Event
from rollguard.testing import FakeBackend, FakeClock, VersionBehaviour

PY = '"${run.python}"'
PLAN = f"""
apiVersion: rollguard/v1
name: chat-audit
service: services/chat
stable: {{version: node, url: "http://127.0.0.1:1", image: "reg/chat:node-1"}}
candidate: {{version: go, url: "http://127.0.0.1:2", image: "reg/chat:go-2"}}
analysis: {{interval: 2s, window: 10s, baseline: 4s, min_samples: 10}}
metrics:
  errors: {{query: error_ratio}}
  p95: {{query: p95}}
triggers:
  - {{name: 5xx, metric: errors, any: [{{max: 0.5%}}, {{max_ratio_to_baseline: 5}}],
      min_baseline: 0.1%}}
  - {{name: latency, metric: p95, max: 250ms}}
preflight:
  - {{name: unit tests, kind: command, command: [{PY}, -c, "print('ok')"]}}
steps:
  - {{name: canary 10%, weight: 10, observe: 6s}}
  - name: smoke on canary
    smoke: [{{name: canary smoke, kind: command, command: [{PY}, -c, "print('smoke')"]}}]
  - {{name: owners acknowledge, approve: [sre]}}
  - {{name: full 100%, weight: 100, observe: 6s}}
post_validation:
  - {{name: post contract, kind: command, command: [{PY}, -c, "print('contract')"]}}
rollback:
  verify: [{{name: stable status, kind: command, command: [{PY}, -c, "print('up')"]}}]
promotion:
  - {{kind: rewrite, name: compose image, files: [compose.yaml], replace: "chat:node-1",
      with: "chat:go-2"}}
signoff:
  checklist:
    - {{name: Unit tests pass in CI, checks_passed: [unit tests]}}
    - {{name: Canary smoke passes and no alert fired, checks_passed: [canary smoke],
        no_trigger_fired: true}}
    - {{name: Contract at 100% accepted by QA, checks_passed: [post contract], roles: [qa]}}
    - {{name: Owners have signed off, roles: [sre, qa]}}
on_complete:
  - {{kind: command, name: mark T047 completed, command: [{PY}, -c, "print('T047')"]}}
owners: {{sre: [bob], qa: [carol]}}
"""
SIGNERS = {"sre": ("bob", "metrics stable"), "qa": ("carol", "")}


@dataclass
class Run:
    """A finished rollout and everything the report is built from."""

    store: Path
    plan: model.Plan
    state: RolloutState
    events: list[Event]
    run_dir: Path

    def build(self, *, events: list[Event] | None = None) -> dict[str, Any]:
        evs = self.events if events is None else events
        return report.build_report(self.plan, fold(evs), evs, run_dir=self.run_dir)


def _drive(base: Path, *, candidate_errors: float) -> Run:
    base.mkdir(parents=True)
    (base / "rollout.yaml").write_text(PLAN)
    (base / "compose.yaml").write_text("services:\n  chat:\n    image: reg/chat:node-1\n")
    clock = FakeClock()
    fake = FakeBackend(rps=40.0, candidate=VersionBehaviour(error_ratio=candidate_errors))
    fake.attach(clock)
    svc = Service(str(base / "rg.db"), clock=clock)
    loaded = load_plan(base / "rollout.yaml")
    rollout_id = svc.create(loaded)

    def people(state: RolloutState, decision: object, event: object) -> None:
        """Act as the owners do from their own terminals: approve, then sign off."""
        if event is not None:
            return
        step = state.step
        if step is not None and loaded.plan.steps[step].approve and not state.approvals.get(step):
            svc.approve(rollout_id, role="sre", by="bob", note="canary looks fine")
        if state.phase == Phase.AWAITING_SIGNOFF:
            for role, (by, note) in SIGNERS.items():
                if role not in state.signoffs:
                    svc.signoff(rollout_id, role=role, by=by, note=note)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(runner_mod.backends, "_items", dict(runner_mod.backends._items))
        runner_mod.backends.register("local", lambda ctx: fake)
        state = asyncio.run(svc.runner(rollout_id, listener=people).run())
    events = svc.store.events(rollout_id)
    svc.close()
    return Run(base / "rg.db", loaded.plan, state, events, Path(state.run_dir))


@pytest.fixture(scope="module")
def completed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    yield _drive(tmp_path_factory.mktemp("audit") / "ok", candidate_errors=0.0)


@pytest.fixture(scope="module")
def rolled_back(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    yield _drive(tmp_path_factory.mktemp("audit") / "bad", candidate_errors=0.3)


def _svgs(html: str) -> list[str]:
    return re.findall(r"<svg .*?</svg>", html, flags=re.S)


def test_the_runs_end_as_the_test_needs(completed: Run, rolled_back: Run) -> None:
    assert completed.state.outcome == "completed"
    assert rolled_back.state.outcome == "rolled_back"
    assert rolled_back.state.fired and rolled_back.state.fired["trigger"] == "5xx"


def test_markdown_names_every_checklist_item_with_its_status_and_signers(completed: Run) -> None:
    data = completed.build()
    md = report.render_markdown(data)
    signed_at = {e.data["role"]: e.at for e in completed.events if e.type == "signoff"}
    for item in completed.plan.signoff.checklist:
        assert f"- [x] holds: **{item.name}**" in md
        for role in item.roles:
            by, note = SIGNERS[role]
            line = f"  - signed by {by} as {role} at {when(signed_at[role])}"
            assert line + (f' ("{note}")' if note else "") in md
    assert "4 items; every item holds." in md
    assert "  - computed: check 'canary smoke' passed" in md
    assert "  - computed: no trigger fired" in md
    assert "**completed (exit code 0)**" in md
    assert "| 3 (owners acknowledge) | sre | bob |" in md


def test_a_rolled_back_audit_says_which_items_do_not_hold(rolled_back: Run) -> None:
    md = report.render_markdown(rolled_back.build())
    assert "**rolled_back (exit code 3)**" in md
    assert "- [ ] does NOT hold: **Canary smoke passes and no alert fired**" in md
    assert "  - computed: trigger '5xx' fired" in md
    assert "  - not yet signed by role qa" in md
    assert "| 5xx (FIRED) | errors | max 0.50%; max 5x baseline (floor 0.10%) | FAIL |" in md
    assert "### Rollback verification" in md


def test_html_draws_one_chart_per_trigger_metric_with_both_series_and_the_bounds(
    completed: Run,
) -> None:
    html = report.render_html(completed.build())
    charts = _svgs(html)
    assert len(charts) == len({t.metric for t in completed.plan.triggers}) == 2
    errors, p95 = charts
    for svg in charts:
        assert re.search(r'<polyline fill="none" stroke="#2563eb"', svg)  # stable
        assert re.search(r'<polyline fill="none" stroke="#ea580c"', svg)  # candidate
        assert svg.count('class="step"') == 2  # the 10% and 100% steps
        assert 'class="rollback"' not in svg
    assert errors.count('class="bound"') == 1 and ">max 0.50%</text>" in errors
    assert p95.count('class="bound"') == 1 and ">max 250.0ms</text>" in p95
    assert "<script" not in html and "http://" not in html.split("<body>")[0]


def test_the_chart_marks_the_rollback(rolled_back: Run) -> None:
    data = rolled_back.build()
    rollback_at = next(e.at for e in rolled_back.events if e.data.get("phase") == "rolling_back")
    assert all(c["rollback_at"] == rollback_at for c in data["charts"])
    for svg in _svgs(report.render_html(data)):
        assert svg.count('class="rollback"') == 1 and ">rollback</text>" in svg


def test_chart_points_are_the_analysis_snapshots(completed: Run) -> None:
    files = sorted((completed.run_dir / "metrics").glob("*-analysis.json"))
    chart = completed.build()["charts"][0]
    assert len(chart["points"]) == len(files) > 5
    last = json.loads(files[-1].read_text())
    assert chart["points"][-1]["candidate"] == last["metrics"]["errors"]["candidate"]["value"]
    assert [w["weight"] for w in chart["weights"]] == [10, 100]


def test_without_the_metrics_folder_the_chart_comes_from_the_event_log(
    completed: Run, tmp_path: Path
) -> None:
    elsewhere = report.build_report(
        completed.plan, completed.state, completed.events, run_dir=tmp_path
    )
    assert [p["t"] for p in elsewhere["charts"][0]["points"]] == [
        p["t"] for p in completed.build()["charts"][0]["points"]
    ]
    assert all(not c["evidence"]["exists"] for c in elsewhere["checks"])
    assert "(missing)" in report.render_markdown(elsewhere)


def test_every_link_points_at_existing_evidence(completed: Run, rolled_back: Run) -> None:
    for run in (completed, rolled_back):
        data = run.build()
        md, html = report.render_markdown(data), report.render_html(data)
        links = re.findall(r"\]\(<([^>]+)>\)", md) + re.findall(r'href="([^"]+)"', html)
        assert len(links) > 10
        for link in links:
            assert (run.run_dir / link).exists(), link
        for item in data["checklist"]:
            assert all(e["exists"] for e in item["evidence"])
        assert "(missing)" not in md


def test_promotion_and_completion_actions_with_their_diff(completed: Run) -> None:
    data = completed.build()
    (action,) = data["promotion"]["actions"]
    assert action["ok"] and action["evidence"]["exists"]
    assert "-    image: reg/chat:node-1" in action["diff"]
    assert "+    image: reg/chat:go-2" in action["diff"]
    assert [a["name"] for a in data["completion"]["actions"]] == ["mark T047 completed"]
    md = report.render_markdown(data)
    assert "```diff" in md and "| compose image | rewrite | ok |" in md


def test_incident_files_are_linked_when_present(rolled_back: Run) -> None:
    for name in ("incident.md", "incident.json"):
        path = rolled_back.run_dir / name
        if not path.exists():
            path.write_text("{}\n" if name.endswith(".json") else "# incident\n")
    data = rolled_back.build()
    assert data["incident"] == ["incident.md", "incident.json"]
    assert "## Incident\n\n- [incident.md](<incident.md>)" in report.render_markdown(data)
    assert '<h2>Incident</h2><ul><li><a href="incident.md">' in report.render_html(data)


def test_an_unfinished_rollout_has_an_audit_too(completed: Run) -> None:
    cut = next(i for i, e in enumerate(completed.events) if e.type == "step_completed")
    data = completed.build(events=completed.events[: cut + 1])
    assert data["outcome"] == "in progress (canary)" and data["finished"] is None
    assert not data["checklist_holds"]
    assert data["promotion"]["status"] == "not run"
    assert "not finished" in report.render_html(data)
    assert "- [ ] does NOT hold: **Owners have signed off**" in report.render_markdown(data)


def test_write_report_puts_both_files_in_the_run_folder(completed: Run) -> None:
    md, html = report.write_report(RunFolder(completed.run_dir), completed.build())
    assert (md.parent, md.name, html.name) == (completed.run_dir, "report.md", "report.html")
    assert html.read_text().startswith("<!DOCTYPE html>")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rollguard", "report", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_cli_writes_the_audit_and_prints_the_paths(rolled_back: Run) -> None:
    for name in ("report.md", "report.html"):
        (rolled_back.run_dir / name).unlink(missing_ok=True)
    res = _cli(rolled_back.state.id[:15], "--store", str(rolled_back.store), "--output", "json")
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["markdown"] == str(rolled_back.run_dir / "report.md")
    assert out["html"] == str(rolled_back.run_dir / "report.html")
    assert [i["name"] for i in out["checklist"]] == [
        i.name for i in rolled_back.plan.signoff.checklist
    ]
    assert Path(out["html"]).read_text().count("<svg ") == 2
    assert "Migration audit: chat-audit" in Path(out["markdown"]).read_text()


def test_cli_format_md_writes_only_markdown(completed: Run) -> None:
    for name in ("report.md", "report.html"):
        (completed.run_dir / name).unlink(missing_ok=True)
    res = _cli(completed.state.id, "--store", str(completed.store), "--format", "md")
    assert res.returncode == 0, res.stderr
    assert str(completed.run_dir / "report.md") in res.stdout
    assert (completed.run_dir / "report.md").exists()
    assert not (completed.run_dir / "report.html").exists()


def test_cli_unknown_id_exits_2(completed: Run) -> None:
    res = _cli("no-such-rollout", "--store", str(completed.store))
    assert res.returncode == 2
    assert "no rollout" in res.stderr + res.stdout
