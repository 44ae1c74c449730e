"""The whole chat runbook as code, end to end (issue 3's acceptance).

Every test runs the ``rollguard`` CLI as separate processes, as people would: the controller
(``rollguard run``) in the background, and ``approve``, ``signoff``, ``status``, ``report``
from the test, against the example plan, a real local registry (Debian's ``docker-registry``)
and real chat processes on free ports.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rollguard.plan.loader import load_plan
from tests.e2e.harness import (
    EXAMPLE,
    PLAN,
    ROLLGUARD,
    assert_log_is_whole,
    chat_registry,
    demo_env,
    events,
    output_json,
    rollguard,
    router_url,
    start,
    stop,
)
from tests.notify.receiver import Receiver

pytestmark = pytest.mark.e2e

MANIFEST_TYPES = ", ".join(
    [
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    ]
)


# ---------------------------------------------------------------------------- helpers


class Rollout:
    """A ``rollguard run`` controller in the background, with background traffic, and the
    CLI commands people use on it. :meth:`close` leaves no process behind."""

    def __init__(self, plan: Path, *, env: dict[str, str], tmp: Path, auto_approve: bool) -> None:
        self.env = env
        self.store = tmp / "rg.db"
        self.out_path = tmp / "run.out"
        self.err_path = tmp / "run.err"
        self.traffic = start(
            [sys.executable, str(EXAMPLE / "traffic.py"), "--url", router_url(env), "--rate", "60"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        argv = [*ROLLGUARD, "run", str(plan), "--store", str(self.store), "--output", "json"]
        with self.out_path.open("w") as out, self.err_path.open("w") as err:
            self.runner = start(
                [*argv, "--auto-approve"] if auto_approve else argv, env=env, stdout=out, stderr=err
            )
        self.id = ""

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return rollguard(*args, "--store", str(self.store), env=self.env, timeout=60)

    def cli_json(self, *args: str) -> Any:
        res = self.cli(*args, "--output", "json")
        assert res.returncode == 0, (args, res.stdout[-2000:], res.stderr[-2000:])
        return json.loads(res.stdout)

    def status(self) -> dict[str, Any]:
        if not self.id:
            self._wait(lambda: bool(self.cli_json("history")), "the rollout to be created")
            self.id = self.cli_json("history")[0]["id"]
        data: dict[str, Any] = self.cli_json("status", self.id)
        return data

    def wait_until(self, predicate: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
        seen: dict[str, Any] = {}

        def holds() -> bool:
            nonlocal seen
            seen = self.status()
            return predicate(seen)

        self._wait(holds, what)
        return seen

    def _wait(self, predicate: Callable[[], bool], what: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.runner.poll() is not None:
                raise AssertionError(
                    f"the controller exited ({self.runner.returncode}) while waiting for {what}:"
                    f"\n{self.out_path.read_text()[-3000:]}\n{self.err_path.read_text()[-3000:]}"
                )
            time.sleep(0.3)
        raise AssertionError(f"timed out waiting for {what}")

    def finish(self, timeout: float = 180) -> tuple[int, dict[str, Any]]:
        """Wait for the controller's end; its exit code and its JSON result."""
        code = self.runner.wait(timeout=timeout)
        text = self.out_path.read_text()
        try:
            return code, json.loads(text)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"not JSON: {text[-2000:]}\n{self.err_path.read_text()}") from exc

    def close(self) -> None:
        """Stop traffic; a controller still running is aborted (its rollback stops the chat
        processes), and whatever is left is killed, chat processes included."""
        stop(self.traffic)
        if self.runner.poll() is None and self.id:
            self.cli("abort", self.id, "--reason", "test cleanup")
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.runner.wait(timeout=60)
        stop(self.runner)
        if self.id:
            for pidfile in (self.store.parent / "runs").glob(f"{self.id}/processes/*.pid"):
                with contextlib.suppress(ValueError, ProcessLookupError, PermissionError):
                    os.killpg(int(pidfile.read_text().split()[0]), signal.SIGKILL)


