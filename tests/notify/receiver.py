"""A real HTTP receiver on 127.0.0.1 for the sink tests.

It records every request (method, path, headers, body) and answers from a script per path:
queued replies are used first, in order, then the path's standing reply (default ``200 ok``
as text, which is what a Slack incoming webhook answers). A reply may hang instead of
answering, until the receiver stops, to make a sink time out.
"""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found"}


@dataclass(frozen=True)
class Reply:
    """What the receiver answers to one request."""

    status: int = 200
    body: bytes = b"ok"
    content_type: str = "text/plain"
    hang: bool = False

    @classmethod
    def json(cls, status: int, data: Any) -> Reply:
        return cls(status, json.dumps(data).encode(), "application/json")


@dataclass(frozen=True)
class Recorded:
    """One request as received."""

    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    """The recording HTTP server; ``url`` is its base URL once started."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    _queued: dict[str, deque[Reply]] = field(default_factory=lambda: defaultdict(deque))
    _standing: dict[str, Reply] = field(default_factory=dict)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def answer(self, path: str, reply: Reply) -> None:
        """Answer every request to ``path`` with ``reply`` (after any queued replies)."""
        self._standing[path] = reply

    def queue(self, path: str, *replies: Reply) -> None:
        """Answer the next requests to ``path`` with ``replies``, in order."""
        self._queued[path].extend(replies)

    def fail_first(self, path: str, n: int, *, status: int = 500) -> None:
        self.queue(path, *[Reply(status, b"try again later")] * n)

    def to(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def _reply(self, path: str) -> Reply:
        queued = self._queued[path]
        return queued.popleft() if queued else self._standing.get(path, Reply())

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        request_line, *lines = head.decode("latin-1").split("\r\n")
        method, target, _ = request_line.split(" ", 2)
        headers = {k.lower(): v for k, _, v in (ln.partition(": ") for ln in lines if ln)}
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        path = target.partition("?")[0]
        self.requests.append(Recorded(method, path, headers, body))
        reply = self._reply(path)
        if reply.hang:
            await self._stop.wait()
            return
        reason = REASONS.get(reply.status, "Status")
        writer.write(
            f"HTTP/1.1 {reply.status} {reason}\r\nContent-Type: {reply.content_type}\r\n"
            f"Content-Length: {len(reply.body)}\r\nConnection: close\r\n\r\n".encode()
            + reply.body
        )
        await writer.drain()

    def stop(self) -> None:
        self._stop.set()
