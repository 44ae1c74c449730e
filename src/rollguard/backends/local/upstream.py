"""The router's upstream side: keep-alive connections to one version's URL, and a request
sent over them.

:class:`Upstream` holds a small pool of idle :class:`UpstreamConnection` objects per URL. A
pooled connection the upstream closed (its keep-alive timeout) is dropped when taken; one
that fails before the response head is retried once on a fresh connection when the request
body read so far can be replayed (:class:`RequestBody` says whether it can). A missing
response head within the timeout is :class:`UpstreamTimeout` and is not retried: the
upstream got the request.

Every failure on this side is an :class:`UpstreamError`, so that the router tells it apart
from the client going away. :func:`next_event` and :func:`drain` take the error class to
raise for that reason; the router uses them on its client side too.

Every socket gets ``TCP_NODELAY`` (:func:`set_nodelay`): a head and a body written
separately would otherwise wait for a delayed ACK, ~40 ms a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from typing import Protocol
from urllib.parse import urlsplit

import h11

_READ_SIZE = 65536


class UpstreamError(Exception):
    """The upstream could not be reached, or broke the exchange."""


class UpstreamTimeout(UpstreamError):
    """No response head in time: not retried, the upstream got the request."""


class RequestBody(Protocol):
    """The client's request body as the router reads it, piece by piece."""

    kept: list[bytes]
    """The pieces read so far, while they can still be replayed."""
    replayable: bool
    """False once more was read than is kept for a replay."""
    done: bool
    """True once the end of the body was read."""

    async def next_event(self) -> h11.Data | h11.EndOfMessage:
        """The next piece of the body, or its end."""
        ...


def set_nodelay(writer: asyncio.StreamWriter) -> None:
    """Turn Nagle's algorithm off on a TCP socket (a no-op on other sockets)."""
    sock = writer.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def split_url(url: str) -> tuple[str, int]:
    """``(host, port)`` of an ``http://`` URL (port 80 by default).

    >>> split_url("http://127.0.0.1:3010")
    ('127.0.0.1', 3010)
    """
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"the built-in router forwards to http://host:port URLs, not {url!r}")
    return parts.hostname, parts.port or 80


async def next_event(
    conn: h11.Connection, reader: asyncio.StreamReader, error: type[Exception]
) -> object:
    """The next h11 event, reading from the socket as needed; I/O and protocol errors raise
    ``error`` so that a client failure and an upstream failure are told apart."""
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise error(f"protocol error: {exc}") from exc
        if event is not h11.NEED_DATA:
            return event
        try:
            conn.receive_data(await reader.read(_READ_SIZE))
        except OSError as exc:
            raise error(f"read failed: {exc}") from exc


async def drain(writer: asyncio.StreamWriter, error: type[Exception]) -> None:
    """Wait until ``writer``'s buffer is flushed; a write failure raises ``error``."""
    try:
        await writer.drain()
    except OSError as exc:
        raise error(f"write failed: {exc}") from exc


class UpstreamConnection:
    """One keep-alive connection to an upstream, with its h11 client state."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.h11 = h11.Connection(h11.CLIENT)
        self.reused = False

    def send(self, event: h11.Request | h11.Data | h11.EndOfMessage) -> None:
        self.writer.write(self.h11.send(event) or b"")

    async def next_event(self) -> object:
        return await next_event(self.h11, self.reader, UpstreamError)


class Upstream:
    """An upstream URL and its pool of idle keep-alive connections."""

    def __init__(self, url: str, *, connect_timeout: float, pool_size: int) -> None:
        self.host, self.port = split_url(url)
        self.netloc = urlsplit(url).netloc
        self._connect_timeout = connect_timeout
        self._pool_size = pool_size
        self._idle: list[UpstreamConnection] = []

    async def _acquire(self) -> UpstreamConnection:
        while self._idle:
            conn = self._idle.pop()
            # The upstream may have closed an idle connection (its keep-alive timeout).
            if not (conn.reader.at_eof() or conn.writer.is_closing()):
                conn.reused = True
                return conn
            conn.writer.close()
        try:
            async with asyncio.timeout(self._connect_timeout):
                reader, writer = await asyncio.open_connection(self.host, self.port)
        except (OSError, TimeoutError) as exc:
            reason = str(exc) or type(exc).__name__
            raise UpstreamError(f"cannot connect to {self.netloc}: {reason}") from exc
        set_nodelay(writer)
        return UpstreamConnection(reader, writer)

    def release(self, conn: UpstreamConnection) -> None:
        """Pool the connection when its exchange completed cleanly, else close it."""
        if conn.h11.our_state is h11.DONE and conn.h11.their_state is h11.DONE:
            conn.h11.start_next_cycle()
            if len(self._idle) < self._pool_size:
                self._idle.append(conn)
                return
        conn.writer.close()

    async def exchange(
        self, head: h11.Request, body: RequestBody, *, timeout: float
    ) -> tuple[UpstreamConnection, h11.Response]:
        """Send the request (streaming the client's body) and wait for the response head."""
        for attempt in range(2):
            conn = await self._acquire()
            try:
                conn.send(head)
                for piece in body.kept:  # a replay after a stale pooled connection
                    conn.send(h11.Data(data=piece))
                while not body.done:
                    conn.send(await body.next_event())
                    await drain(conn.writer, UpstreamError)
                if conn.h11.our_state is h11.SEND_BODY:
                    conn.send(h11.EndOfMessage())  # the replay of a complete body
                await drain(conn.writer, UpstreamError)
                try:
                    async with asyncio.timeout(timeout):
                        return conn, await response_head(conn)
                except TimeoutError:
                    raise UpstreamTimeout(f"no response within {timeout:g}s") from None
            except UpstreamError as exc:
                conn.writer.close()
                retry = not isinstance(exc, UpstreamTimeout) and body.replayable
                if attempt == 0 and conn.reused and retry:
                    continue
                raise
            except BaseException:
                conn.writer.close()
                raise
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def close(self) -> None:
        """Close every pooled connection."""
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.writer.close()
            with contextlib.suppress(OSError):
                await conn.writer.wait_closed()


async def response_head(conn: UpstreamConnection) -> h11.Response:
    """The response head on ``conn``, skipping ``1xx`` answers (they are not forwarded)."""
    while True:
        event = await conn.next_event()
        if isinstance(event, h11.Response):
            return event
        if not isinstance(event, h11.InformationalResponse):  # 1xx are not forwarded
            raise UpstreamError(f"unexpected {type(event).__name__} instead of a response")


__all__ = [
    "RequestBody",
    "Upstream",
    "UpstreamConnection",
    "UpstreamError",
    "UpstreamTimeout",
    "drain",
    "next_event",
    "response_head",
    "set_nodelay",
    "split_url",
]
