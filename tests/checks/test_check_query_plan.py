"""The new check kinds as a plan writes them: loaded from YAML, templates filled in, run
through :func:`run_check` (persisted-message query and bench on SQLite files; the image kind
against a real registry lives in ``test_check_image.py``).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from rollguard.checks.base import CheckContext
from rollguard.checks.registry import run_check
from rollguard.errors import PlanError
from rollguard.plan import loader, model, templates

PLAN = """\
apiVersion: rollguard/v1
name: chat-checks
stable: {version: node, url: "http://127.0.0.1:3010", image: "127.0.0.1:5000/chat:node-1.8.2"}
candidate: {version: go, url: "http://127.0.0.1:3011", image: "127.0.0.1:5000/chat:go-3f9c2e1"}
preflight:
  - name: messages persisted
    kind: query
    url: "sqlite:///${plan.dir}/chat.db"
    sql: "SELECT count(*) FROM messages WHERE body LIKE 'contract-%'"
    min: 2
  - name: bench p95
    kind: bench
    shell: "echo 'p95=${env.BENCH_P95:-12.5} rps=420'"
    regex: "p95=(?P<p95>[\\\\d.]+) rps=(?P<rps>[\\\\d.]+)"
    targets: {p95_ms: {max: 50}, rps: {min: 100}}
  - name: candidate image pushed
    kind: image
    image: "127.0.0.1:5000/chat:go-3f9c2e1"
    insecure: true
    username: ci
    password: "${env.REGISTRY_PASSWORD:-}"
steps:
  - weight: 100
"""


def test_runbook_checks_load_from_yaml(tmp_path: Path) -> None:
    loaded = loader.parse_plan(PLAN, filename="plan.yaml", base_dir=tmp_path)
    kinds = [type(c) for c in loaded.plan.preflight]
    assert kinds == [model.QueryCheck, model.BenchCheck, model.ImageCheck]


@pytest.mark.parametrize(
    ("check", "message"),
    [
        ("{name: q, kind: query, url: 'sqlite:///x.db', min: 1}", "a SQL URL needs `sql`"),
        ("{name: b, kind: bench, url: 'http://h', targets: {p95: {max: 1}}}", "exactly one of"),
        ("{name: b, kind: bench, shell: x, parser: k6, targets: {p97: {max: 1}}}", "p97"),
        ("{name: i, kind: image, image: 'r/c:t', tag: t}", "not both"),
        ("{name: i, kind: image, image: 'r/c:t', username: ci}", "go together"),
    ],
)
def test_plan_mistakes_are_reported(tmp_path: Path, check: str, message: str) -> None:
    text = PLAN.split("preflight:")[0] + f"preflight:\n  - {check}\nsteps:\n  - weight: 100\n"
    with pytest.raises(PlanError, match=message):
        loader.parse_plan(text, filename="plan.yaml", base_dir=tmp_path)


async def test_rendered_checks_run_through_the_registry(tmp_path: Path) -> None:
    with sqlite3.connect(tmp_path / "chat.db") as db:
        db.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, body TEXT)")
        db.executemany("INSERT INTO messages (body) VALUES (?)", [("contract-1",), ("contract-2",)])
    db.close()
    loaded = loader.parse_plan(PLAN, filename="plan.yaml", base_dir=tmp_path)
    context = {"plan.dir": str(tmp_path)}
    query, bench = (
        templates.render_model(c, context, env={"BENCH_P95": "61"})
        for c in loaded.plan.preflight[:2]
    )
    base = tmp_path / "plan"
    base.mkdir()
    passed = await run_check(query, CheckContext(evidence_dir=tmp_path / "q", base_dir=base))
    assert passed.passed, passed
    slow = await run_check(bench, CheckContext(evidence_dir=tmp_path / "b", base_dir=base))
    assert slow.status == "failed"
    assert slow.summary == "p95_ms <= 50 failed: p95_ms is 61"


def test_bench_timeout_must_outlast_its_duration(tmp_path: Path) -> None:
    check = "{name: b, kind: bench, url: 'http://h', duration: 2m, targets: {p95: {max: 1}}}"
    text = PLAN.split("preflight:")[0] + f"preflight:\n  - {check}\nsteps:\n  - weight: 100\n"
    with pytest.raises(PlanError, match="`timeout` must be longer than `duration`"):
        loader.parse_plan(text, filename="plan.yaml", base_dir=tmp_path)
