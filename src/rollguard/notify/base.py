"""Incident sinks: the :class:`Notifier` interface and the :class:`SinkResult` of a delivery.

A notifier sends one incident to one place (a webhook, a GitHub issue, a Slack channel) in
**one attempt** and reports how it went; it never raises for a delivery problem. Retrying,
backoff, the per-attempt time limit and running sinks side by side belong to
:func:`rollguard.notify.deliver.deliver`, so a new sink is one small class.

A notifier is built by a :class:`NotifierFactory` (its class, in practice) from a sink spec
whose ``${...}`` templates are already filled in, so its URL and headers may hold secrets.
Hence the one rule every notifier keeps: a :class:`SinkResult` never carries a token, a
webhook URL or a URL password. :class:`Scrubber` removes the secrets a notifier knows of and
any ``user:password@`` from text taken from a response or an exception.

``retryable`` tells :func:`deliver` whether another attempt may succeed: connection errors,
timeouts, 5xx and 429 may; any other 4xx will not (the request itself is wrong).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any, Protocol

import httpx

from rollguard.plan import model

SinkSpec = model.AnySink
"""A sink of the plan's ``incident.sinks`` (webhook, github or slack)."""

_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s:@]*:[^/\s@]*@")
MAX_DETAIL = 300  # characters of a response body kept in a result's detail


@dataclass(frozen=True)
class SinkResult:
    """What one sink did with an incident (after every attempt, when returned by deliver).

    ``status`` is the last HTTP status (None: no response); ``url`` is where people can see
    the delivered incident, when the sink creates something (a GitHub issue's page).
    """

    sink: str
    ok: bool
    status: int | None = None
    detail: str = ""
    url: str | None = None
    attempts: int = 1
    retryable: bool = False

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (for the event that records the delivery)."""
        return asdict(self)

    def with_attempts(self, attempts: int) -> SinkResult:
        return replace(self, attempts=attempts)


class Notifier(Protocol):
    """Sends an incident to one sink."""

    async def send(self, incident: dict[str, Any]) -> SinkResult:
        """Make one delivery attempt and describe its outcome; never raise for a failure."""
        ...


class NotifierFactory(Protocol):
    """Builds the notifier of one sink spec (templates filled in)."""

    def __call__(
        self,
        spec: Any,
        *,
        env: Mapping[str, str],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> Notifier:
        """``env``: the environment (tokens are read from it); ``transport``: for embedders."""
        ...


def redact_userinfo(text: str) -> str:
    """``text`` with the ``user:password@`` of every URL in it replaced by ``***@``.

    >>> redact_userinfo("POST https://bot:s3cret@hooks.example.com/x failed")
    'POST https://***@hooks.example.com/x failed'
    """
    return _USERINFO.sub(r"\1***@", text)


class Scrubber:
    """Removes known secrets (and URL passwords) from text that goes into a result.

    >>> Scrubber(["tok123456"])("bad token tok123456")
    'bad token ***'
    """

    def __init__(self, secrets: Iterable[str | None]) -> None:
        # Longest first, so a secret that contains another one is removed whole.
        self._secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return redact_userinfo(text)


def label(spec: Any) -> str:
    """How a sink is named in results: its ``name:``, else its kind."""
    return str(getattr(spec, "name", None) or getattr(spec, "kind", "sink"))


def host_of(url: str) -> str:
    """The host of ``url`` (safe to show: no path, query or credentials)."""
    try:
        return httpx.URL(url).host or "?"
    except (httpx.InvalidURL, TypeError):
        return "?"


async def post_json(
    url: str,
    payload: Any,
    *,
    headers: Mapping[str, str],
    timeout: float,
    transport: httpx.AsyncBaseTransport | None,
) -> httpx.Response:
    """POST ``payload`` as JSON; transport errors propagate (see :func:`transport_failure`)."""
    async with httpx.AsyncClient(timeout=timeout, transport=transport) as client:
        return await client.post(url, json=payload, headers=dict(headers))


async def post_attempt(
    sink: str,
    url: str,
    *,
    payload: Any,
    headers: Mapping[str, str],
    timeout: float,
    transport: httpx.AsyncBaseTransport | None,
    scrub: Scrubber,
    refused: str,
    accepted: Callable[[httpx.Response], bool] = lambda response: response.is_success,
) -> httpx.Response | SinkResult:
    """One POST of ``payload`` as JSON: the response when the sink ``accepted`` it, else the
    failed result (:func:`transport_failure` without a response, :func:`http_failure` with
    ``refused`` as its ``what`` when the response is not accepted; any 2xx by default).

    Example::

        answer = await post_attempt(name, url, payload=body, headers={}, timeout=5.0,
                                    transport=None, scrub=scrub, refused="Slack refused")
        if isinstance(answer, SinkResult):
            return answer  # the failure, already described
    """
    try:
        response = await post_json(
            url, payload, headers=headers, timeout=timeout, transport=transport
        )
    except httpx.HTTPError as exc:
        return transport_failure(sink, exc, scrub=scrub, timeout=timeout)
    if not accepted(response):
        return http_failure(sink, response, scrub=scrub, what=refused)
    return response


def transport_failure(sink: str, exc: Exception, *, scrub: Scrubber, timeout: float) -> SinkResult:
    """The result of an attempt that got no response (retryable)."""
    if isinstance(exc, httpx.TimeoutException):
        detail = f"no answer within {timeout:g}s ({type(exc).__name__})"
    else:
        detail = f"cannot reach the sink: {type(exc).__name__}: {scrub(str(exc)) or 'no detail'}"
    return SinkResult(sink=sink, ok=False, detail=detail, retryable=True)


def http_failure(sink: str, response: httpx.Response, *, scrub: Scrubber, what: str) -> SinkResult:
    """The result of an attempt answered with an error status (or an unexpected body)."""
    status = response.status_code
    body = scrub(" ".join(response.text.split()))[:MAX_DETAIL]
    detail = f"{what}: HTTP {status}" + (f": {body}" if body else "")
    return SinkResult(
        sink=sink,
        ok=False,
        status=status,
        detail=detail,
        retryable=status >= 500 or status == 429,
    )


__all__ = [
    "Notifier",
    "NotifierFactory",
    "Scrubber",
    "SinkResult",
    "SinkSpec",
    "host_of",
    "http_failure",
    "label",
    "post_attempt",
    "post_json",
    "redact_userinfo",
    "transport_failure",
]
