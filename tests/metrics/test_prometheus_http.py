"""The prometheus provider's HTTP behaviour against a tiny local server that records requests:
auth headers, templates in the query, retries, API errors and result shapes."""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from rollguard.metrics.base import Measurement
from rollguard.metrics.prometheus import PrometheusProvider, reduce_series
from rollguard.plan import templates
from rollguard.plan.model import PrometheusMetric


@dataclass
class Recorder:
    """Answers queued (status, body) pairs, the last one forever; records every request."""

    url: str = ""
    answers: list[tuple[int, Any]] = field(default_factory=list)
    requests: list[tuple[str, dict[str, str], dict[str, str]]] = field(default_factory=list)

    def answer(self, status: int, body: Any) -> None:
        self.answers.append((status, body))

    @property
    def params(self) -> dict[str, str]:
        return self.requests[-1][1]

    @property
    def headers(self) -> dict[str, str]:
        return self.requests[-1][2]


def vector(*values: str, labels: list[dict[str, str]] | None = None) -> dict[str, Any]:
    metrics = labels or [{} for _ in values]
    return {
        "status": "success",
        "data": {
            "resultType": "vector",
            "result": [
                {"metric": m, "value": [100.0, v]} for m, v in zip(metrics, values, strict=True)
            ],
        },
    }


@pytest.fixture
def server() -> Iterator[Recorder]:
    recorder = Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            parts = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(parts.query).items()}
            recorder.requests.append(
                (parts.path, params, {k.lower(): v for k, v in self.headers.items()})
            )
            status, body = recorder.answers[0] if recorder.answers else (200, vector("1"))
            if len(recorder.answers) > 1:
                recorder.answers.pop(0)
            data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    recorder.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield recorder
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def spec(server: Recorder, **fields: Any) -> PrometheusMetric:
    return PrometheusMetric.model_validate(
        {"kind": "prometheus", "url": server.url, "query": "up", "retries": 0, **fields}
    )


async def measure(s: PrometheusMetric, *, version: str = "go") -> Measurement:
    provider = PrometheusProvider(labels={"role": "candidate", "version": version})
    return await provider.measure(s, version="candidate", since=1000.0, until=1030.0)


async def test_bearer_token_and_extra_headers_are_sent(server: Recorder) -> None:
    s = spec(server, bearer_token="${env.PROM_TOKEN}", headers={"X-Scope-OrgID": "team-a"})
    s = templates.render_model(s, {}, env={"PROM_TOKEN": "s3cret"})
    assert (await measure(s)).value == 1.0
    assert server.headers["authorization"] == "Bearer s3cret"
    assert server.headers["x-scope-orgid"] == "team-a"


async def test_basic_auth_is_sent(server: Recorder) -> None:
    await measure(spec(server, basic={"username": "rg", "password": "pw"}))
    assert server.headers["authorization"] == "Basic " + base64.b64encode(b"rg:pw").decode()


async def test_query_templates_are_filled_and_escaped(server: Recorder) -> None:
    s = spec(server, query='sum(rate(r{version="{{version}}",role="{{ role }}"}[{{window}}]))')
    await measure(s, version='odd"name')
    path, params = server.requests[-1][0], server.params
    assert path == "/api/v1/query"
    assert params["query"] == 'sum(rate(r{version="odd\\"name",role="candidate"}[30s]))'
    assert params["time"] == "1030.000"
    assert params["timeout"] == "5000ms"  # a Prometheus duration, so sub-second ones work too


async def test_an_unknown_template_is_an_error_before_any_request(server: Recorder) -> None:
    m = await measure(spec(server, query="x{{color}}"))
    assert m.value is None and m.error is not None and "{{color}}" in m.error
    assert server.requests == []


async def test_a_url_with_a_path_prefix_is_kept(server: Recorder) -> None:
    await measure(spec(server, url=server.url + "/prom/"))
    assert server.requests[-1][0] == "/prom/api/v1/query"


async def test_5xx_is_retried_then_answers(server: Recorder) -> None:
    server.answer(503, "overloaded")
    server.answer(200, vector("0.25"))
    m = await measure(spec(server, retries=2))
    assert (m.value, m.error) == (0.25, None)
    assert len(server.requests) == 2