@contextlib.contextmanager
def running(
    plan: Path, *, env: dict[str, str], tmp: Path, auto_approve: bool = False
) -> Iterator[Rollout]:
    rollout = Rollout(plan, env=env, tmp=tmp, auto_approve=auto_approve)
    try:
        yield rollout
    finally:
        rollout.close()


@contextlib.contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    """tests/notify's recording HTTP receiver, served on 127.0.0.1 from a thread of its own."""
    receiver = Receiver()
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await receiver.handle(reader, writer)
        finally:
            writer.close()

    async def serve() -> asyncio.Server:
        return await asyncio.start_server(handle, "127.0.0.1", 0)

    server = asyncio.run_coroutine_threadsafe(serve(), loop).result(timeout=10)
    receiver.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"

    async def shutdown() -> None:
        receiver.stop()
        server.close()
        await server.wait_closed()

    try:
        yield receiver
    finally:
        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def copy_example(tmp: Path, *, replace: dict[str, str] | None = None, append: str = "") -> Path:
    """A copy of examples/chat with its plan edited; returns the copied plan."""
    folder = tmp / "chat"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("__pycache__", "*.db*"))
    plan = folder / "rollout.yaml"
    text = plan.read_text()
    for old, new in (replace or {}).items():
        assert old in text, old
        text = text.replace(old, new)
    plan.write_text(text + append)
    return plan


def manifest_digest(registry_url: str, tag: str) -> str:
    answer = httpx.get(
        f"{registry_url}/v2/chat/manifests/{tag}", headers={"Accept": MANIFEST_TYPES}, timeout=10
    )
    assert answer.status_code == 200, (tag, answer.status_code, answer.text)
    return answer.headers["Docker-Content-Digest"]


def results(out: dict[str, Any], group: str) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in out["checks"][group]["results"]}


# ---------------------------------------------------------------------------- tests


