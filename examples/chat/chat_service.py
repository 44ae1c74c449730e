"""The example chat service that rollguard's demo rolls out.

One program plays both builds of the runbook: the stable build ("node") and the candidate
("go") differ only by their `--version` label and by the faults switched on through the
environment. Both keep their threads and messages in one shared SQLite file.

    python examples/chat/chat_service.py --port 3010 --version node --db /tmp/chat.db
    CHAT_FAULT_5XX=0.3 python examples/chat/chat_service.py --port 3011 --version go \\
        --db /tmp/chat.db

Endpoints: GET /status (the health check, never faulted), GET|POST /threads,
GET|POST /threads/{id}/messages, GET /metrics (Prometheus text format).

Every API request sleeps a random 0.5x-1.5x of CHAT_WORK_MS (default 5 ms) so the latency
distribution is realistic and the same for both builds unless a fault changes it.

Fault switches (environment, all off by default):

    CHAT_FAULT_5XX=0.3            that fraction of API requests answer 500
    CHAT_FAULT_LATENCY=0.2        seconds added to API requests
    CHAT_FAULT_LATENCY_RATIO=1.0  fraction of API requests slowed (default all)
    CHAT_FAULT_DROP_WRITES=1      POST message answers 201 but nothing is stored
    CHAT_FAULT_AFTER=10           seconds after start before any fault begins

Logs go to stderr: startup, faults and write failures only, one line each, as
`<UTC time> chat[<version>] <LEVEL> <topic>: <text>`, for example
`2025-01-01T12:00:00.000Z chat[go] ERROR persistence: dropped write of message 42 in thread 7`.

HTTP/1.1 keep-alive with small responses is the classic Nagle + delayed-ACK trap (each
request stalls ~40 ms): accepted sockets get TCP_NODELAY and each response leaves in a
single write.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import signal
import sqlite3
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from chat_metrics import Metrics, create_metrics
from chat_store import ChatStore, ThreadNotFound

MESSAGES_ROUTE = re.compile(r"^/threads/(\d+)/messages$")
DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_TEXT = 10_000
IDLE_CONNECTION_TIMEOUT_S = 60


def log(version: str, level: str, topic: str, text: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    sys.stderr.write(f"{stamp} chat[{version}] {level} {topic}: {text}\n")
    sys.stderr.flush()


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return float(raw)
    except ValueError:
        raise SystemExit(f"{name} must be a number, got {raw!r}") from None


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class Faults:
    error_ratio: float = 0.0
    latency_s: float = 0.0
    latency_ratio: float = 1.0
    drop_writes: bool = False
    after_s: float = 0.0

    @classmethod
    def from_env(cls) -> Faults:
        return cls(
            error_ratio=min(max(_env_float("CHAT_FAULT_5XX", 0.0), 0.0), 1.0),
            latency_s=max(_env_float("CHAT_FAULT_LATENCY", 0.0), 0.0),
            latency_ratio=min(max(_env_float("CHAT_FAULT_LATENCY_RATIO", 1.0), 0.0), 1.0),
            drop_writes=_env_flag("CHAT_FAULT_DROP_WRITES"),
            after_s=max(_env_float("CHAT_FAULT_AFTER", 0.0), 0.0),
        )

    @property
    def any(self) -> bool:
        return self.error_ratio > 0 or self.latency_s > 0 or self.drop_writes

    def describe(self) -> str:
        parts = []
        if self.error_ratio > 0:
            parts.append(f"5xx={self.error_ratio:g}")
        if self.latency_s > 0:
            parts.append(f"latency={self.latency_s:g}s ratio={self.latency_ratio:g}")
        if self.drop_writes:
            parts.append("drop_writes=on")
        return " ".join(parts) if parts else "none"


class HttpError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ChatApp:
    """Routing, simulated work, faults and metrics; knows nothing about sockets."""

    def __init__(self, *, store: ChatStore, version: str, faults: Faults, work_ms: float) -> None:
        self.store = store
        self.version = version
        self.faults = faults
        self.work_s = max(work_ms, 0.0) / 1000
        self.metrics: Metrics = create_metrics(version)
        self.started = time.monotonic()
        self._random = random.Random()
        self._fake_ids_lock = threading.Lock()
        self._last_fake_id = 0

    def faults_active(self) -> bool:
        return self.faults.any and time.monotonic() - self.started >= self.faults.after_s

    def handle(self, method: str, target: str, body: bytes) -> tuple[int, str, bytes]:
        """Answer one request: (status, content type, body). Records the metrics."""
        started = time.perf_counter()
        url = urlsplit(target)
        route = self._route_of(url.path)
        try:
            if route == "/status":
                status, payload = 200, self._status()
            elif route == "/metrics":
                self._require(method, "GET")
                status, content_type, raw = 200, self.metrics.content_type, self.metrics.render()
                self._observe(method, route, status, started)
                return status, content_type, raw
            elif route == "other":
                raise HttpError(404, f"no route for {url.path}")
            else:
                status, payload = self._api(method, route, url.path, url.query, body)
        except HttpError as exc:
            status, payload = exc.status, {"error": str(exc)}
        except sqlite3.Error as exc:
            log(self.version, "ERROR", "persistence", f"{method} {url.path} failed: {exc}")
            status, payload = 500, {"error": "storage failure"}
        self._observe(method, route, status, started)
        return status, "application/json", json.dumps(payload).encode()

    @staticmethod
    def _route_of(path: str) -> str:
        if path in ("/status", "/metrics", "/threads"):
            return path
        if MESSAGES_ROUTE.match(path):
            return "/threads/{id}/messages"
        return "other"

    @staticmethod
    def _require(method: str, *allowed: str) -> None:
        if method not in allowed:
            raise HttpError(405, f"method {method} not allowed")

    def _observe(self, method: str, route: str, status: int, started: float) -> None:
        seconds = time.perf_counter() - started
        self.metrics.observe_request(method=method, route=route, status=status, seconds=seconds)

    def _status(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "version": self.version,
            "uptime_s": round(time.monotonic() - self.started, 3),
            "faults_active": self.faults_active(),
        }

    def _api(self, method: str, route: str, path: str, query: str, body: bytes) -> tuple[int, Any]:
        self._require(method, "GET", "POST")
        time.sleep(self.work_s * self._random.uniform(0.5, 1.5))
        faulty = self.faults_active()
        if faulty and self.faults.latency_s > 0:
            if self._random.random() < self.faults.latency_ratio:
                time.sleep(self.faults.latency_s)
        if faulty and self.faults.error_ratio > 0:
            if self._random.random() < self.faults.error_ratio:
                # Logged like a real service logs its 500s: the time of each faulty response
                # is evidence (tests measure how soon after the first one a rollback starts).
                log(self.version, "ERROR", "http", f"500 {method} {path}: injected fault")
                return 500, {"error": "injected fault (CHAT_FAULT_5XX)"}
        limit = _limit(query)
        if route == "/threads":
            if method == "GET":
                return 200, self.store.list_threads(limit)
            title = _text_field(_json_object(body), "title", max_len=200)
            return 201, self.store.create_thread(title)
        match = MESSAGES_ROUTE.match(path)
        assert match is not None
        thread_id = int(match.group(1))
        if method == "GET":
            messages = self.store.list_messages(thread_id, limit)
            if messages is None:
                raise HttpError(404, f"thread {thread_id} not found")
            return 200, messages
        fields = _json_object(body)
        author = _text_field(fields, "author", max_len=200)
        text = _text_field(fields, "body", max_len=MAX_TEXT)
        if faulty and self.faults.drop_writes:
            return 201, self._drop_write(thread_id, author, text)
        try:
            return 201, self.store.add_message(thread_id, author, text)
        except ThreadNotFound:
            raise HttpError(404, f"thread {thread_id} not found") from None

    def _drop_write(self, thread_id: int, author: str, text: str) -> dict[str, Any]:
        """Acknowledge a message as if stored and lose it: the bug the contract must catch."""
        if not self.store.thread_exists(thread_id):
            raise HttpError(404, f"thread {thread_id} not found")
        # Ids look like real ones: after the stored messages and never handed out twice.
        with self._fake_ids_lock:
            message_id = max(self.store.next_message_id(), self._last_fake_id + 1)
            self._last_fake_id = message_id
        self.metrics.dropped_write()
        log(
            self.version,
            "ERROR",
            "persistence",
            f"dropped write of message {message_id} in thread {thread_id}",
        )
        return {
            "id": message_id,
            "thread_id": thread_id,
            "author": author,
            "body": text,
            "created_at": time.time(),
        }


def _limit(query: str) -> int:
    raw = parse_qs(query).get("limit", [""])[0]
    if not raw:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise HttpError(400, f"limit must be an integer from 1 to {MAX_LIMIT}")
    return int(raw)


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        value = json.loads(body or b"null")
    except ValueError:
        raise HttpError(400, "body is not valid JSON") from None
    if not isinstance(value, dict):
        raise HttpError(400, "body must be a JSON object")
    return value


def _text_field(fields: dict[str, Any], name: str, *, max_len: int) -> str:
    value = fields.get(name)
    if not isinstance(value, str) or not value.strip():
        raise HttpError(400, f"{name!r} must be a non-empty string")
    if len(value) > max_len:
        raise HttpError(400, f"{name!r} is longer than {max_len} characters")
    return value


class ChatHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # StreamRequestHandler.setup() sets TCP_NODELAY on the accepted socket when this is True.
    disable_nagle_algorithm = True
    # Buffer writes so headers and body leave together; handle_one_request flushes.
    wbufsize = 64 * 1024
    timeout = IDLE_CONNECTION_TIMEOUT_S
    server_version = "chat-example"
    app: ChatApp

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        status, content_type, payload = self.app.handle(self.command, self.path, body)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the per-request access log: only startup, faults and failures are logged."""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Example chat service (threads and messages in SQLite) for rollguard's demo.",
        epilog="Faults: CHAT_FAULT_5XX, CHAT_FAULT_LATENCY, CHAT_FAULT_LATENCY_RATIO, "
        "CHAT_FAULT_DROP_WRITES, CHAT_FAULT_AFTER; simulated work: CHAT_WORK_MS (default 5).",
    )
    parser.add_argument("--host", default=os.environ.get("CHAT_HOST", "127.0.0.1"))
    parser.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("CHAT_PORT", "8080")),
        help="port to listen on, 0 for any free one (env CHAT_PORT, default 8080)",
    )
    parser.add_argument(
        "--version",
        default=os.environ.get("CHAT_VERSION", "dev"),
        help="build label reported by /status and on every metric (env CHAT_VERSION)",
    )
    parser.add_argument(
        "--db",
        default=os.environ.get("CHAT_DB", "chat.db"),
        help="SQLite file, shared by the builds (env CHAT_DB, default ./chat.db)",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    faults = Faults.from_env()
    work_ms = _env_float("CHAT_WORK_MS", 5.0)
    store = ChatStore(args.db)
    app = ChatApp(store=store, version=args.version, faults=faults, work_ms=work_ms)
    handler = type("BoundChatHandler", (ChatHandler,), {"app": app})
    server = ThreadingHTTPServer((args.host, args.port), handler)
    server.daemon_threads = True
    host, port = server.server_address[:2]

    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)

    version = args.version
    log(version, "INFO", "startup", f"listening on http://{host}:{port} db={args.db}")
    log(version, "INFO", "startup", f"simulated work {work_ms:g} ms (0.5x-1.5x)")
    if faults.any:
        log(version, "WARNING", "faults", f"{faults.describe()} after={faults.after_s:g}s")
        if faults.after_s > 0:
            timer = threading.Timer(
                faults.after_s,
                lambda: log(version, "WARNING", "faults", f"active now: {faults.describe()}"),
            )
            timer.daemon = True
            timer.start()
    else:
        log(version, "INFO", "faults", "none")

    serving = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2})
    serving.start()
    while not stop.wait(0.5):
        pass
    log(version, "INFO", "shutdown", "stopping")
    server.shutdown()
    serving.join()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
