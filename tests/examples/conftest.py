"""Fixtures that run the example chat service as a real process.

Each service is started with `--port 0` and announces the port it bound in its startup log
line, so there is no window in which another process can take a port picked in advance.
Every process started here is terminated and reaped when the test ends.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.examples.chat_procs import RunningService, StartService, clean_env, script, stop_process

LISTENING = re.compile(r"listening on (http://\S+)")
START_TIMEOUT_S = 15


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[StartService]:
    started: list[RunningService] = []

    def start(
        *, version: str = "node", env: dict[str, str] | None = None, db: Path | None = None
    ) -> RunningService:
        db = db or tmp_path / "chat.db"
        log_path = tmp_path / f"{version}-{len(started)}.log"
        with log_path.open("wb") as log_file:
            proc = subprocess.Popen(
                [sys.executable, script("chat_service.py"), "--port", "0"]
                + ["--version", version, "--db", str(db)],
                env=clean_env(env),
                stdout=subprocess.DEVNULL,
                stderr=log_file,
            )
        service = RunningService(url="", db=db, log_path=log_path, proc=proc)
        started.append(service)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            match = LISTENING.search(log_path.read_text())
            if match:
                service.url = match.group(1)
                return service
            if proc.poll() is not None:
                pytest.fail(f"chat service exited {proc.returncode}:\n{log_path.read_text()}")
            time.sleep(0.05)
        pytest.fail(f"chat service did not start:\n{log_path.read_text()}")

    yield start
    for service in started:
        stop_process(service.proc)


@pytest.fixture
def service(start_service: StartService) -> RunningService:
    return start_service()
