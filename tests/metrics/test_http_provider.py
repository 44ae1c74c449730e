"""The http provider: a number at a JSON path, from a real local HTTP server."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from rollguard.metrics import registry
from rollguard.metrics.base import Measurement
from rollguard.plan.model import HttpMetric
from tests.conftest import free_port

# path -> (status, body); the server also records the last request's path and headers.
ROUTES: dict[str, tuple[int, str]] = {
    "/stats/go?window=30s": (200, json.dumps({"error_ratio": 0.02, "requests": 300})),
    "/stats/a%2Fb?window=30s": (200, json.dumps({"error_ratio": 0.5})),
    "/null": (200, json.dumps({"error_ratio": None})),
    "/text": (200, "<html>"),
    "/boom": (503, "down"),
    "/string": (200, json.dumps({"error_ratio": "abc"})),
}


@pytest.fixture(scope="module")
def server() -> Iterator[dict[str, Any]]:
    seen: dict[str, Any] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            seen["path"], seen["headers"] = self.path, dict(self.headers)
            status, body = ROUTES.get(self.path, (404, "no such route"))
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    seen["url"] = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    yield seen
    httpd.shutdown()
    httpd.server_close()
    thread.join()


async def measure(url: str, *, version: str = "go", **fields: object) -> Measurement:
    spec = HttpMetric.model_validate({"kind": "http", "url": url, "path": "error_ratio", **fields})
    return await registry.measure(
        spec,
        version="candidate",
        since=1000.0,
        until=1030.0,
        traffic=None,
        labels={"role": "candidate", "version": version},
    )


async def test_number_and_samples_at_json_paths(server: dict[str, Any]) -> None:
    m = await measure(
        server["url"] + "/stats/{{version}}?window={{window}}",
        samples_path="requests",
        headers={"X-Version": "{{version}}"},
    )
    assert (m.value, m.samples, m.error) == (0.02, 300, None)
    assert server["headers"]["X-Version"] == "go"


async def test_url_templates_are_encoded(server: dict[str, Any]) -> None:
    m = await measure(server["url"] + "/stats/{{version}}?window={{window}}", version="a/b")
    assert (m.value, m.samples) == (0.5, 1)


async def test_null_is_no_data(server: dict[str, Any]) -> None:
    m = await measure(server["url"] + "/null")
    assert (m.value, m.samples, m.error) == (None, 0, None)


@pytest.mark.parametrize(
    ("path", "fragment"),
    [
        ("/boom", "HTTP 503: down"),
        ("/missing", "HTTP 404"),
        ("/text", "did not answer JSON"),
        ("/string", "not a number"),
        ("/stats/go?window=30s&x=1", "HTTP 404"),
    ],
)
async def test_failures_are_errors_never_a_pass(
    server: dict[str, Any], path: str, fragment: str
) -> None:
    m = await measure(server["url"] + path)
    assert m.value is None and m.error is not None and fragment in m.error


async def test_a_missing_path_is_an_error(server: dict[str, Any]) -> None:
    m = await measure(server["url"] + "/stats/go?window=30s", samples_path="nope")
    assert m.error is not None and "nothing at 'nope'" in m.error


async def test_connection_refused_is_an_error() -> None:
    m = await measure(f"http://127.0.0.1:{free_port()}/x")
    assert m.value is None and m.error is not None and "ConnectError" in m.error
