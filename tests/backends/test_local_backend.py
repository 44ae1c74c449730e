"""LocalBackend end to end: real processes, the router on a real port, resume and rollback."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import time
from pathlib import Path

import httpx
import pytest

from rollguard.backends.base import Backend, BackendContext
from rollguard.backends.local import processes
from rollguard.backends.local.backend import LocalBackend
from rollguard.errors import PermanentError
from rollguard.plan.model import Plan
from tests.backends.servers import app_argv, free_port, pid_alive


def make_plan() -> Plan:
    stable, candidate, listen = free_port(), free_port(), free_port()
    return Plan.model_validate(
        {
            "apiVersion": "rollguard/v1",
            "name": "test",
            "stable": {
                "version": "node-1",
                "url": f"http://127.0.0.1:{stable}",
                "command": app_argv(stable),
                "env": {"UPSTREAM_NAME": "stable"},
            },
            "candidate": {
                "version": "go-2",
                "url": f"http://127.0.0.1:{candidate}",
                "command": app_argv(candidate),
                "env": {"UPSTREAM_NAME": "candidate"},
            },
            "backend": {"kind": "local", "listen": f"127.0.0.1:{listen}", "stop_timeout": "5s"},
            "steps": [{"weight": 5}],
        }
    )


def make_backend(plan: Plan, run_dir: Path, lines: list[str]) -> LocalBackend:
    ctx = BackendContext(plan=plan, run_dir=run_dir, base_dir=run_dir, log=lines.append)
    return LocalBackend(ctx, rng=random.Random(11))


def router_url(plan: Plan) -> str:
    return f"http://{plan.backend.listen}"


async def test_prepare_weights_promote_and_close(tmp_path: Path) -> None:
    plan, lines = make_plan(), []
    backend: Backend = make_backend(plan, tmp_path, lines)
    await backend.prepare()
    await backend.prepare()  # idempotent
    try:
        async with httpx.AsyncClient(trust_env=False) as client:
            response = await client.get(f"{router_url(plan)}/echo")
            assert response.headers["x-upstream"] == "stable"  # candidate starts at 0%
            await backend.set_weight(100)
            response = await client.get(f"{router_url(plan)}/echo")
            assert response.headers["x-upstream"] == "candidate"
            stable_pid = processes.read_pidfile(tmp_path, "stable")
            await backend.promote()
            assert stable_pid is not None and not pid_alive(stable_pid)
            response = await client.get(f"{router_url(plan)}/echo")
            assert response.headers["x-upstream"] == "candidate"
        traffic = backend.traffic()
        assert traffic is not None
        now = time.time()
        assert traffic.window("candidate", since=now - 60, until=now + 1).requests == 2
        assert traffic.window("stable", since=now - 60, until=now + 1).requests == 1
    finally:
        await backend.close(stop_versions=True)
    assert processes.read_pidfile(tmp_path, "candidate") is None
    assert any("router: listening on" in line for line in lines)


async def test_a_new_backend_for_the_same_run_dir_adopts_the_running_versions(
    tmp_path: Path,
) -> None:
    plan, lines = make_plan(), []
    first = make_backend(plan, tmp_path, lines)
    await first.prepare()
    pids = {role: processes.read_pidfile(tmp_path, role) for role in ("stable", "candidate")}
    await first.close(stop_versions=False)  # the controller goes away, the versions stay

    resumed_lines: list[str] = []
    resumed = make_backend(plan, tmp_path, resumed_lines)
    await resumed.prepare()
    try:
        assert {r: processes.read_pidfile(tmp_path, r) for r in pids} == pids
        assert sum("adopted running process" in line for line in resumed_lines) == 2
        await resumed.set_weight(100)
        async with httpx.AsyncClient(trust_env=False) as client:
            doc = (await client.get(f"{router_url(plan)}/echo")).json()
        assert doc["pid"] == pids["candidate"]
    finally:
        await resumed.close(stop_versions=True)
    assert not any(pid is None or pid_alive(pid) for pid in pids.values())


async def test_rollback_sets_weight_0_before_the_candidate_stops(tmp_path: Path) -> None:
    plan, lines = make_plan(), []
    backend = make_backend(plan, tmp_path, [])
    weight_when_candidate_stops: list[int] = []

    def log(line: str) -> None:
        lines.append(line)
        if line.startswith("candidate go-2: stopping") and backend.router is not None:
            weight_when_candidate_stops.append(backend.router.weight)

    backend = LocalBackend(
        BackendContext(plan=plan, run_dir=tmp_path, base_dir=tmp_path, log=log),
        rng=random.Random(5),
    )
    await backend.prepare()
    statuses: list[int] = []
    rollback_started = asyncio.Event()
    after_rollback: list[str] = []

    async def load(client: httpx.AsyncClient) -> None:
        while True:
            response = await client.get(f"{router_url(plan)}/echo")
            statuses.append(response.status_code)
            if rollback_started.is_set():
                after_rollback.append(response.headers["x-upstream"])
            await asyncio.sleep(0)

    try:
        await backend.set_weight(100)
        async with httpx.AsyncClient(trust_env=False) as client:
            loaders = [asyncio.create_task(load(client)) for _ in range(4)]
            while len(statuses) < 40:
                await asyncio.sleep(0.01)
            rollback = asyncio.create_task(backend.rollback())
            await asyncio.sleep(0)  # rollback() has run up to its first await: weight is 0
            rollback_started.set()
            await rollback
            done = len(after_rollback)
            while len(after_rollback) < done + 40:
                await asyncio.sleep(0.01)
            for task in loaders:
                task.cancel()
            await asyncio.gather(*loaders, return_exceptions=True)
        assert weight_when_candidate_stops == [0]
        assert set(statuses) == {200}  # no 502: nothing reached the stopped candidate
        traffic = backend.traffic()
        now = time.time()
        assert traffic.window("candidate", since=now - 60, until=now + 1).errors == 0
        assert set(after_rollback[done:]) == {"stable"}
        assert processes.read_pidfile(tmp_path, "candidate") is None
    finally:
        await backend.close(stop_versions=True)


async def test_rollback_restarts_a_stable_that_died(tmp_path: Path) -> None:
    plan, lines = make_plan(), []
    backend = make_backend(plan, tmp_path, lines)
    await backend.prepare()
    try:
        stable_pid = processes.read_pidfile(tmp_path, "stable")
        assert stable_pid is not None
        os.killpg(stable_pid, signal.SIGKILL)
        await backend.rollback()
        new_pid = processes.read_pidfile(tmp_path, "stable")
        assert new_pid is not None and new_pid != stable_pid and pid_alive(new_pid)
        async with httpx.AsyncClient(trust_env=False) as client:
            response = await client.get(f"{router_url(plan)}/echo")
        assert response.headers["x-upstream"] == "stable"
    finally:
        await backend.close(stop_versions=True)


async def test_rollback_after_a_resume_without_prepare(tmp_path: Path) -> None:
    plan = make_plan()
    first = make_backend(plan, tmp_path, [])
    await first.prepare()
    await first.set_weight(50)
    candidate_pid = processes.read_pidfile(tmp_path, "candidate")
    await first.close(stop_versions=False)

    resumed = make_backend(plan, tmp_path, [])
    try:
        await resumed.rollback()
        assert resumed.router is not None and resumed.router.weight == 0
        assert candidate_pid is not None and not pid_alive(candidate_pid)
    finally:
        await resumed.close(stop_versions=True)


async def test_rollback_retires_the_candidate_even_when_the_router_cannot_listen(
    tmp_path: Path,
) -> None:
    plan = make_plan()
    first = make_backend(plan, tmp_path, [])
    await first.prepare()
    candidate_pid = processes.read_pidfile(tmp_path, "candidate")
    await first.close(stop_versions=False)
    host, _, port = plan.backend.listen.rpartition(":")
    squatter = await asyncio.start_server(lambda r, w: w.close(), host, int(port))
    lines: list[str] = []
    resumed = make_backend(plan, tmp_path, lines)
    try:
        await resumed.rollback()
        assert resumed.router is None
        assert any("not serving during the rollback" in line for line in lines)
        assert candidate_pid is not None and not pid_alive(candidate_pid)
    finally:
        squatter.close()
        await squatter.wait_closed()
        await resumed.close(stop_versions=True)


async def test_set_weight_before_prepare_is_an_error(tmp_path: Path) -> None:
    backend = make_backend(make_plan(), tmp_path, [])
    with pytest.raises(PermanentError, match="before prepare"):
        await backend.set_weight(5)
    await backend.close(stop_versions=True)
