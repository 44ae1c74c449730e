"""The built-in HTTP load generator of the ``bench`` check.

``concurrency`` workers share one :class:`httpx.AsyncClient` (kept-alive connections, at most
``concurrency`` of them) and send requests until ``count`` requests were sent or ``duration``
has passed.

- **Closed loop** (no ``rate``): each worker sends its next request as soon as the previous
  one is answered; latency is measured from the moment the request is sent.
- **Open loop** (``rate``): request *n* is due at ``start + n / rate`` whatever the answers;
  a free worker takes the next due slot. Latency counts from the *due* time, so a slow server
  that makes requests wait for a worker shows in the percentiles instead of hiding behind a
  lower send rate.

Each worker first sends the templates marked ``once`` (e.g. create a thread), then picks the
others in turn (each ``weight`` times in a row) or at random by ``weight`` (``pick:
weighted``, seeded). Templates use ``{{seq}}`` (the request's number in the run), ``{{worker}}``
and values captured from the worker's earlier responses (``capture: {thread: id}`` ->
``{{thread}}``). A string that is exactly one ``{{name}}`` becomes the value itself (a number
stays a number in a JSON body).

A request is an error when it gets no answer (refused, timeout), when its status is not
accepted (any 2xx/3xx by default), when a capture finds nothing, or when it names a value
no earlier response provided. Latencies are wall-clock durations: measuring a real server is
the point here, so this module reads the monotonic clock directly.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import random
import re
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from rollguard import jsonpath
from rollguard.plan import model

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class MissingValue(LookupError):
    """A template names a value that no earlier response provided."""


def render(value: Any, values: dict[str, Any]) -> Any:
    """``value`` with ``{{name}}`` placeholders filled from ``values`` (recursively).

    >>> render({"body": "m{{seq}}", "thread_id": "{{thread}}"}, {"seq": 3, "thread": 7})
    {'body': 'm3', 'thread_id': 7}
    """
    if isinstance(value, str):
        whole = _PLACEHOLDER.fullmatch(value)
        if whole is not None:
            return _lookup(whole.group(1), values)
        return _PLACEHOLDER.sub(lambda m: str(_lookup(m.group(1), values)), value)
    if isinstance(value, dict):
        return {k: render(v, values) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, values) for v in value]
    return value


def _lookup(name: str, values: dict[str, Any]) -> Any:
    if name not in values:
        raise MissingValue(name)
    return values[name]


def percentile(ordered: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of an ascending, non-empty sequence.

    >>> percentile([1.0, 2.0, 3.0, 4.0], 0.5), percentile([1.0, 2.0, 3.0, 4.0], 0.95)
    (2.0, 4.0)
    """
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass
class LoadResult:
    """What a load run measured."""

    duration: float = 0.0  # seconds from the first request to the last answer
    latencies_ms: list[float] = field(default_factory=list)  # one per answered request
    outcomes: Counter[str] = field(default_factory=Counter)  # "200", "error:ConnectError"...
    per_template: Counter[str] = field(default_factory=Counter)  # "POST /threads" -> count
    requests: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)  # a few messages, for evidence

    def summary(self) -> dict[str, float]:
        """The bench results: percentiles (ms), ``rps``, ``error_ratio`` and counts."""
        out: dict[str, float] = {"requests": self.requests, "errors": self.errors}
        if self.requests:
            out["error_ratio"] = self.errors / self.requests
        if self.duration > 0:
            out["rps"] = self.requests / self.duration
        ordered = sorted(self.latencies_ms)
        if ordered:
            for name, fraction in (("p50", 0.5), ("p90", 0.9), ("p95", 0.95), ("p99", 0.99)):
                out[f"{name}_ms"] = percentile(ordered, fraction)
            out["mean_ms"] = sum(ordered) / len(ordered)
            out["max_ms"] = ordered[-1]
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "summary": self.summary(),
            "duration": round(self.duration, 3),
            "outcomes": dict(sorted(self.outcomes.items())),
            "per_template": dict(self.per_template),
            "error_samples": self.error_samples,
        }


