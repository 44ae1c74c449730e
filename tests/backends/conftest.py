"""Fixtures for the local backend tests: real upstream processes and an HTTP client."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.backends.servers import Upstream, start_upstream, stop_upstream


@pytest.fixture(scope="module")
def upstreams() -> Iterator[dict[str, Upstream]]:
    """A stable and a candidate upstream process, shared by a test module."""
    started = {name: start_upstream(name) for name in ("stable", "candidate")}
    yield started
    for upstream in started.values():
        stop_upstream(upstream)


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=20) as c:
        yield c
