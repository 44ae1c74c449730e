"""Helpers to run the example chat scripts as real processes in tests."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx

from tests.conftest import stop_process as stop_process  # the examples tests import it here

EXAMPLE_DIR = Path(__file__).resolve().parents[2] / "examples" / "chat"


def script(name: str) -> str:
    return str(EXAMPLE_DIR / name)


def clean_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test process's environment without any CHAT_* switch, plus `extra`."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CHAT_")}
    env["CHAT_WORK_MS"] = "1"
    env.update(extra or {})
    return env


@dataclass
class RunningService:
    url: str
    db: Path
    log_path: Path
    proc: subprocess.Popen[bytes]

    def log(self) -> str:
        return self.log_path.read_text()

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10)


StartService = Callable[..., RunningService]


def wait_until(predicate: Callable[[], bool], *, timeout: float = 20, what: str = "") -> None:
    """Poll `predicate` until true; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or predicate}")
        time.sleep(0.05)


def load_example(name: str) -> ModuleType:
    """Import a module of examples/chat in-process (it is not a package)."""
    spec = importlib.util.spec_from_file_location(
        f"chat_example_{name}", EXAMPLE_DIR / f"{name}.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def json_line(stdout: str) -> dict[str, Any]:
    """The last line of a script's stdout, decoded as JSON."""
    value = json.loads(stdout.strip().splitlines()[-1])
    assert isinstance(value, dict)
    return value


def run_script(name: str, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, script(name), *args],
        env=clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
