"""The built-in router against real upstream processes on 127.0.0.1."""

from __future__ import annotations

import asyncio
import hashlib
import json
import random
import time
from collections.abc import AsyncIterator

import httpx
import pytest

from rollguard.backends.local import router as router_mod
from tests.backends.servers import Upstream, free_port, make_router


@pytest.fixture
async def router(upstreams: dict[str, Upstream]) -> AsyncIterator[router_mod.Router]:
    r = make_router(upstreams, rng=random.Random(1))
    await r.start()
    yield r
    await r.stop()


def served_by(response: httpx.Response) -> str:
    return response.headers["x-upstream"]


def everything(router: router_mod.Router, version: str) -> tuple[int, int, dict[str, int]]:
    window = router.stats.window(version, since=0, until=time.time() + 10)
    return window.requests, window.errors, window.status_classes


@pytest.mark.parametrize(("weight", "expected"), [(0, "stable"), (100, "candidate")])
async def test_weight_0_and_100_send_everything_to_one_version(
    upstreams: dict[str, Upstream], client: httpx.AsyncClient, weight: int, expected: str
) -> None:
    r = make_router(upstreams, weight=weight, rng=random.Random(3))
    await r.start()
    try:
        seen = {served_by(await client.get(f"{r.url}/echo")) for _ in range(50)}
    finally:
        await r.stop()
    assert seen == {expected}
    assert everything(r, expected)[0] == 50


async def test_weight_25_sends_about_a_quarter_with_a_fixed_seed(
    router: router_mod.Router, client: httpx.AsyncClient
) -> None:
    router.set_weight(25)
    names = [served_by(await client.get(f"{router.url}/echo")) for _ in range(400)]
    candidate = names.count("candidate")
    assert 70 <= candidate <= 130
    assert everything(router, "candidate")[0] == candidate
    assert everything(router, "stable")[0] == 400 - candidate


async def test_a_weight_change_applies_to_the_next_request_on_the_same_connection(
    router: router_mod.Router, client: httpx.AsyncClient
) -> None:
    assert served_by(await client.get(f"{router.url}/echo")) == "stable"
    router.set_weight(100)
    assert router.weight == 100
    assert served_by(await client.get(f"{router.url}/echo")) == "candidate"
    router.set_weight(0)
    assert served_by(await client.get(f"{router.url}/echo")) == "stable"


async def test_weight_outside_0_100_is_refused(router: router_mod.Router) -> None:
    with pytest.raises(ValueError, match="0..100"):
        router.set_weight(101)


async def test_method_target_and_headers_pass_unchanged_minus_hop_by_hop(
    router: router_mod.Router, client: httpx.AsyncClient
) -> None:
    response = await client.request(
        "PUT",
        f"{router.url}/echo/a%20b?x=1&y=two",
        headers={
            "X-Request-Id": "abc-123",
            "X-Mixed-Case": "Value",
            "Connection": "keep-alive, X-Drop-Me",
            "X-Drop-Me": "secret",
            "Keep-Alive": "timeout=5",
        },
    )
    doc = response.json()
    assert doc["method"] == "PUT"
    assert doc["target"] == "/echo/a%20b?x=1&y=two"
    headers = dict(doc["headers"])
    assert headers["X-Request-Id"] == "abc-123"
    assert headers["X-Mixed-Case"] == "Value"
    assert headers["Host"] == router.url.removeprefix("http://")
    assert "X-Drop-Me" not in headers and "Keep-Alive" not in headers
    assert response.headers["content-type"] == "application/json"


async def test_json_post_and_a_one_megabyte_body(
    router: router_mod.Router, client: httpx.AsyncClient
) -> None:
    doc = (await client.post(f"{router.url}/echo", json={"text": "hello"})).json()
    assert doc["body_len"] == len(b'{"text":"hello"}')
    assert dict(doc["headers"])["Content-Type"] == "application/json"

    big = random.Random(5).randbytes(1024 * 1024)
    doc = (await client.post(f"{router.url}/echo", content=big)).json()
    assert doc["body_len"] == len(big)
    assert doc["body_sha256"] == hashlib.sha256(big).hexdigest()


async def test_a_chunked_request_body_is_forwarded(
    router: router_mod.Router, client: httpx.AsyncClient
) -> None:
    pieces = [b"alpha-", b"beta-" * 1000, b"gamma"]

    async def body() -> AsyncIterator[bytes]:
        for piece in pieces:
            yield piece

    doc = (await client.post(f"{router.url}/echo", content=body())).json()
    assert dict(doc["headers"])["Transfer-Encoding"] == "chunked"
    assert doc["body_sha256"] == hashlib.sha256(b"".join(pieces)).hexdigest()


