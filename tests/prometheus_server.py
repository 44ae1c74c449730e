"""A real Prometheus for tests: started on 127.0.0.1, scraping given targets every second.

Usage::

    require_prometheus()
    with running_prometheus(tmp_path, targets=["127.0.0.1:3010"]) as prom:
        prom.wait_for('chat_build_info{version="node"}')  # polls, bounded
        ...

Prometheus answers ``/-/ready`` quickly, but a scraped sample becomes queryable only some
seconds later (about 5-6 s after start), so tests poll a query until it answers instead of
sleeping. Storage goes to a temporary folder; the process is stopped (SIGTERM, then SIGKILL)
and reaped when the ``with`` block ends, whatever happened inside it.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.conftest import free_port, require, stop_process

START_TIMEOUT_S = 20
"""How long Prometheus may take to answer ``/-/ready``."""

SAMPLE_TIMEOUT_S = 30
"""How long a query may take to return its first sample (first scrape + ingestion delay)."""


def prometheus_binary() -> str | None:
    """The ``prometheus`` executable (Debian's package installs ``/usr/bin/prometheus``)."""
    return shutil.which("prometheus")


def require_prometheus() -> None:
    """Skip without Prometheus (fail under CI, where ``make test`` installs it)."""
    require(prometheus_binary() is not None, "Debian package prometheus is not installed")


def config_text(targets: list[str], *, scrape_interval: str = "1s") -> str:
    """A Prometheus configuration that scrapes ``targets`` (``host:port``) at ``/metrics``."""
    listed = ", ".join(f"'{t}'" for t in targets)
    return (
        "global:\n"
        f"  scrape_interval: {scrape_interval}\n"
        f"  evaluation_interval: {scrape_interval}\n"
        "  scrape_timeout: 900ms\n"
        "scrape_configs:\n"
        "  - job_name: test\n"
        f"    static_configs: [{{targets: [{listed}]}}]\n"
    )


@dataclass
class PrometheusServer:
    """A running Prometheus: its base URL, process and log file."""

    url: str
    proc: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def query(self, promql: str) -> list[dict[str, Any]]:
        """The result list of an instant query now (raises on an API error)."""
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5)
        body = response.json()
        if body.get("status") != "success":
            raise AssertionError(f"query {promql!r} failed: {body}")
        result = body["data"]["result"]
        return result if isinstance(result, list) else [result]

    def wait_for(
        self, promql: str, *, timeout: float = SAMPLE_TIMEOUT_S, min_value: float | None = None
    ) -> list[dict[str, Any]]:
        """Poll ``promql`` until it returns a series (whose value is >= ``min_value``)."""
        deadline = time.monotonic() + timeout
        last: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            last = self.query(promql)
            if last and (min_value is None or any(float(s["value"][1]) >= min_value for s in last)):
                return last
            if self.proc.poll() is not None:
                raise AssertionError(f"prometheus exited {self.proc.returncode}:\n{self.log()}")
            time.sleep(0.2)
        raise AssertionError(f"no sample for {promql!r} after {timeout}s (last: {last})")

    def stop(self) -> None:
        stop_process(self.proc)


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/-/ready", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def start_prometheus(folder: Path, *, targets: list[str]) -> PrometheusServer:
    """Start Prometheus on a free port of 127.0.0.1 with its files under ``folder``.

    Retries with another port when the chosen one was taken in the meantime.
    """
    binary = prometheus_binary()
    assert binary is not None, "call require_prometheus() first"
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "prometheus.yml"
    config.write_text(config_text(targets))
    for attempt in range(3):
        port = free_port()
        log_path = folder / f"prometheus-{attempt}.log"
        with log_path.open("wb") as log_file:
            proc = subprocess.Popen(
                [
                    binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={folder / f'data-{attempt}'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                    "--log.level=warn",
                ],
                stdout=log_file,
                stderr=subprocess.STDOUT,
            )
        server = PrometheusServer(f"http://127.0.0.1:{port}", proc, log_path)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None and not _ready(server.url):
            time.sleep(0.05)
        if proc.poll() is None and _ready(server.url):
            return server
        server.stop()
        if "address already in use" not in server.log():
            raise AssertionError(f"prometheus did not start:\n{server.log()}")
    raise AssertionError("prometheus found no free port in 3 attempts")


@contextmanager
def running_prometheus(folder: Path, *, targets: list[str]) -> Iterator[PrometheusServer]:
    """Prometheus for the duration of a ``with`` block, always stopped afterwards."""
    server = start_prometheus(folder, targets=targets)
    try:
        yield server
    finally:
        server.stop()
