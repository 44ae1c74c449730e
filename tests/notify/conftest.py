"""Fixtures for the sink tests: a real recording HTTP receiver and an incident to send."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from tests.notify.receiver import Receiver

TOKEN = "ghp_test_token_0123456789abcdef"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A :class:`Receiver` listening on 127.0.0.1 (a port the OS picked)."""
    rec = Receiver()
    handlers: set[asyncio.Task[None]] = set()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        handlers.add(task)
        try:
            await rec.handle(reader, writer)
        finally:
            writer.close()
            handlers.discard(task)

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    rec.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    try:
        yield rec
    finally:
        rec.stop()
        server.close()
        await asyncio.gather(*handlers, return_exceptions=True)
        await server.wait_closed()


@pytest.fixture
def incident() -> dict[str, Any]:
    """The shape :func:`rollguard.evidence.incident.build_incident` returns, abridged."""
    return {
        "schema": "rollguard.incident/v1",
        "title": "Rollback of services/chat (go -> node): trigger '5xx-rate' fired",
        "summary": "services/chat: rollout r1 rolled back from go to node: 5xx-rate fired",
        "rollout_id": "r1",
        "plan_name": "chat-node-to-go",
        "service": "services/chat",
        "stable": {"version": "node", "image": "registry/chat:node-1.8.2"},
        "candidate": {"version": "go", "image": "registry/chat:go-3f9c2e1"},
        "outcome": "rolled_back",
        "reason": {"kind": "trigger", "text": "trigger '5xx-rate' fired: 2.00% > max 0.50%"},
        "verification": {"passed": True, "text": "passed", "results": []},
        "run_dir": "/var/lib/rollguard/runs/r1",
        "artifacts": [{"path": "events.jsonl", "bytes": 10}],
        "markdown": "# Rollback of services/chat\n\n> trigger '5xx-rate' fired <b>\n",
    }