async def test_a_streaming_response_arrives_in_pieces_before_the_upstream_finishes(
    router: router_mod.Router, client: httpx.AsyncClient, upstreams: dict[str, Upstream]
) -> None:
    async with client.stream("GET", f"{router.url}/stream") as response:
        pieces = response.aiter_raw()
        # The upstream sends "second" only after /release: reading "first" before that proves
        # the router forwarded it as it came (a buffering router would never deliver it).
        first = await asyncio.wait_for(anext(pieces), timeout=20)
        assert first == b"first\n"
        await client.get(f"{upstreams['stable'].url}/release")
        rest = b"".join([piece async for piece in pieces])
    assert rest == b"second\n"
    assert everything(router, "stable")[2] == {"2xx": 1}


async def test_status_classes_are_counted_per_version(
    router: router_mod.Router, client: httpx.AsyncClient
) -> None:
    for code in (200, 204, 302, 404, 503, 500):
        response = await client.get(f"{router.url}/code/{code}", follow_redirects=False)
        assert response.status_code == code
    requests, errors, classes = everything(router, "stable")
    assert (requests, errors) == (6, 2)
    assert classes == {"2xx": 2, "3xx": 1, "4xx": 1, "5xx": 2}
    assert everything(router, "candidate") == (0, 0, {})


async def test_head_request_gets_headers_without_a_body(
    router: router_mod.Router, client: httpx.AsyncClient
) -> None:
    response = await client.head(f"{router.url}/status")
    assert response.status_code == 200
    assert response.headers["content-length"] == "2"
    assert response.content == b""
    assert (await client.get(f"{router.url}/status")).content == b"ok"


async def test_an_upstream_that_is_down_gets_a_502_counted_as_error(
    upstreams: dict[str, Upstream], client: httpx.AsyncClient
) -> None:
    r = router_mod.Router(
        host="127.0.0.1",
        port=0,
        stable_url=upstreams["stable"].url,
        candidate_url=f"http://127.0.0.1:{free_port()}",
        weight=100,
    )
    await r.start()
    try:
        response = await client.post(f"{r.url}/echo", json={"a": 1})
        assert response.status_code == 502
        assert "candidate upstream unavailable" in response.text
        r.set_weight(0)
        # The client connection stays usable after a 502.
        assert (await client.get(f"{r.url}/echo")).status_code == 200
    finally:
        await r.stop()
    assert everything(r, "candidate") == (1, 1, {"error": 1})


async def test_upstream_connections_are_reused(
    router: router_mod.Router, client: httpx.AsyncClient
) -> None:
    for _ in range(20):
        assert (await client.get(f"{router.url}/echo")).status_code == 200
    # One sequential client needs one upstream connection, reused for every request.
    idle = router._upstreams["stable"]._idle  # noqa: SLF001 - white-box check of the pool
    assert len(idle) == 1


async def test_a_closed_idle_upstream_connection_is_replaced(
    upstreams: dict[str, Upstream], client: httpx.AsyncClient
) -> None:
    r = make_router(upstreams)
    await r.start()
    try:
        assert (await client.get(f"{r.url}/echo")).status_code == 200
        for conn in r._upstreams["stable"]._idle:  # noqa: SLF001 - simulate the upstream closing
            conn.writer.transport.abort()
        await asyncio.sleep(0)
        assert (await client.post(f"{r.url}/echo", content=b"x" * 10)).status_code == 200
    finally:
        await r.stop()
    assert everything(r, "stable")[:2] == (2, 0)


async def test_stop_closes_open_client_connections(
    upstreams: dict[str, Upstream], client: httpx.AsyncClient
) -> None:
    r = make_router(upstreams)
    await r.start()
    url = r.url
    assert (await client.get(f"{url}/echo")).status_code == 200
    await r.stop()
    await r.stop()  # idempotent
    with pytest.raises(httpx.TransportError):
        await client.get(f"{url}/echo")


def test_split_url() -> None:
    assert router_mod.split_url("http://localhost") == ("localhost", 80)
    with pytest.raises(ValueError, match="http://host:port"):
        router_mod.split_url("https://example.com")


def test_forwarded_headers_rechunk_and_drop_connection_tokens() -> None:
    headers = [
        (b"Transfer-Encoding", b"chunked"),
        (b"Connection", b"close, X-Hop"),
        (b"X-Hop", b"1"),
        (b"X-Keep", b"2"),
        (b"Expect", b"100-continue"),
    ]
    assert router_mod.forwarded_headers(headers) == [
        (b"X-Keep", b"2"),
        (b"Transfer-Encoding", b"chunked"),
    ]


async def test_expect_100_continue_is_answered_by_the_router(
    router: router_mod.Router,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", router.port)
    try:
        writer.write(
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"
        )
        await writer.drain()
        assert (await reader.readline()).startswith(b"HTTP/1.1 100")
        await reader.readline()
        writer.write(b"abc")
        await writer.drain()
        assert (await reader.readline()).startswith(b"HTTP/1.1 200")
        headers = (await reader.readuntil(b"\r\n\r\n")).decode().lower()
        length = int(headers.split("content-length: ")[1].split("\r\n")[0])
        doc = json.loads(await reader.readexactly(length))
        assert doc["body_len"] == 3
        assert "Expect" not in dict(doc["headers"])
    finally:
        writer.close()
        await writer.wait_closed()
