"""Fixtures for the check tests: a check context in a temporary folder and a real HTTP server.

The server is a few lines of asyncio on 127.0.0.1 (port chosen by the OS), so the HTTP check
is tested over real sockets without any test double.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from rollguard.checks.base import CheckContext


@pytest.fixture
def ctx(tmp_path: Path) -> CheckContext:
    base = tmp_path / "plan"
    base.mkdir()
    return CheckContext(evidence_dir=tmp_path / "evidence", base_dir=base)


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()
        return
    request_line, *header_lines = head.decode("latin-1").split("\r\n")
    method, target, _ = request_line.split(" ", 2)
    target = target.partition("?")[0]
    headers = dict(line.split(": ", 1) for line in header_lines if ": " in line)
    length = int(headers.get("Content-Length", headers.get("content-length", "0")))
    body = await reader.readexactly(length) if length else b""

    status, content_type, payload = 200, "application/json", b""
    if target == "/status":
        payload = json.dumps({"status": "ok", "build": {"runtime": "go", "workers": 4}}).encode()
    elif target == "/unavailable":
        status, content_type, payload = 503, "text/plain", b"draining\n"
    elif target == "/echo":
        echoed = {"method": method, "headers": headers, "body": body.decode()}
        payload = json.dumps(echoed).encode()
    elif target == "/logs":
        content_type = "text/plain"
        payload = b'starting\nERROR once\n{"p95": 0.18, "ok": true}\nbye\n'
    elif target == "/slow":
        await asyncio.sleep(5)
    else:
        status, content_type, payload = 404, "text/plain", b"not found\n"
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}[status]
    writer.write(
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(payload)}\r\nSet-Cookie: session=abc123\r\n"
        "Connection: close\r\n\r\n".encode()
        + payload
    )
    await writer.drain()
    writer.close()


@pytest.fixture
async def server() -> AsyncIterator[str]:
    """Base URL of a tiny HTTP server: /status, /unavailable, /echo, /logs, /slow."""
    handlers: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await _handle(reader, writer)
        finally:
            writer.close()
            handlers.discard(task)

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.close()
        for task in list(handlers):
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)
        await srv.wait_closed()