def test_full_rollout_with_people_in_the_loop_completes_and_is_audited(tmp_path: Path) -> None:
    owners = {"migration_owner": "alice", "sre": "bob", "qa": "carol"}
    with (
        chat_registry(tmp_path / "registry") as registry,
        running(PLAN, env=demo_env(registry.host), tmp=tmp_path) as rollout,
    ):
        waiting = rollout.wait_until(
            lambda s: s["state"] == "canary" and s["step"] == 3, "the approval step (step 3)"
        )
        assert waiting["approvals"] == {} and waiting["weight"] == 5
        rollout.cli_json("approve", rollout.id, "--as", "alice", "--role", "migration_owner")
        assert rollout.status()["step"] == 3, "one role of two approved: still waiting"
        rollout.cli_json("approve", rollout.id, "--as", "bob", "--role", "sre")

        rollout.wait_until(lambda s: s["state"] == "awaiting_signoff", "awaiting_signoff")
        for role in ("qa", "sre"):
            rollout.cli_json("signoff", rollout.id, "--role", role, "--as", owners[role])
        assert rollout.status()["state"] == "awaiting_signoff", "migration_owner has not signed"
        rollout.cli_json("signoff", rollout.id, "--role", "migration_owner", "--as", "alice")
        code, out = rollout.finish()

        assert code == 0, rollout.err_path.read_text()[-3000:]
        assert out["state"] == "completed" and out["weight"] == 100
        assert out["approvals"] == {"3": {"migration_owner": "alice", "sre": "bob"}}
        assert {r: s["by"] for r, s in out["signoffs"].items()} == owners
        assert all("auto" not in s["note"] for s in out["signoffs"].values())

        # Promotion: the registry's stable channel is the Go image, as the registry says.
        go_digest = manifest_digest(registry.url, "go-3f9c2e1")
        assert manifest_digest(registry.url, "stable") == go_digest
        assert manifest_digest(registry.url, "node-1.8.2") != go_digest

    # Preflight: tests, contract (artifact checked), persisted messages, bench p95, images.
    run_dir = Path(out["evidence"])
    pre = results(out, "preflight")
    assert list(pre) == [
        "unit tests",
        "contract run",
        "contract messages persisted",
        "bench p95",
        "candidate image pushed",
        "rollback image available",
    ]
    assert all(r["status"] == "passed" for r in pre.values()), pre
    artifacts = list(
        run_dir.glob(f"{pre['contract run']['folder']}/artifacts/**/contract-run-*.out")
    )
    assert artifacts and all("ERROR" not in a.read_text() for a in artifacts)
    query = json.loads(
        (run_dir / pre["contract messages persisted"]["folder"] / "query.json").read_text()
    )
    assert query["result"] >= 5
    bench = json.loads((run_dir / pre["bench p95"]["folder"] / "bench.json").read_text())
    assert bench["results"]["p95_ms"] <= 50
    image = json.loads(
        (run_dir / pre["candidate image pushed"]["folder"] / "image.json").read_text()
    )
    assert image["found"] and image["digest"] == go_digest

    smoke = results(out, "steps[1].smoke")
    assert [r["status"] for r in smoke.values()] == ["passed"] * 3, smoke
    post = results(out, "post_validation")
    assert post["bench at 100%"]["kind"] == "bench" and post["bench at 100%"]["status"] == "passed"
    assert all(r["status"] == "passed" for r in post.values()), post

    # Promotion evidence: the retag and the diff of every file rewrite.
    retag = json.loads(next(run_dir.glob("promotion/*/retag.json")).read_text())
    assert retag["digest"] == go_digest and retag["tag"].endswith("/chat:stable")
    diff = next(run_dir.glob("promotion/*compose*/diff.patch")).read_text()
    assert "-    image: registry.local/chat:node-1.8.2" in diff
    assert "+    image: registry.local/chat:go-3f9c2e1" in diff
    assert "chat-go" in next(run_dir.glob("promotion/*runit*/diff.patch")).read_text()

    # "mark T047 as completed once owners sign off"
    tracker = json.loads((run_dir / "tracker.json").read_text())
    assert tracker["T047"]["status"] == "completed" and out["id"] in tracker["T047"]["note"]

    evs = events(rollout.store, out["id"])
    assert_log_is_whole(evs)
    signed_at = max(e.seq for e in evs if e.type == "signoff")
    assert not any(e.type == "rollout_finished" and e.seq < signed_at for e in evs)

    # The migration audit names every checklist item and who signed it.
    report = rollout.cli_json("report", out["id"])
    markdown = Path(report["markdown"]).read_text()
    page = Path(report["html"]).read_text()
    checklist = load_plan(PLAN).plan.signoff.checklist
    assert [c["name"] for c in report["checklist"]] == [item.name for item in checklist]
    assert len(checklist) == 7
    for item, entry in zip(checklist, report["checklist"], strict=True):
        assert entry["holds"], entry
        assert {r: s["by"] for r, s in entry["signed"].items()} == {
            r: owners[r] for r in item.roles
        }
        assert item.name in markdown and html.escape(item.name) in page
        for role in item.roles:
            assert f"signed by {owners[role]} as {role}" in markdown
    assert "**completed (exit code 0)**" in markdown


