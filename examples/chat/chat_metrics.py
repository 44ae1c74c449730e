"""Prometheus metrics of the example chat service.

The service exposes the same series whether or not `prometheus_client` is installed: with it,
a private `CollectorRegistry` renders them; without it, `PlainMetrics` renders the text
exposition format itself, so the example runs on a bare Python.

Series (every one labelled with the build's `version`):

- `chat_http_requests_total{version,method,route,status}`  counter
- `chat_http_request_duration_seconds{version,route}`       histogram, 1 ms to 2 s
- `chat_dropped_writes_total{version}`                      counter of writes lost on purpose
- `chat_build_info{version}`                                gauge, always 1

`route` is the route template (`/threads/{id}/messages`), never the raw path, so the number
of series stays bounded.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

# Fine-grained around the healthy 2-10 ms so a p95 computed from buckets is meaningful, and
# up to 2 s so an injected slowdown still lands in a bucket rather than in +Inf.
LATENCY_BUCKETS = (
    0.001,
    0.002,
    0.004,
    0.006,
    0.008,
    0.01,
    0.015,
    0.02,
    0.03,
    0.05,
    0.075,
    0.1,
    0.15,
    0.2,
    0.3,
    0.5,
    0.75,
    1.0,
    1.5,
    2.0,
)

PLAIN_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics(Protocol):
    content_type: str

    def observe_request(self, *, method: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and record its latency."""

    def dropped_write(self) -> None:
        """Count one write acknowledged but not stored."""

    def render(self) -> bytes:
        """The whole exposition, ready to send."""


def create_metrics(version: str) -> Metrics:
    """Metrics through `prometheus_client` when importable, else the built-in renderer."""
    try:
        import prometheus_client
    except ImportError:
        return PlainMetrics(version)
    return ClientMetrics(version, prometheus_client)


class ClientMetrics:
    def __init__(self, version: str, prometheus_client: Any) -> None:
        pc = prometheus_client
        pc.disable_created_metrics()
        self._pc = pc
        self.content_type = pc.CONTENT_TYPE_LATEST
        self._registry = pc.CollectorRegistry()
        self._version = version
        self._requests = pc.Counter(
            "chat_http_requests",
            "HTTP requests answered, by route template and status code.",
            ["version", "method", "route", "status"],
            registry=self._registry,
        )
        self._latency = pc.Histogram(
            "chat_http_request_duration_seconds",
            "Time from request parsed to response written.",
            ["version", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self._registry,
        )
        self._dropped = pc.Counter(
            "chat_dropped_writes",
            "Message writes acknowledged to the client but not stored.",
            ["version"],
            registry=self._registry,
        )
        self._dropped.labels(version=version)
        info = pc.Gauge(
            "chat_build_info",
            "Always 1; labelled with the build.",
            ["version"],
            registry=self._registry,
        )
        info.labels(version=version).set(1)

    def observe_request(self, *, method: str, route: str, status: int, seconds: float) -> None:
        self._requests.labels(self._version, method, route, str(status)).inc()
        self._latency.labels(self._version, route).observe(seconds)

    def dropped_write(self) -> None:
        self._dropped.labels(self._version).inc()

    def render(self) -> bytes:
        return self._pc.generate_latest(self._registry)


def _labels(pairs: dict[str, str]) -> str:
    def escape(value: str) -> str:
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')

    return "{" + ",".join(f'{key}="{escape(value)}"' for key, value in pairs.items()) + "}"


def _number(value: float) -> str:
    return repr(float(value))


class PlainMetrics:
    """The same series as `ClientMetrics`, rendered without any dependency."""

    content_type = PLAIN_CONTENT_TYPE

    def __init__(self, version: str) -> None:
        self._version = version
        self._lock = threading.Lock()
        self._requests: dict[tuple[str, str, str], int] = {}
        # route -> (per-bucket counts, sum, count); bucket counts are not cumulative here.
        self._latency: dict[str, tuple[list[int], float, int]] = {}
        self._dropped = 0

    def observe_request(self, *, method: str, route: str, status: int, seconds: float) -> None:
        with self._lock:
            key = (method, route, str(status))
            self._requests[key] = self._requests.get(key, 0) + 1
            buckets, total, count = self._latency.get(route, ([0] * len(LATENCY_BUCKETS), 0.0, 0))
            for index, bound in enumerate(LATENCY_BUCKETS):
                if seconds <= bound:
                    buckets[index] += 1
                    break
            self._latency[route] = (buckets, total + seconds, count + 1)

    def dropped_write(self) -> None:
        with self._lock:
            self._dropped += 1

    def render(self) -> bytes:
        version = self._version
        lines = [
            "# HELP chat_http_requests_total HTTP requests answered, by route template and "
            "status code.",
            "# TYPE chat_http_requests_total counter",
        ]
        with self._lock:
            for (method, route, status), count in sorted(self._requests.items()):
                labels = _labels(
                    {"version": version, "method": method, "route": route, "status": status}
                )
                lines.append(f"chat_http_requests_total{labels} {_number(count)}")
            lines += [
                "# HELP chat_http_request_duration_seconds Time from request parsed to response "
                "written.",
                "# TYPE chat_http_request_duration_seconds histogram",
            ]
            for route, (buckets, total, count) in sorted(self._latency.items()):
                cumulative = 0
                for bound, in_bucket in zip(LATENCY_BUCKETS, buckets, strict=True):
                    cumulative += in_bucket
                    labels = _labels({"version": version, "route": route, "le": repr(bound)})
                    lines.append(
                        f"chat_http_request_duration_seconds_bucket{labels} {_number(cumulative)}"
                    )
                labels = _labels({"version": version, "route": route, "le": "+Inf"})
                lines.append(f"chat_http_request_duration_seconds_bucket{labels} {_number(count)}")
                labels = _labels({"version": version, "route": route})
                lines.append(f"chat_http_request_duration_seconds_count{labels} {_number(count)}")
                lines.append(f"chat_http_request_duration_seconds_sum{labels} {total!r}")
            dropped = self._dropped
        only_version = _labels({"version": version})
        lines += [
            "# HELP chat_dropped_writes_total Message writes acknowledged to the client but "
            "not stored.",
            "# TYPE chat_dropped_writes_total counter",
            f"chat_dropped_writes_total{only_version} {_number(dropped)}",
            "# HELP chat_build_info Always 1; labelled with the build.",
            "# TYPE chat_build_info gauge",
            f"chat_build_info{only_version} 1.0",
        ]
        return ("\n".join(lines) + "\n").encode()
