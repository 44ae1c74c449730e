"""Helpers for the local backend tests: free ports, real upstream processes, pid checks."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from rollguard import ports
from rollguard.backends.local import router as router_mod

APP = Path(__file__).with_name("upstream_app.py")


def free_port() -> int:
    """A TCP port nobody listens on right now, outside the ephemeral range."""
    return ports.free_port()


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not count)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2 :].split()[0] not in (b"Z", b"X")


def app_argv(port: int, *extra: str) -> list[str]:
    return [sys.executable, str(APP), str(port), *extra]


@dataclass
class Upstream:
    name: str
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + 15
    while True:
        try:
            if httpx.get(url + "/status", trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
        time.sleep(0.05)


def start_upstream(name: str) -> Upstream:
    port = free_port()
    proc = subprocess.Popen(
        app_argv(port, "--name", name), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    upstream = Upstream(name, port, proc)
    _wait_ready(upstream.url)
    return upstream


def stop_upstream(upstream: Upstream) -> None:
    upstream.process.terminate()
    upstream.process.wait(timeout=10)


def make_router(upstreams: dict[str, Upstream], **kwargs: object) -> router_mod.Router:
    return router_mod.Router(
        host="127.0.0.1",
        port=0,
        stable_url=upstreams["stable"].url,
        candidate_url=upstreams["candidate"].url,
        **kwargs,  # type: ignore[arg-type]
    )