async def test_5xx_after_every_retry_is_an_error(server: Recorder) -> None:
    server.answer(502, "bad gateway")
    m = await measure(spec(server, retries=1))
    assert m.value is None and m.error is not None and "HTTP 502" in m.error
    assert len(server.requests) == 2


async def test_a_promql_error_is_not_retried(server: Recorder) -> None:
    server.answer(400, {"status": "error", "errorType": "bad_data", "error": "parse error"})
    m = await measure(spec(server, retries=3))
    assert m.error == "PromQL bad_data (HTTP 400): parse error"
    assert len(server.requests) == 1


@pytest.mark.parametrize(
    ("status", "body", "fragment"),
    [
        (200, "<html>hello</html>", "not a Prometheus API answer"),
        (404, "not found", "HTTP 404"),
        (
            200,
            {"status": "success", "data": {"resultType": "string", "result": [1, "x"]}},
            "unsupported result type",
        ),
        (200, vector("abc"), "not a number"),
    ],
)
async def test_answers_that_are_not_a_number_are_errors(
    server: Recorder, status: int, body: Any, fragment: str
) -> None:
    server.answer(status, body)
    m = await measure(spec(server))
    assert m.value is None and m.error is not None and fragment in m.error


async def test_scalar_result(server: Recorder) -> None:
    server.answer(200, {"status": "success", "data": {"resultType": "scalar", "result": [1, "7"]}})
    assert (await measure(spec(server))).value == 7.0


async def test_range_mode_sends_the_window_and_reduces(server: Recorder) -> None:
    points = [[1000 + i, str(v)] for i, v in enumerate([1, 5, 3])]
    server.answer(
        200,
        {
            "status": "success",
            "data": {"resultType": "matrix", "result": [{"metric": {}, "values": points}]},
        },
    )
    m = await measure(spec(server, mode="range", step="10s", reduce="avg"))
    assert (m.value, m.samples) == (3.0, 3)
    path, params = server.requests[-1][0], server.params
    assert path == "/api/v1/query_range"
    assert (params["start"], params["end"], params["step"]) == ("1000.000", "1030.000", "10")


async def test_samples_query_gives_the_sample_count(server: Recorder) -> None:
    server.answer(200, vector("0.01"))
    server.answer(200, vector("120.4", "30", labels=[{"i": "a"}, {"i": "b"}]))
    m = await measure(spec(server, samples_query="sum(increase(r[{{window}}]))"))
    assert (m.value, m.samples, m.error) == (0.01, 150, None)
    assert server.params["query"] == "sum(increase(r[30s]))"


async def test_an_empty_result_skips_the_samples_query(server: Recorder) -> None:
    server.answer(200, {"status": "success", "data": {"resultType": "vector", "result": []}})
    m = await measure(spec(server, samples_query="sum(r)"))
    assert (m.value, m.samples, m.error) == (None, 0, None)
    assert len(server.requests) == 1


async def test_missing_tls_files_are_an_error(server: Recorder, tmp_path: Any) -> None:
    m = await measure(spec(server, tls={"ca_file": str(tmp_path / "missing.pem")}))
    assert m.value is None and m.error is not None and m.error.startswith("TLS setup failed")


@pytest.mark.parametrize(
    ("reduce", "expected"), [("last", 4.0), ("avg", 3.0), ("max", 4.0), ("min", 2.0)]
)
def test_reduce_over_points(reduce: str, expected: float) -> None:
    s = PrometheusMetric(kind="prometheus", url="http://p", query="q", reduce=reduce)  # type: ignore[arg-type]
    assert reduce_series([({}, [(1, 2.0), (2, 3.0), (3, 4.0)])], s) == (expected, 3)


def test_sum_adds_series_at_each_time_and_takes_the_last() -> None:
    s = PrometheusMetric(kind="prometheus", url="http://p", query="q", reduce="sum")
    series = [({"i": "a"}, [(1, 1.0), (2, 2.0)]), ({"i": "b"}, [(2, 5.0)])]
    assert reduce_series(series, s) == (7.0, 2)


def test_both_auth_kinds_at_once_is_a_plan_error() -> None:
    with pytest.raises(ValueError, match="either `basic` or `bearer_token`"):
        PrometheusMetric.model_validate(
            {
                "kind": "prometheus",
                "url": "u",
                "query": "q",
                "bearer_token": "t",
                "basic": {"username": "a", "password": "b"},
            }
        )
