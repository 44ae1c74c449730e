"""The prometheus provider against a real Prometheus scraping two real chat services.

One Prometheus and two builds of the example service (``node`` healthy, ``go`` answering 30%
of API requests with 500 and 30 ms slower) run for the whole module, with steady background
traffic to both, so each test only polls for what it needs.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rollguard.metrics import registry
from rollguard.metrics.prometheus import PrometheusProvider
from rollguard.plan.model import PrometheusMetric
from tests.conftest import free_port
from tests.examples.chat_procs import clean_env, script, stop_process
from tests.prometheus_server import PrometheusServer, require_prometheus, running_prometheus

pytestmark = pytest.mark.integration

LISTENING = re.compile(r"listening on http://(\S+)")
WINDOW_S = 20.0
API = 'route!="/metrics",route!="/status"'
ERROR_RATIO = (
    'sum(rate(chat_http_requests_total{version="{{version}}",status=~"5..",' + API + "}"
    "[{{window}}])) / "
    'sum(rate(chat_http_requests_total{version="{{version}}",' + API + "}[{{window}}]))"
)
REQUESTS = 'sum(increase(chat_http_requests_total{version="{{version}}",' + API + "}[{{window}}]))"
P95 = (
    "histogram_quantile(0.95, sum by (le) (rate("
    'chat_http_request_duration_seconds_bucket{version="{{version}}",' + API + "}[{{window}}])))"
)


def _start_chat(
    folder: Path, version: str, *, env: dict[str, str]
) -> tuple[str, subprocess.Popen[bytes]]:
    log_path = folder / f"chat-{version}.log"
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [sys.executable, script("chat_service.py"), "--port", "0", "--version", version]
            + ["--db", str(folder / "chat.db")],
            env=clean_env(env),
            stdout=subprocess.DEVNULL,
            stderr=log_file,
        )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and proc.poll() is None:
        match = LISTENING.search(log_path.read_text())
        if match:
            return match.group(1), proc
        time.sleep(0.05)
    stop_process(proc)
    raise AssertionError(f"chat {version} did not start:\n{log_path.read_text()}")


def _traffic(addresses: list[str], stop: threading.Event) -> None:
    clients = [httpx.Client(base_url=f"http://{a}", timeout=5) for a in addresses]
    try:
        while not stop.is_set():
            for client in clients:
                try:
                    client.get("/threads")
                except httpx.HTTPError:
                    pass
            stop.wait(0.02)
    finally:
        for client in clients:
            client.close()


@pytest.fixture(scope="module")
def prom(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    require_prometheus()
    folder = tmp_path_factory.mktemp("prom")
    procs: list[subprocess.Popen[bytes]] = []
    stop = threading.Event()
    try:
        node, proc = _start_chat(folder, "node", env={})
        procs.append(proc)
        go, proc = _start_chat(
            folder, "go", env={"CHAT_FAULT_5XX": "0.3", "CHAT_FAULT_LATENCY": "0.03"}
        )
        procs.append(proc)
        thread = threading.Thread(target=_traffic, args=([node, go], stop), daemon=True)
        thread.start()
        with running_prometheus(folder, targets=[node, go]) as server:
            # Enough history for a rate over both versions' error and request series.
            for version in ("node", "go"):
                server.wait_for(
                    f'sum(increase(chat_http_requests_total{{version="{version}",{API}}}[{WINDOW_S:g}s]))',
                    min_value=20,
                )
            server.wait_for(
                f'count_over_time(chat_http_requests_total{{version="go",status="500"}}[{WINDOW_S:g}s])',
                min_value=3,
            )
            yield server
        stop.set()
        thread.join(timeout=10)
    finally:
        stop.set()
        for proc in procs:
            stop_process(proc)


def metric(prom: PrometheusServer, query: str, **fields: object) -> PrometheusMetric:
    return PrometheusMetric.model_validate(
        {"kind": "prometheus", "url": prom.url, "query": query, **fields}
    )


async def measure(spec: PrometheusMetric, version: str, *, window: float = WINDOW_S) -> object:
    now = time.time()
    role = "candidate" if version == "go" else "stable"
    return await registry.measure(
        spec,
        version=role,
        since=now - window,
        until=now,
        traffic=None,
        labels={"role": role, "version": version},
    )


async def test_error_ratio_per_version_label(prom: PrometheusServer) -> None:
    spec = metric(prom, ERROR_RATIO, samples_query=REQUESTS)
    go = await measure(spec, "go")
    assert go.error is None, go.error
    assert go.value is not None and 0.15 < go.value < 0.5
    assert go.samples >= 20
    # A healthy version has no 5xx series at all: the plain ratio is empty, i.e. no data...
    node = await measure(spec, "node")
    assert (node.value, node.samples, node.error) == (None, 0, None)
    # ...unless the query says that a missing error series means zero errors.
    zero_filled = ERROR_RATIO.replace(" / ", " or vector(0)) / ").replace(
        "sum(rate(", "(sum(rate(", 1
    )
    node = await measure(metric(prom, zero_filled, samples_query=REQUESTS), "node")
    assert node.error is None, node.error
    assert node.value == 0.0 and node.samples >= 20


async def test_p95_latency_from_the_histogram(prom: PrometheusServer) -> None:
    spec = metric(prom, P95, samples_query=REQUESTS)
    go, node = await measure(spec, "go"), await measure(spec, "node")
    assert go.error is None and node.error is None, (go.error, node.error)
    assert go.value is not None and node.value is not None
    assert go.value > 0.025  # every API request of go is 30 ms slower
    assert node.value < 0.02


async def test_an_instant_query_without_samples_query_counts_one_point(
    prom: PrometheusServer,
) -> None:
    m = await measure(metric(prom, 'sum(chat_build_info{version="{{version}}"})'), "go")
    assert (m.value, m.samples, m.error) == (1.0, 1, None)


async def test_range_mode_reduces_the_points_of_the_window(prom: PrometheusServer) -> None:
    # The whole window must lie after the first scrape of the service.
    prom.wait_for('count_over_time(chat_build_info{version="node"}[6s])', min_value=6)
    counter = 'sum(chat_http_requests_total{version="{{version}}"})'
    common = {"mode": "range", "step": "1s"}
    last = await measure(metric(prom, counter, **common, reduce="last"), "node", window=6)
    first = await measure(metric(prom, counter, **common, reduce="min"), "node", window=6)
    peak = await measure(metric(prom, counter, **common, reduce="max"), "node", window=6)
    mean = await measure(metric(prom, counter, **common, reduce="avg"), "node", window=6)
    assert None not in (last.value, first.value, peak.value, mean.value)
    assert last.error is None
    assert last.samples >= 5  # about one point per second of the window
    assert first.value < mean.value < peak.value  # type: ignore[operator]
    assert peak.value >= last.value  # type: ignore[operator]


async def test_empty_result_is_no_data_never_zero(prom: PrometheusServer) -> None:
    m = await measure(metric(prom, 'sum(chat_http_requests_total{version="nope"})'), "go")
    assert (m.value, m.samples, m.error) == (None, 0, None)


async def test_bad_promql_is_an_error(prom: PrometheusServer) -> None:
    m = await measure(metric(prom, "sum(rate(chat_http_requests_total[{{window}}]"), "go")
    assert m.value is None and m.error is not None
    assert "bad_data" in m.error


async def test_several_series_are_ambiguous_unless_summed(prom: PrometheusServer) -> None:
    series = 'chat_http_requests_total{version="{{version}}",' + API + "}"
    m = await measure(metric(prom, series), "go")
    assert m.value is None and m.error is not None and "ambiguous" in m.error
    summed = await measure(metric(prom, series, reduce="sum"), "go")
    assert summed.error is None and summed.value is not None and summed.value > 0


@pytest.mark.parametrize(
    ("query", "on_nan", "error"),
    [("0/0", "error", "NaN"), ("1/0", "error", "infinite"), ("0/0", "no_data", None)],
)
async def test_nan_and_inf_are_never_a_value(
    prom: PrometheusServer, query: str, on_nan: str, error: str | None
) -> None:
    m = await measure(metric(prom, query, on_nan=on_nan), "go")
    assert m.value is None
    if error is None:
        assert m.error is None and m.samples == 0
    else:
        assert m.error is not None and error in m.error


async def test_prometheus_down_is_an_error_never_a_pass() -> None:
    spec = PrometheusMetric(
        kind="prometheus", url=f"http://127.0.0.1:{free_port()}", query="up", retries=1
    )
    m = await PrometheusProvider(labels={"version": "go"}).measure(
        spec, version="candidate", since=0, until=30
    )
    assert m.value is None and m.error is not None
    assert "cannot reach Prometheus" in m.error
