"""A small HTTP/1.1 upstream for the backend tests, run as a real subprocess.

It is deliberately the standard library's server (keep-alive, one request per handler call),
the kind of service the router is put in front of.

Usage: ``python upstream_app.py PORT [--name NAME] [--exit-code N] [--never-healthy]``

- ``GET /status``: 200 ``ok`` (503 with ``--never-healthy``)
- ``ANY /echo...``: JSON with the name, pid, method, target, headers (case kept) and the
  length and sha256 of the body (Content-Length or chunked)
- ``GET /code/NNN``: an empty response with status NNN
- ``GET /stream``: a chunked response; sends ``first``, waits until ``/release`` is called,
  then sends ``second``
- ``GET /release``: lets a waiting ``/stream`` go on
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

NAME = os.environ.get("UPSTREAM_NAME", "upstream")
NEVER_HEALTHY = False
RELEASE = threading.Event()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        sys.stderr.write(f"{NAME}: {format % args}\n")

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length", "0")))

    def _send(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Upstream", NAME)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self) -> None:
        body = self._read_body()
        if self.path == "/status":
            self._send(503 if NEVER_HEALTHY else 200, b"ok")
        elif self.path.startswith("/echo"):
            doc = {
                "name": NAME,
                "pid": os.getpid(),
                "method": self.command,
                "target": self.path,
                "headers": list(self.headers.items()),
                "body_len": len(body),
                "body_sha256": hashlib.sha256(body).hexdigest(),
            }
            self._send(200, json.dumps(doc).encode(), "application/json")
        elif self.path.startswith("/code/"):
            self._send(int(self.path.rsplit("/", 1)[1]), b"")
        elif self.path == "/release":
            RELEASE.set()
            self._send(200, b"released")
        elif self.path == "/stream":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("X-Upstream", NAME)
            self.end_headers()
            self._chunk(b"first\n")
            RELEASE.wait(timeout=30)
            RELEASE.clear()
            self._chunk(b"second\n")
            self._chunk(b"")
        else:
            self._send(404, b"not found")

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _handle


def main(argv: list[str]) -> int:
    global NAME, NEVER_HEALTHY
    port = int(argv[0])
    if "--name" in argv:
        NAME = argv[argv.index("--name") + 1]
    if "--exit-code" in argv:
        print(f"{NAME}: boom, missing configuration", file=sys.stderr, flush=True)
        return int(argv[argv.index("--exit-code") + 1])
    NEVER_HEALTHY = "--never-healthy" in argv
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print(f"{NAME}: listening on {port}", file=sys.stderr, flush=True)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
