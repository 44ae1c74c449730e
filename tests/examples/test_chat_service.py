"""The example chat service over real HTTP: API, shared database, metrics, shutdown."""

from __future__ import annotations

import signal

from prometheus_client.parser import text_string_to_metric_families

from tests.examples.chat_procs import RunningService, StartService, load_example, stop_process


def test_status_reports_ok_version_and_uptime(start_service: StartService) -> None:
    service = start_service(version="go")
    with service.client() as http:
        answer = http.get("/status")
    assert answer.status_code == 200
    body = answer.json()
    assert body["status"] == "ok"
    assert body["version"] == "go"
    assert body["uptime_s"] >= 0
    assert body["faults_active"] is False


def test_thread_and_messages_round_trip(service: RunningService) -> None:
    with service.client() as http:
        created = http.post("/threads", json={"title": "release"})
        assert created.status_code == 201
        thread_id = created.json()["id"]
        ids = []
        for index in range(3):
            posted = http.post(
                f"/threads/{thread_id}/messages", json={"author": "ann", "body": f"m{index}"}
            )
            assert posted.status_code == 201
            assert posted.json()["thread_id"] == thread_id
            ids.append(posted.json()["id"])

        messages = http.get(f"/threads/{thread_id}/messages").json()
        threads = http.get("/threads").json()

    assert [m["id"] for m in messages] == ids
    assert [m["body"] for m in messages] == ["m0", "m1", "m2"]
    assert {"id": thread_id, "title": "release"}.items() <= threads[0].items()


def test_limit_returns_the_latest_messages_in_order(service: RunningService) -> None:
    with service.client() as http:
        thread_id = http.post("/threads", json={"title": "t"}).json()["id"]
        for index in range(5):
            http.post(f"/threads/{thread_id}/messages", json={"author": "a", "body": str(index)})
        latest = http.get(f"/threads/{thread_id}/messages", params={"limit": 2}).json()
    assert [m["body"] for m in latest] == ["3", "4"]


def test_bad_requests_get_4xx(service: RunningService) -> None:
    with service.client() as http:
        assert http.get("/threads/999/messages").status_code == 404
        no_thread = http.post("/threads/999/messages", json={"author": "a", "body": "b"})
        assert no_thread.status_code == 404
        assert http.post("/threads", content=b"{not json").status_code == 400
        assert http.post("/threads", json={"title": ""}).status_code == 400
        assert http.get("/threads", params={"limit": "0"}).status_code == 400
        assert http.delete("/threads").status_code == 405
        assert http.get("/nowhere").status_code == 404


def test_stable_and_candidate_share_one_database(start_service: StartService) -> None:
    stable = start_service(version="node")
    candidate = start_service(version="go", db=stable.db)
    with stable.client() as node, candidate.client() as go:
        thread_id = node.post("/threads", json={"title": "shared"}).json()["id"]
        go.post(f"/threads/{thread_id}/messages", json={"author": "b", "body": "from go"})
        seen_by_node = node.get(f"/threads/{thread_id}/messages").json()
    assert [m["body"] for m in seen_by_node] == ["from go"]


def test_metrics_count_requests_by_version_route_and_status(start_service: StartService) -> None:
    service = start_service(version="go")
    with service.client() as http:
        thread_id = http.post("/threads", json={"title": "t"}).json()["id"]
        http.get(f"/threads/{thread_id}/messages")
        http.get("/threads/999/messages")
        answer = http.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }

    def requests(method: str, route: str, status: str) -> float:
        labels = {"version": "go", "method": method, "route": route, "status": status}
        return samples[("chat_http_requests_total", tuple(sorted(labels.items())))]

    assert requests("POST", "/threads", "201") == 1
    assert requests("GET", "/threads/{id}/messages", "200") == 1
    assert requests("GET", "/threads/{id}/messages", "404") == 1
    count_key = (
        "chat_http_request_duration_seconds_count",
        (("route", "/threads/{id}/messages"), ("version", "go")),
    )
    assert samples[count_key] == 2
    assert samples[("chat_build_info", (("version", "go"),))] == 1
    assert samples[("chat_dropped_writes_total", (("version", "go"),))] == 0


def test_builtin_renderer_matches_prometheus_client() -> None:
    chat_metrics = load_example("chat_metrics")
    with_client = chat_metrics.create_metrics("node")
    plain = chat_metrics.PlainMetrics("node")
    assert not isinstance(with_client, chat_metrics.PlainMetrics)
    for metrics in (with_client, plain):
        for seconds in (0.0005, 0.003, 0.25, 3.0):
            metrics.observe_request(method="GET", route="/threads", status=200, seconds=seconds)
        metrics.observe_request(method="POST", route="/threads", status=500, seconds=0.01)
        metrics.dropped_write()

    def parsed(metrics: object) -> set[tuple[str, tuple[tuple[str, str], ...], float]]:
        text = metrics.render().decode()  # type: ignore[attr-defined]
        return {
            (sample.name, tuple(sorted(sample.labels.items())), round(sample.value, 9))
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    assert parsed(plain) == parsed(with_client)


def test_sigterm_stops_the_service_with_status_0(service: RunningService) -> None:
    with service.client() as http:
        assert http.get("/status").status_code == 200
    service.proc.send_signal(signal.SIGTERM)
    assert stop_process(service.proc) == 0
    assert "shutdown: stopping" in service.log()
