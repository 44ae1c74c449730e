"""A keep-alive JSON client for the chat API, shared by contract.py, bench.py and traffic.py.

One `ChatClient` owns one HTTP/1.1 connection and is used by one thread. After any transport
error the connection is dropped and the next request opens a fresh one, so a client survives
a restarted service or router. Only reads are retried, and only once, when a reused
connection turns out to have been closed by the server while idle: retrying a POST could
store a message twice.
"""

from __future__ import annotations

import http.client
import json
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit


class TransportError(Exception):
    """The request got no HTTP response (refused, reset, timed out, malformed)."""


@dataclass(frozen=True)
class Response:
    status: int
    data: Any
    seconds: float

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class ChatClient:
    def __init__(self, url: str, *, timeout: float = 5.0) -> None:
        parts = urlsplit(url if "://" in url else f"http://{url}")
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"not an http(s) URL: {url!r}")
        self.url = url
        self._https = parts.scheme == "https"
        self._host = parts.hostname
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._timeout = timeout
        self._conn: http.client.HTTPConnection | None = None
        self._used = False

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self._timeout)
            self._used = False
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def request(self, method: str, path: str, body: Any = None) -> Response:
        """Send one request and read the whole answer; JSON bodies are decoded.

        >>> ChatClient("http://127.0.0.1:8080").request("GET", "/status")  # doctest: +SKIP
        Response(status=200, data={'status': 'ok', ...}, seconds=0.0012)
        """
        retry_allowed = method == "GET"
        while True:
            reused = self._conn is not None and self._used
            try:
                return self._send(method, path, body)
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                stale = isinstance(
                    exc, (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError)
                )
                if retry_allowed and reused and stale:
                    retry_allowed = False
                    continue
                raise TransportError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc

    def _send(self, method: str, path: str, body: Any) -> Response:
        conn = self._connection()
        headers = {"Accept": "application/json"}
        payload = None
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        started = time.perf_counter()
        conn.request(method, self._prefix + path, body=payload, headers=headers)
        answer = conn.getresponse()
        raw = answer.read()
        seconds = time.perf_counter() - started
        self._used = True
        if answer.will_close:
            self.close()
        data: Any = raw
        if answer.getheader("Content-Type", "").startswith("application/json"):
            try:
                data = json.loads(raw)
            except ValueError:
                data = raw
        return Response(status=answer.status, data=data, seconds=seconds)
