"""Bench harness for the chat API (the runbook's `threads_bench.js`).

    python examples/chat/bench.py --url http://127.0.0.1:3011 --requests 600 --concurrency 8 \\
        --p95-target-ms 50

Before measuring it creates one thread per worker. Then --concurrency workers, each with its
own keep-alive connection, share --requests requests in a fixed mix: 40% GET /threads,
30% POST /threads/{id}/messages, 30% GET /threads/{id}/messages. A request is an error when
it gets no answer or a non-2xx status; percentiles are over every answered request.

Prints one JSON line on stdout:

    {"requests": 600, "errors": 0, "error_ratio": 0.0, "p50_ms": 5.6, "p95_ms": 8.1,
     "p99_ms": 9.3, "throughput_rps": 1010.4, "concurrency": 8, "duration_s": 0.59,
     "statuses": {"200": 420, "201": 180}}

Exit status: 0 normally; 1 when --p95-target-ms is given and p95 exceeds it; 2 when the bench
could not run at all (service unreachable, setup failed, bad usage).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import sys
import threading
import time
from collections import Counter
from typing import Any

from chat_client import ChatClient, TransportError

SETUP_ATTEMPTS = 20
MIX = (("list_threads", 40), ("post_message", 30), ("list_messages", 30))


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile of an ascending list; 0.0 for an empty one.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 0.5)
    2.0
    """
    if not sorted_values:
        return 0.0
    rank = max(math.ceil(fraction * len(sorted_values)), 1)
    return sorted_values[rank - 1]


class Bench:
    def __init__(self, *, url: str, requests: int, concurrency: int, timeout: float) -> None:
        self.url = url
        self.total = requests
        self.concurrency = concurrency
        self.timeout = timeout
        self._tickets = itertools.count()
        self._lock = threading.Lock()
        self.latencies: list[float] = []
        self.statuses: Counter[str] = Counter()
        self.errors = 0

    def setup(self) -> list[int]:
        client = ChatClient(self.url, timeout=self.timeout)
        try:
            return [self._create_thread(client, index) for index in range(self.concurrency)]
        finally:
            client.close()

    @staticmethod
    def _create_thread(client: ChatClient, index: int) -> int:
        # A faulty build answers some requests 500; retry so the bench measures the fault
        # instead of failing to start.
        for _ in range(SETUP_ATTEMPTS):
            answer = client.request("POST", "/threads", {"title": f"bench {index}"})
            if answer.status == 201 and isinstance(answer.data, dict):
                return int(answer.data["id"])
            if answer.status < 500:
                break
        raise RuntimeError(f"POST /threads answered {answer.status}: {answer.data!r}")

    def worker(self, index: int, thread_id: int) -> None:
        rng = random.Random(index)
        names = [name for name, _ in MIX]
        weights = [weight for _, weight in MIX]
        client = ChatClient(self.url, timeout=self.timeout)
        try:
            while next(self._tickets) < self.total:
                kind = rng.choices(names, weights)[0]
                if kind == "list_threads":
                    method, path, body = "GET", "/threads?limit=20", None
                elif kind == "post_message":
                    body = {"author": f"bench-{index}", "body": f"bench message {rng.random()}"}
                    method, path = "POST", f"/threads/{thread_id}/messages"
                else:
                    method, path, body = "GET", f"/threads/{thread_id}/messages?limit=20", None
                self._one(client, method, path, body)
        finally:
            client.close()

    def _one(self, client: ChatClient, method: str, path: str, body: Any) -> None:
        try:
            answer = client.request(method, path, body)
        except TransportError:
            with self._lock:
                self.errors += 1
                self.statuses["error"] += 1
            return
        with self._lock:
            self.latencies.append(answer.seconds)
            self.statuses[str(answer.status)] += 1
            if not answer.ok:
                self.errors += 1

    def run(self) -> dict[str, Any]:
        thread_ids = self.setup()
        workers = [
            threading.Thread(target=self.worker, args=(index, thread_id), daemon=True)
            for index, thread_id in enumerate(thread_ids)
        ]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        duration = time.perf_counter() - started
        done = sum(self.statuses.values())
        latencies = sorted(self.latencies)
        return {
            "requests": done,
            "errors": self.errors,
            "error_ratio": round(self.errors / done, 4) if done else 0.0,
            "p50_ms": round(percentile(latencies, 0.50) * 1000, 2),
            "p95_ms": round(percentile(latencies, 0.95) * 1000, 2),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 2),
            "throughput_rps": round(done / duration, 1) if duration > 0 else 0.0,
            "concurrency": self.concurrency,
            "duration_s": round(duration, 3),
            "statuses": dict(sorted(self.statuses.items())),
        }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Bench the chat API with keep-alive connections; prints a JSON summary.",
        epilog="Exit status: 0 ran (and met --p95-target-ms if given), 1 p95 above target, "
        "2 could not run.",
    )
    parser.add_argument("--url", required=True, help="service or router base URL")
    parser.add_argument("--requests", type=int, default=300, help="total requests (default 300)")
    parser.add_argument("--concurrency", type=int, default=8, help="connections (default 8)")
    parser.add_argument("--p95-target-ms", type=float, help="exit 1 when p95 exceeds this")
    parser.add_argument("--timeout", type=float, default=10.0, help="per request, seconds")
    args = parser.parse_args(argv)
    if args.requests < 1 or args.concurrency < 1:
        parser.error("--requests and --concurrency must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    bench = Bench(
        url=args.url, requests=args.requests, concurrency=args.concurrency, timeout=args.timeout
    )
    try:
        summary = bench.run()
    except (TransportError, RuntimeError, ValueError) as exc:
        print(f"bench: could not run: {exc}", file=sys.stderr)
        return 2
    if args.p95_target_ms is not None:
        summary["p95_target_ms"] = args.p95_target_ms
        summary["p95_within_target"] = summary["p95_ms"] <= args.p95_target_ms
    print(json.dumps(summary), flush=True)
    if args.p95_target_ms is not None and not summary["p95_within_target"]:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