class _Schedule:
    """Hands out request numbers (and due times, in open loop) until the run is over."""

    def __init__(self, spec: model.BenchCheck, start: float) -> None:
        self._numbers = itertools.count()
        self._count = spec.count
        self._stop_at = start + spec.duration if spec.duration is not None else None
        self._rate = spec.rate
        self._start = start

    def claim(self) -> tuple[int, float | None] | None:
        """The next request's number and due time (None: send now); None when done."""
        number = next(self._numbers)
        if self._count is not None and number >= self._count:
            return None
        due = self._start + number / self._rate if self._rate else None
        moment = due if due is not None else time.monotonic()
        if self._stop_at is not None and moment >= self._stop_at:
            return None
        return number, due


async def run_load(
    spec: model.BenchCheck, *, transport: httpx.AsyncBaseTransport | None = None
) -> LoadResult:
    """Send the load ``spec`` describes to ``spec.url`` and measure the answers.

    Example::

        result = await run_load(spec)
        print(result.summary()["p95_ms"])
    """
    templates = list(spec.requests) or [model.BenchRequest()]
    setup = [t for t in templates if t.once]
    steady = [t for t in templates if not t.once] or setup
    result = LoadResult()
    limits = httpx.Limits(
        max_connections=spec.concurrency, max_keepalive_connections=spec.concurrency
    )
    async with httpx.AsyncClient(
        base_url=spec.url or "",
        limits=limits,
        timeout=spec.request_timeout,
        transport=transport,
    ) as client:
        start = time.monotonic()
        schedule = _Schedule(spec, start)

        async def worker(index: int) -> None:
            values: dict[str, Any] = {"worker": index}
            rng = random.Random(f"{spec.seed}:{index}")
            turns = itertools.cycle([t for t in steady for _ in range(t.weight)])
            weights = [t.weight for t in steady]
            for number in itertools.count():
                claimed = schedule.claim()
                if claimed is None:
                    return
                seq, due = claimed
                if number < len(setup):
                    template = setup[number]
                elif spec.pick == "weighted":
                    template = rng.choices(steady, weights=weights)[0]
                else:
                    template = next(turns)
                if due is not None:
                    await asyncio.sleep(max(0.0, due - time.monotonic()))
                values["seq"] = seq
                await _send(client, template, values, due=due, result=result)

        await asyncio.gather(*(worker(i) for i in range(spec.concurrency)))
        result.duration = time.monotonic() - start
    return result


async def _send(
    client: httpx.AsyncClient,
    template: model.BenchRequest,
    values: dict[str, Any],
    *,
    due: float | None,
    result: LoadResult,
) -> None:
    label = f"{template.method.upper()} {template.path}"
    result.per_template[label] += 1
    result.requests += 1
    try:
        path = render(template.path, values)
        headers = {k: str(render(v, values)) for k, v in template.headers.items()}
        body = render(template.json_body, values) if template.json_body is not None else None
    except MissingValue as exc:
        _error(result, "error:template", f"{label}: no value for {{{{{exc.args[0]}}}}}")
        return
    sent = due if due is not None else time.monotonic()
    try:
        response = await client.request(
            template.method.upper(),
            str(path),
            headers=headers,
            json=body if template.json_body is not None else None,
        )
    except httpx.HTTPError as exc:
        _error(result, f"error:{type(exc).__name__}", f"{label}: {exc or type(exc).__name__}")
        return
    result.latencies_ms.append((time.monotonic() - sent) * 1000.0)
    result.outcomes[str(response.status_code)] += 1
    accepted = template.status or []
    ok = response.status_code in accepted if accepted else 200 <= response.status_code < 400
    if not ok:
        _error(result, None, f"{label}: status {response.status_code}")
        return
    if template.capture:
        try:
            document = response.json()
        except ValueError:
            document = None
        for name, path_expr in template.capture.items():
            found = jsonpath.resolve(document, path_expr) if document is not None else None
            if found is None or found is jsonpath.MISSING:
                _error(result, "error:capture", f"{label}: nothing at {path_expr!r} to capture")
                return
            values[name] = found


def _error(result: LoadResult, outcome: str | None, message: str) -> None:
    result.errors += 1
    if outcome is not None:
        result.outcomes[outcome] += 1
    if len(result.error_samples) < 10:
        result.error_samples.append(message)


__all__ = ["LoadResult", "MissingValue", "percentile", "render", "run_load"]
