"""Helpers for end-to-end tests: real ``rollguard`` processes, real services, real traffic."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

from rollguard.store.base import Event
from rollguard.store.sqlite import open_store
from tests.conftest import free_port, require
from tests.registry_server import RegistryServer, registry_binary, start_registry

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "chat"
PLAN = EXAMPLE / "rollout.yaml"
ROLLGUARD = [sys.executable, "-m", "rollguard"]


def require_registry() -> None:
    """Skip (fail under CI) when Debian's docker-registry, which the example plan's image
    checks and promotion need, is not installed."""
    require(
        registry_binary() is not None,
        "docker-registry is not installed (apt-get install docker-registry)",
    )


def _chat_registry_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "chat_local_registry", EXAMPLE / "local_registry.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def chat_registry(folder: Path) -> Iterator[RegistryServer]:
    """A real registry on a free port holding ``chat:node-1.8.2`` and ``chat:go-3f9c2e1``
    (pushed as ``examples/chat/local_registry.py`` does); stopped on the way out. Pass its
    ``host`` to :func:`demo_env` for a ``rollguard run`` of the example plan."""
    require_registry()
    server = start_registry(folder, port=free_port())
    try:
        asyncio.run(_chat_registry_module().push_chat_images(server.host))
        yield server
    finally:
        server.stop()


def demo_env(registry: str | None = None, **extra: str) -> dict[str, str]:
    """The environment for one run: free ports for the example, no inherited faults, and a
    copy of the deploy files for the promotion to rewrite.

    ``registry`` (``host:port``, see :func:`chat_registry`) becomes ``CHAT_REGISTRY``; without
    it no registry is inherited, so ``rollguard demo`` starts its own."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("CANDIDATE_FAULT_") and k != "CHAT_REGISTRY"
    }
    if registry is not None:
        env["CHAT_REGISTRY"] = registry
    deploy = Path(tempfile.mkdtemp(prefix="rollguard-deploy-"))
    shutil.copytree(EXAMPLE / "deploy", deploy, dirs_exist_ok=True)
    env["CHAT_DEPLOY_DIR"] = str(deploy)
    env.update(
        CHAT_STABLE_PORT=str(free_port()),
        CHAT_CANDIDATE_PORT=str(free_port()),
        CHAT_ROUTER_PORT=str(free_port()),
        COLUMNS="200",
    )
    env.update(extra)
    return env


def router_url(env: dict[str, str]) -> str:
    return f"http://127.0.0.1:{env['CHAT_ROUTER_PORT']}"


def rollguard(
    *args: str, env: dict[str, str], timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """Run the CLI to its end."""
    return subprocess.run(
        [*ROLLGUARD, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=ROOT
    )


def start(args: list[str], *, env: dict[str, str], **kwargs: Any) -> subprocess.Popen[str]:
    """Start a process in its own process group (so the test can clean up all of it)."""
    return subprocess.Popen(args, env=env, text=True, start_new_session=True, cwd=ROOT, **kwargs)


def stop(proc: subprocess.Popen[str], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def events(store: Path, rollout_id: str) -> list[Event]:
    s = open_store(str(store))
    try:
        return s.events(s.get(rollout_id).id)
    finally:
        s.close()


def output_json(proc: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    try:
        data: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(
            f"not JSON: {proc.stdout[-2000:]}\nstderr: {proc.stderr[-3000:]}"
        ) from exc
    return data


def assert_log_is_whole(evs: list[Event]) -> None:
    """Dense sequence numbers; every intent has exactly one result, and no result lacks one."""
    assert [e.seq for e in evs] == list(range(1, len(evs) + 1))
    started = [e.data["id"] for e in evs if e.type == "action_started"]
    finished = [e.data["id"] for e in evs if e.type == "action_finished"]
    assert len(started) == len(set(started)), "an intent was logged twice"
    assert sorted(started) == sorted(finished), "an intent without result, or the reverse"
