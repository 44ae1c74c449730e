"""Deliver an incident to every sink of the plan: concurrently, with retries, never raising.

Rules, in the order they apply to one sink:

1. the sink's ``${...}`` templates are filled in (``${env.NAME}``, ``${run.id}``,
   ``${run.dir}``); a missing environment variable is a failed result, not an exception;
2. its notifier comes from :data:`rollguard.notify.registry.notifiers` by ``kind``;
3. it gets ``1 + retries`` attempts of at most ``timeout`` seconds each; between attempts it
   waits ``backoff``, doubled each time (1s, 2s, 4s, ...). Only failures that another attempt
   may cure are retried: connection errors, timeouts, 5xx and 429. Any other 4xx means the
   request is wrong and is reported at once;
4. whatever happens, including a bug in a third-party notifier, becomes a
   :class:`~rollguard.notify.base.SinkResult`; its ``detail`` is scrubbed of the sink's
   secrets (the URL, header values, the token) once more before it is returned.

Sinks run side by side, so a slow or dead sink delays the others only by its own budget and
never prevents their delivery. ``sleep`` is injected so tests run the backoff instantly and
can check the delays asked for.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import httpx
import pydantic

from rollguard import errors
from rollguard.notify import base
from rollguard.notify.registry import notifiers
from rollguard.plan import templates
from rollguard.plugin import Registry

Sleep = Callable[[float], Awaitable[Any]]


async def deliver(
    sinks: Iterable[base.SinkSpec],
    incident: dict[str, Any],
    *,
    sleep: Sleep = asyncio.sleep,
    env: Mapping[str, str] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    registry: Registry[base.NotifierFactory] | None = None,
) -> list[base.SinkResult]:
    """Send ``incident`` to every sink; one result per sink, in the order given.

    ``env`` defaults to the process environment (tokens and ``${env.NAME}`` come from it);
    ``transport`` reaches every notifier (``httpx.MockTransport`` in an embedder's tests).

    >>> import asyncio
    >>> asyncio.run(deliver([], {"rollout_id": "r1"}))
    []
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    context = {
        "run.id": str(incident.get("rollout_id", "")),
        "run.dir": str(incident.get("run_dir", "")),
    }
    jobs = [
        _deliver_one(
            spec,
            incident,
            context=context,
            env=environ,
            sleep=sleep,
            transport=transport,
            registry=registry or notifiers,
        )
        for spec in sinks
    ]
    return list(await asyncio.gather(*jobs))


async def _deliver_one(
    spec: base.SinkSpec,
    incident: dict[str, Any],
    *,
    context: Mapping[str, str],
    env: Mapping[str, str],
    sleep: Sleep,
    transport: httpx.AsyncBaseTransport | None,
    registry: Registry[base.NotifierFactory],
) -> base.SinkResult:
    name = base.label(spec)
    try:
        rendered = templates.render_model(spec, context, env=env)
    except errors.RollguardError as exc:  # a missing environment variable: name it, no value
        return base.SinkResult(sink=name, ok=False, detail=exc.message, attempts=0)
    except pydantic.ValidationError as exc:
        where = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        return base.SinkResult(
            sink=name,
            ok=False,
            detail=f"invalid once its templates are filled in (fields: {where})",
            attempts=0,
        )
    scrub = base.Scrubber(_secrets(spec, rendered, env))
    try:
        factory = registry.get(rendered.kind)
        notifier = factory(rendered, env=env, transport=transport)
    except Exception as exc:  # noqa: BLE001 - a broken plugin is a failed sink, not a crash
        detail = f"cannot set up the {rendered.kind} sink: {type(exc).__name__}: {exc}"
        return base.SinkResult(sink=name, ok=False, detail=scrub(detail), attempts=0)
    result = await _attempts(notifier, incident, spec=rendered, name=name, sleep=sleep)
    return base.SinkResult(
        sink=name,
        ok=result.ok,
        status=result.status,
        detail=scrub(result.detail),
        url=scrub(result.url) if result.url else None,
        attempts=result.attempts,
        retryable=result.retryable,
    )


async def _attempts(
    notifier: base.Notifier,
    incident: dict[str, Any],
    *,
    spec: base.SinkSpec,
    name: str,
    sleep: Sleep,
) -> base.SinkResult:
    total = 1 + spec.retries
    delay = spec.backoff
    for attempt in range(1, total + 1):
        result = await _attempt(notifier, incident, name=name, timeout=spec.timeout)
        if result.ok or not result.retryable:
            return result.with_attempts(attempt)
        if attempt == total:
            break
        await sleep(delay)
        delay *= 2
    gave_up = f"{result.detail} (gave up after {total} attempt{'s' if total > 1 else ''})"
    return base.SinkResult(
        sink=name,
        ok=False,
        status=result.status,
        detail=gave_up,
        attempts=total,
        retryable=True,
    )


async def _attempt(
    notifier: base.Notifier, incident: dict[str, Any], *, name: str, timeout: float
) -> base.SinkResult:
    try:
        async with asyncio.timeout(timeout):
            return await notifier.send(incident)
    except TimeoutError:
        return base.SinkResult(
            sink=name, ok=False, detail=f"no answer within {timeout:g}s", retryable=True
        )
    except Exception as exc:  # noqa: BLE001 - a notifier bug must not stop the others
        return base.SinkResult(
            sink=name, ok=False, detail=f"the sink failed: {type(exc).__name__}: {exc}"
        )


def _secrets(raw: base.SinkSpec, rendered: base.SinkSpec, env: Mapping[str, str]) -> list[str]:
    """Strings a result must not show: what templates brought in, URLs, header values, token."""
    before = set(_strings(raw.model_dump()))
    found = [s for s in _strings(rendered.model_dump()) if s not in before]
    url = str(getattr(rendered, "url", "") or "")
    if url:  # the URL, also without credentials, its path and password: each may be a key
        found += [url, *_url_forms(url)]
    found += [str(v) for v in (getattr(rendered, "headers", None) or {}).values()]
    token_env = getattr(rendered, "token_env", None)
    if token_env:
        found.append(env.get(token_env, ""))
    return found


def _url_forms(url: str) -> list[str]:
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return []
    bare = parsed.copy_with(username=None, password=None)
    return [str(bare), bare.raw_path.decode("ascii", "replace"), parsed.password or ""]


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _strings(v)


__all__ = ["Sleep", "deliver"]
