"""Steady background load for the chat demo, so a rollout has traffic to judge.

    python examples/chat/traffic.py --url http://127.0.0.1:8000 --rate 40

It first creates a few threads (retrying until the service answers), then --connections
workers, each with its own keep-alive connection, send --rate requests per second between
them: 50% GET /threads/{id}/messages, 25% POST /threads/{id}/messages, 25% GET /threads.

Pacing is open-loop-ish: every worker owns a fixed schedule of send times and does not wait
for a slow answer to "make up" for it later beyond one second of backlog, so a slow build
shows up as latency instead of silently lowering the load. Transport errors drop the
connection and the next slot reconnects, which rides out a restarting router.

Runs for --duration seconds or until SIGTERM/SIGINT, then prints one JSON line on stdout:

    {"sent": 1200, "errors": 3, "duration_s": 30.0, "rate_rps": 40.0,
     "statuses": {"200": 890, "201": 307, "error": 3}}

`errors` counts requests without an answer or with a non-2xx status. Exit status 0.
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import threading
import time
from collections import Counter
from typing import Any

from chat_client import ChatClient, Response, TransportError

MAX_BACKLOG_S = 1.0
SETUP_RETRY_S = 0.5


class Traffic:
    def __init__(self, *, url: str, rate: float, connections: int, timeout: float) -> None:
        self.url = url
        self.rate = rate
        self.connections = connections
        self.timeout = timeout
        self.stop = threading.Event()
        self.statuses: Counter[str] = Counter()
        self.errors = 0
        self._lock = threading.Lock()
        self.thread_ids: list[int] = []

    def record(self, answer: Response | None) -> None:
        with self._lock:
            if answer is None:
                self.statuses["error"] += 1
                self.errors += 1
                return
            self.statuses[str(answer.status)] += 1
            if not answer.ok:
                self.errors += 1

    def send(self, client: ChatClient, method: str, path: str, body: Any = None) -> Response | None:
        try:
            answer: Response | None = client.request(method, path, body)
        except TransportError:
            answer = None
        self.record(answer)
        return answer

    def create_threads(self, count: int) -> None:
        client = ChatClient(self.url, timeout=self.timeout)
        try:
            while len(self.thread_ids) < count and not self.stop.is_set():
                title = f"traffic {len(self.thread_ids) + 1}"
                answer = self.send(client, "POST", "/threads", {"title": title})
                if answer is not None and answer.status == 201 and isinstance(answer.data, dict):
                    self.thread_ids.append(int(answer.data["id"]))
                else:
                    self.stop.wait(SETUP_RETRY_S)
        finally:
            client.close()

    def worker(self, index: int) -> None:
        rng = random.Random()
        client = ChatClient(self.url, timeout=self.timeout)
        interval = self.connections / self.rate
        next_at = time.monotonic() + index * interval / self.connections
        try:
            while not self.stop.wait(max(next_at - time.monotonic(), 0.0)):
                thread_id = rng.choice(self.thread_ids)
                roll = rng.random()
                if roll < 0.5:
                    self.send(client, "GET", f"/threads/{thread_id}/messages?limit=20")
                elif roll < 0.75:
                    body = {"author": f"traffic-{index}", "body": f"hello {rng.randrange(10**6)}"}
                    self.send(client, "POST", f"/threads/{thread_id}/messages", body)
                else:
                    self.send(client, "GET", "/threads?limit=20")
                next_at += interval
                now = time.monotonic()
                if now - next_at > MAX_BACKLOG_S:
                    next_at = now
        finally:
            client.close()

    def run(self, *, threads: int, duration: float | None) -> float:
        started = time.monotonic()
        if duration is not None:
            timer = threading.Timer(duration, self.stop.set)
            timer.daemon = True
            timer.start()
        self.create_threads(threads)
        workers = [
            threading.Thread(target=self.worker, args=(index,), daemon=True)
            for index in range(self.connections)
        ]
        if self.thread_ids:
            for worker in workers:
                worker.start()
        # Wait in short slices so signal handlers run promptly in the main thread.
        while not self.stop.wait(0.2):
            pass
        for worker in workers:
            if worker.is_alive():
                worker.join(self.timeout + 1)
        return time.monotonic() - started


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Steady mixed read/write load on the chat API until stopped.",
        epilog="Stops on SIGTERM/SIGINT or after --duration; prints a JSON summary; exit 0.",
    )
    parser.add_argument("--url", required=True, help="service or router base URL")
    parser.add_argument("--rate", type=float, default=40.0, help="requests/s (default 40)")
    parser.add_argument("--duration", type=float, help="seconds (default: until signalled)")
    parser.add_argument(
        "--connections", type=int, default=4, help="keep-alive connections (default 4)"
    )
    parser.add_argument("--threads", type=int, default=3, help="threads to create (default 3)")
    parser.add_argument("--timeout", type=float, default=5.0, help="per request, seconds")
    args = parser.parse_args(argv)
    if args.rate <= 0 or args.connections < 1 or args.threads < 1:
        parser.error("--rate must be positive, --connections and --threads at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    traffic = Traffic(
        url=args.url, rate=args.rate, connections=args.connections, timeout=args.timeout
    )

    def request_stop(signum: int, _frame: object) -> None:
        traffic.stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    elapsed = traffic.run(threads=args.threads, duration=args.duration)
    sent = sum(traffic.statuses.values())
    summary = {
        "sent": sent,
        "errors": traffic.errors,
        "duration_s": round(elapsed, 3),
        "rate_rps": round(sent / elapsed, 1) if elapsed > 0 else 0.0,
        "statuses": dict(sorted(traffic.statuses.items())),
    }
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
