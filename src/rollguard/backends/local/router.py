"""The built-in router: an asyncio HTTP/1.1 reverse proxy that splits traffic by weight.

Each request goes to the candidate with probability ``weight``/100 (drawn from an injected
``random.Random``: a seed makes tests deterministic), else to stable. The weight is read when
a request's head has arrived, so ``set_weight`` applies to the next request, also on
connections already open.

``h11`` parses and frames HTTP on both sides; the router moves events. Method, target, headers
and body pass unchanged except the hop-by-hop headers (``Connection`` and those it names,
``Keep-Alive``, ``TE``, ``Upgrade``, ``Transfer-Encoding``...), which describe one connection
and are set again for the next (a chunked body is re-chunked). Each body piece is written and
flushed as it arrives, so a streaming response reaches the client chunk by chunk.
``Expect: 100-continue`` is answered by the router and not forwarded.

Connections: keep-alive on both sides, ``TCP_NODELAY`` on every socket, and a small pool of
idle upstream connections per version (:mod:`rollguard.backends.local.upstream`, which also
retries a stale pooled connection when the request body read so far, up to 64 KiB here, can
be replayed).

Failures: an upstream that cannot be connected to, or sends no response head within
``response_timeout``, gets the client a ``502`` and counts as an ``error`` of its version. An
upstream that breaks after the head was forwarded closes the client connection (the only way
left to tell) and counts as an ``error`` too.

Stats (:class:`~rollguard.backends.local.stats.RouterStats`): one record per finished
request, with **latency = time to response headers**: from the router having the whole
request head to the upstream's response head arriving (connect and request body included,
response body streaming not).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Iterable

import h11

from rollguard.backends.local import stats as stats_mod
from rollguard.backends.local import upstream as upstream_mod
from rollguard.backends.local.upstream import split_url

# ``expect`` is not hop-by-hop, but the router answers ``100-continue`` itself.
_HOP_BY_HOP = frozenset(
    b"connection keep-alive proxy-authenticate proxy-authorization proxy-connection te "
    b"trailer transfer-encoding upgrade expect".split()
)
_REPLAY_LIMIT = 64 * 1024
_DISCARD_LIMIT = 4 * 1024 * 1024


class _ClientGone(Exception):
    """The client closed its connection or broke the protocol; nothing can be answered."""


def forwarded_headers(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """Headers minus hop-by-hop ones (and those ``Connection`` names); a chunked body stays
    chunked on the next hop (h11 re-frames it).

    >>> forwarded_headers([(b"X-A", b"1"), (b"Connection", b"x-a, close")])
    []
    """
    items = list(headers)
    drop = set(_HOP_BY_HOP)
    chunked = False
    for name, value in items:
        lower = name.lower()
        if lower == b"connection":
            drop.update(token.strip().lower() for token in value.split(b","))
        elif lower == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    out = [(name, value) for name, value in items if name.lower() not in drop]
    if chunked:
        out.append((b"Transfer-Encoding", b"chunked"))
    return out


class _ClientBody:
    """The request body as it is read from the client, kept (up to 64 KiB) for a replay."""

    def __init__(self, conn: h11.Connection, reader: asyncio.StreamReader) -> None:
        self._conn = conn
        self._reader = reader
        self.kept: list[bytes] = []
        self._kept_size = 0
        self.replayable = True
        self.done = False

    async def next_event(self) -> h11.Data | h11.EndOfMessage:
        event = await upstream_mod.next_event(self._conn, self._reader, _ClientGone)
        if isinstance(event, h11.Data):
            if self.replayable:
                self.kept.append(bytes(event.data))
                self._kept_size += len(event.data)
                if self._kept_size > _REPLAY_LIMIT:
                    self.replayable, self.kept = False, []
            return h11.Data(data=event.data)
        if isinstance(event, h11.EndOfMessage):
            self.done = True
            return h11.EndOfMessage()
        raise _ClientGone(f"unexpected {type(event).__name__} inside a request body")

    async def discard(self, *, limit: int) -> None:
        """Read the rest of the body (up to ``limit`` bytes) without forwarding it."""
        size = 0
        while not self.done and size <= limit:
            event = await self.next_event()
            size += len(event.data) if isinstance(event, h11.Data) else 0


async def _answer_502(conn: h11.Connection, writer: asyncio.StreamWriter, message: str) -> None:
    if conn.our_state is not h11.SEND_RESPONSE:
        return
    body = (message + "\n").encode()
    headers = [(b"Content-Type", b"text/plain; charset=utf-8")]
    headers.append((b"Content-Length", str(len(body)).encode()))
    if conn.their_state is not h11.DONE:
        # The request body was not read to its end: the connection cannot carry another one.
        headers.append((b"Connection", b"close"))
    writer.write(conn.send(h11.Response(status_code=502, headers=headers)) or b"")
    writer.write(conn.send(h11.Data(data=body)) or b"")
    writer.write(conn.send(h11.EndOfMessage()) or b"")
    await writer.drain()


class Router:
    """A reverse proxy on ``host:port`` in front of a stable and a candidate URL.

    Example::

        router = Router(host="127.0.0.1", port=8080, stable_url="http://127.0.0.1:3010",
                        candidate_url="http://127.0.0.1:3020", rng=random.Random(7))
        await router.start()
        router.set_weight(5)  # each next request has a 5% chance to reach the candidate
        await router.stop()
    """

    def __init__(
        self,
        *,
        host: str,
        port: int,
        stable_url: str,
        candidate_url: str,
        weight: int = 0,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.time,
        stats: stats_mod.RouterStats | None = None,
        connect_timeout: float = 5.0,
        response_timeout: float = 60.0,
        pool_size: int = 16,
    ) -> None:
        self._host = host
        self._port = port
        self._rng = rng if rng is not None else random.Random()
        self._weight = 0
        self.set_weight(weight)
        self._stats = stats if stats is not None else stats_mod.RouterStats(clock=clock)
        self._response_timeout = response_timeout
        self._upstreams = {
            version: upstream_mod.Upstream(
                url, connect_timeout=connect_timeout, pool_size=pool_size
            )
            for version, url in (("stable", stable_url), ("candidate", candidate_url))
        }
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.Task[None]] = set()
        self._in_flight = {"stable": 0, "candidate": 0}

    @property
    def weight(self) -> int:
        """Percent of new requests sent to the candidate."""
        return self._weight

    def set_weight(self, weight: int) -> None:
        """Send ``weight`` percent (0..100) of the next requests to the candidate."""
        if not 0 <= weight <= 100:
            raise ValueError(f"weight must be within 0..100, not {weight}")
        self._weight = weight

    @property
    def stats(self) -> stats_mod.RouterStats:
        """Per-version counters (a :class:`rollguard.backends.base.TrafficStats`)."""
        return self._stats

    @property
    def port(self) -> int:
        """The port listened on (the real one once started, when 0 was asked for)."""
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    @property
    def url(self) -> str:
        """``http://host:port`` of the router."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    async def drain(self, version: str, *, timeout: float) -> bool:
        """Wait until no request is in flight to ``version``; False after ``timeout``.

        After a weight change, this lets requests already sent to a version finish before
        that version is stopped.
        """
        deadline = time.monotonic() + timeout
        while self._in_flight[version]:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.01)
        return True

    async def start(self) -> None:
        """Listen for clients (idempotent)."""
        if self._server is None:
            self._server = await asyncio.start_server(self._on_client, self._host, self._port)

    async def stop(self) -> None:
        """Stop listening; close every client and pooled upstream connection (idempotent)."""
        server, self._server = self._server, None
        if server is not None:
            server.close()
        tasks = list(self._clients)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if server is not None:
            await server.wait_closed()
        for upstream in self._upstreams.values():
            await upstream.close()

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._clients.add(task)
        try:
            upstream_mod.set_nodelay(writer)
            await self._serve(reader, writer)
        except (_ClientGone, OSError):
            pass  # the client went away; there is nobody left to answer
        except asyncio.CancelledError:
            # stop() cancels the handlers; asyncio's stream callback would report a cancelled
            # handler task as an unhandled error, so the cancellation ends here.
            pass
        finally:
            self._clients.discard(task)
            writer.close()
            with contextlib.suppress(OSError, asyncio.CancelledError):
                await writer.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        while True:
            event = await upstream_mod.next_event(conn, reader, _ClientGone)
            if not isinstance(event, h11.Request):
                return  # ConnectionClosed: the client is done with this connection
            await self._proxy(conn, reader, writer, event)
            if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                return  # the exchange ended early, or one side asked to close
            conn.start_next_cycle()

    async def _proxy(
        self,
        conn: h11.Connection,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        request: h11.Request,
    ) -> None:
        started = time.perf_counter()
        version = "candidate" if self._rng.random() * 100 < self._weight else "stable"
        upstream = self._upstreams[version]
        if conn.they_are_waiting_for_100_continue:
            writer.write(conn.send(h11.InformationalResponse(status_code=100, headers=[])) or b"")
        headers = forwarded_headers(request.headers.raw_items())
        if not any(name.lower() == b"host" for name, _ in headers):
            headers.append((b"Host", upstream.netloc.encode()))  # HTTP/1.0 clients
        head = h11.Request(method=request.method, target=request.target, headers=headers)
        body = _ClientBody(conn, reader)
        self._in_flight[version] += 1
        try:
            try:
                up, response = await upstream.exchange(head, body, timeout=self._response_timeout)
            except upstream_mod.UpstreamError as exc:
                self._stats.record(version, status=None, latency=time.perf_counter() - started)
                await body.discard(limit=_DISCARD_LIMIT)  # the client then reads the 502
                await _answer_502(conn, writer, f"{version} upstream unavailable: {exc}")
                return
            latency = time.perf_counter() - started
            status: int | None = response.status_code
            try:
                status = await _forward_response(conn, writer, up, response)
            finally:
                upstream.release(up)
                self._stats.record(version, status=status, latency=latency)
        finally:
            self._in_flight[version] -= 1


async def _forward_response(
    conn: h11.Connection,
    writer: asyncio.StreamWriter,
    up: upstream_mod.UpstreamConnection,
    response: h11.Response,
) -> int | None:
    """Send the response head, then each body piece as it arrives; None if upstream broke."""
    headers = forwarded_headers(response.headers.raw_items())
    writer.write(conn.send(h11.Response(status_code=response.status_code, headers=headers)) or b"")
    await writer.drain()
    while True:
        try:
            event = await up.next_event()
        except upstream_mod.UpstreamError:
            return None  # too late for a 502: closing the client connection shows the cut
        if isinstance(event, h11.Data):
            writer.write(conn.send(h11.Data(data=event.data)) or b"")
            await writer.drain()
        elif isinstance(event, h11.EndOfMessage):
            writer.write(conn.send(h11.EndOfMessage()) or b"")
            await writer.drain()
            return response.status_code
        else:
            return None


__all__ = ["Router", "forwarded_headers", "split_url"]