def test_dropped_writes_roll_back_and_the_incident_reaches_the_webhook(tmp_path: Path) -> None:
    with webhook_receiver() as receiver, chat_registry(tmp_path / "registry") as registry:
        plan = copy_example(
            tmp_path,
            append=f"\nincident:\n  sinks:\n    - kind: webhook\n      url: {receiver.url}/hook\n",
        )
        env = demo_env(registry.host, CANDIDATE_FAULT_DROP_WRITES="1")
        with running(plan, env=env, tmp=tmp_path, auto_approve=True) as rollout:
            code, out = rollout.finish()
        assert code == 3, rollout.err_path.read_text()[-3000:]
        assert out["outcome"] == "rolled_back" and out["weight"] == 0
        assert out["trigger"] is None and out["rollback"]["kind"] == "check"

        # Both persistence checks see it: the contract reads its messages back, and the
        # query finds none of them in the shared database.
        smoke = results(out, "steps[1].smoke")
        assert smoke["contract against canary"]["status"] == "failed"
        assert smoke["canary messages persisted"]["status"] == "failed"
        assert "result is 0" in smoke["canary messages persisted"]["summary"]
        assert "canary messages persisted" in out["rollback"]["reason"]
        assert out["checks"]["rollback.verify"]["passed"] is True

        run_dir = Path(out["evidence"])
        incident = json.loads((run_dir / "incident.json").read_text())
        assert (run_dir / "incident.md").read_text().strip()
        assert incident["reason"]["kind"] == "check"
        assert "contract against canary" in {c["name"] for c in incident["failed_checks"]}

        hooks = receiver.to("/hook")
        assert len(hooks) == 1 and hooks[0].method == "POST"
        body = hooks[0].json()
        assert body["event"] == "rollguard.incident"
        assert body["incident"]["rollout_id"] == out["id"]
        assert body["incident"]["reason"] == incident["reason"]

    evs = events(rollout.store, out["id"])
    assert_log_is_whole(evs)
    delivered = [e for e in evs if e.type == "action_finished" and e.data["action"] == "incident"]
    assert delivered and delivered[0].data["ok"]


def test_a_candidate_tag_missing_from_the_registry_fails_preflight_before_traffic_moves(
    tmp_path: Path,
) -> None:
    plan = copy_example(tmp_path, replace={"chat:go-3f9c2e1": "chat:go-0000000"})
    with chat_registry(tmp_path / "registry") as registry:
        env = demo_env(registry.host)
        res = rollguard(
            "run", str(plan), "--store", str(tmp_path / "rg.db"), "--output", "json", env=env
        )
    out = output_json(res)
    assert res.returncode == 4, res.stderr[-3000:]
    assert out["state"] == "failed"
    pre = results(out, "preflight")
    assert pre["candidate image pushed"]["status"] == "failed"
    assert "not found" in pre["candidate image pushed"]["summary"]
    assert pre["rollback image available"]["status"] == "passed"

    evs = events(tmp_path / "rg.db", out["id"])
    actions = {e.data["action"] for e in evs if e.type == "action_started"}
    assert "set_weight" not in actions and "prepare" not in actions, actions
    assert not list(Path(out["evidence"]).glob("processes/candidate-*.log"))


def test_an_approval_by_someone_not_listed_for_the_role_is_refused(tmp_path: Path) -> None:
    with (
        chat_registry(tmp_path / "registry") as registry,
        running(PLAN, env=demo_env(registry.host), tmp=tmp_path) as rollout,
    ):
        rollout.wait_until(
            lambda s: s["state"] == "canary" and s["step"] == 3, "the approval step (step 3)"
        )
        refused = rollout.cli("approve", rollout.id, "--as", "mallory", "--role", "sre")
        assert refused.returncode == 2
        assert "'mallory' may not approve as 'sre': the plan lists bob for that role" in (
            refused.stdout + refused.stderr
        )
        wrong_role = rollout.cli("approve", rollout.id, "--as", "bob", "--role", "migration_owner")
        assert wrong_role.returncode == 2
        assert "the plan lists alice for that role" in wrong_role.stdout + wrong_role.stderr

        status = rollout.status()
        assert status["approvals"] == {} and status["step"] == 3 and status["weight"] == 5
        rollout.cli_json("abort", rollout.id, "--reason", "refusal seen")
        code, out = rollout.finish()
    assert code == 5 and out["outcome"] == "aborted"
    evs = events(rollout.store, out["id"])
    assert not any(e.type == "approval" for e in evs)
