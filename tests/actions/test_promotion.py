"""Promotion actions through the real runner (with the public fakes): a rewrite keeps its
diff, a command runs, completion runs after sign-off, and an abort after promotion reverses
what was promoted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rollguard.engine import runner as runner_mod
from rollguard.engine.service import Service
from rollguard.plan.loader import load_plan
from rollguard.testing import FakeBackend, FakeClock

PLAN = """
apiVersion: rollguard/v1
name: promo
stable: {version: a, url: "http://127.0.0.1:1"}
candidate: {version: b, url: "http://127.0.0.1:2"}
steps: [{weight: 100, observe: 1s}]
promotion:
  - {kind: rewrite, name: compose, files: [deploy/*.yml], replace: "chat:a", with: "chat:b"}
  - kind: command
    name: announce
    shell: "echo promoted > announced.txt"
    undo: [sh, -c, "rm announced.txt"]
signoff:
  checklist:
    - {name: SRE accepts, roles: [sre]}
on_complete:
  - {kind: command, name: mark T047, shell: "echo T047 > done.txt"}
owners: {sre: [bob]}
"""


@pytest.fixture
def fake_backend() -> Iterator[FakeBackend]:
    fake = FakeBackend()
    runner_mod.backends.register("local", lambda ctx: fake)
    yield fake
    runner_mod.backends._items.pop("local", None)


def _setup(tmp_path: Path) -> tuple[Service, str, Path]:
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy" / "compose.yml").write_text("image: chat:a\n")
    (tmp_path / "plan.yaml").write_text(PLAN)
    svc = Service(str(tmp_path / "rg.db"), clock=FakeClock())
    return svc, svc.create(load_plan(tmp_path / "plan.yaml")), tmp_path


async def test_promotion_then_signoff_then_completion(
    tmp_path: Path, fake_backend: FakeBackend
) -> None:
    svc, rollout_id, base = _setup(tmp_path)
    state = await svc.runner(rollout_id, auto_approve=True).run()
    assert state.outcome == "completed", state.rollback_reason
    assert (base / "deploy" / "compose.yml").read_text() == "image: chat:b\n"
    assert (base / "announced.txt").exists() and (base / "done.txt").read_text() == "T047\n"
    diff = next(Path(state.run_dir).glob("promotion/01-compose/diff.patch")).read_text()
    assert "-image: chat:a" in diff and "+image: chat:b" in diff
    assert state.signoffs["sre"]["by"] == "bob"
    assert fake_backend.calls[-1] == "close:True"


async def test_an_abort_after_promotion_reverses_it(
    tmp_path: Path, fake_backend: FakeBackend
) -> None:
    svc, rollout_id, base = _setup(tmp_path)
    runner = svc.runner(rollout_id)  # no auto-approve: it waits for the SRE's sign-off
    original_sleep = runner.clock.sleep
    aborted = False

    async def sleep_then_abort(seconds: float) -> None:
        nonlocal aborted
        if runner.state.phase.value == "awaiting_signoff" and not aborted:
            svc.abort(rollout_id, by="carol", reason="pager went off")
            aborted = True
        await original_sleep(seconds)

    runner.clock.sleep = sleep_then_abort  # type: ignore[method-assign]
    state = await runner.run()
    assert state.outcome == "aborted" and state.exit_code == 5
    assert (base / "deploy" / "compose.yml").read_text() == "image: chat:a\n"
    assert not (base / "announced.txt").exists()
    assert not (base / "done.txt").exists()  # completion never ran
    undone = [
        e
        for e in svc.store.events(rollout_id)
        if e.type == "action_finished" and e.data["action"] == "rollback"
    ][0].data["result"]["undone"]
    assert [u["name"] for u in undone] == ["announce", "compose"]  # newest first
    assert all(u["ok"] for u in undone)
