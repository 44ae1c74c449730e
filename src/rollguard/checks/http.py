"""The ``http`` check: send one request, accept listed status codes, judge the body.

The request goes out with :class:`httpx.AsyncClient` (redirects are not followed: a 30x is a
status like any other, list it in ``status`` to accept it). ``timeout`` bounds the whole
exchange, body included. At most :data:`BODY_CAP` bytes of the body are read; expectations
see them as ``output`` (``in: output``, the default), and an expectation that needs the whole
body (``not_contains``, ``no_line_matches``, ``json``) fails on a body that was cut.

Evidence:

- ``request.json``: method, URL and headers as sent, with secrets redacted (headers whose name
  mentions auth, cookie, token, secret, password or api key; the URL's password; query
  parameters with such names) and the body's size, never its content.
- ``response.txt``: the status line, the headers (redacted the same way) and the body read.

A refused connection, a DNS failure, a timeout or an invalid URL is status ``error`` with a
summary naming the method, the URL and the cause.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable
from typing import Any

import httpx

from rollguard.checks import expect
from rollguard.checks.base import CheckContext, CheckResult, CheckStatus
from rollguard.durations import format_duration
from rollguard.plan import model

BODY_CAP = 8 * 1024 * 1024
"""Bytes of a response body kept for expectations and ``response.txt``."""

REDACTED = "REDACTED"
_SENSITIVE = ("auth", "cookie", "token", "secret", "password", "passwd", "api-key", "apikey")


def is_sensitive(name: str) -> bool:
    """Whether a header or query parameter of this name may carry a secret.

    >>> is_sensitive("Authorization"), is_sensitive("X-Api-Token"), is_sensitive("Accept")
    (True, True, False)
    """
    lowered = name.lower().replace("_", "-")
    return any(word in lowered for word in _SENSITIVE)


def redact_headers(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """``headers`` with the value of every sensitive one replaced by ``REDACTED``."""
    return [(k, REDACTED if is_sensitive(k) else v) for k, v in headers]


def redact_url(url: str) -> str:
    """``url`` without its password and the values of sensitive query parameters.

    >>> redact_url("http://bob:pw@host/x?token=abc&page=2")
    'http://bob:REDACTED@host/x?token=REDACTED&page=2'
    """
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return url
    if parsed.password:
        parsed = parsed.copy_with(username=parsed.username, password=REDACTED)
    params = parsed.params.multi_items()
    if any(is_sensitive(k) for k, _ in params):
        parsed = parsed.copy_with(params=redact_headers(params))
    return str(parsed)


class HttpCheckRunner:
    """Runs ``kind: http`` checks (see the module docstring for the exact behaviour).

    ``transport`` replaces the network, e.g. :class:`httpx.MockTransport` or
    :class:`httpx.ASGITransport` in tests.
    """

    def __init__(self, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._transport = transport

    async def run(self, spec: model.HttpCheck, ctx: CheckContext) -> CheckResult:
        """Send the request of ``spec`` and report the outcome; evidence in ``ctx.evidence_dir``."""
        started = time.monotonic()
        ctx.evidence_dir.mkdir(parents=True, exist_ok=True)
        method = spec.method.upper()
        where = f"{method} {redact_url(spec.url)}"
        evidence = ["request.json"]

        def result(status: CheckStatus, summary: str, details: list[str]) -> CheckResult:
            return CheckResult(
                name=spec.name,
                kind=spec.kind,
                status=status,
                summary=summary,
                duration=time.monotonic() - started,
                details=details,
                evidence=list(evidence),
            )

        content = spec.body.encode() if spec.body is not None else None
        if spec.json_body is not None:
            content = json.dumps(spec.json_body).encode()
        headers = dict(spec.headers)
        if spec.json_body is not None and not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
        _write_request(ctx, method=method, url=spec.url, headers=headers, content=content)

        try:
            async with (
                httpx.AsyncClient(timeout=spec.timeout, transport=self._transport) as client,
                asyncio.timeout(spec.timeout),
            ):
                request = client.build_request(method, spec.url, headers=headers, content=content)
                response = await client.send(request, stream=True)
                try:
                    body, cut = await _read_capped(response)
                finally:
                    await response.aclose()
        except (TimeoutError, httpx.TimeoutException):
            return result("error", f"{where}: timed out after {format_duration(spec.timeout)}", [])
        except httpx.ConnectError as exc:
            return result("error", f"{where}: cannot connect: {_cause(exc)}", [])
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            return result("error", f"{where}: {type(exc).__name__}: {_cause(exc)}", [])

        text = _decode(body, response)
        _write_response(ctx, response, text=text, cut=cut)
        evidence.append("response.txt")

        details: list[str] = []
        problem = ""
        if response.status_code in spec.status:
            details.append(f"ok: status {response.status_code}")
        else:
            wanted = ", ".join(str(s) for s in spec.status)
            problem = f"status {response.status_code}, expected {wanted}"
            details.append(f"FAILED: {problem}")
        if cut:
            details.append(f"body cut at {BODY_CAP} bytes")
        subject = expect.Subject(
            kind="http", streams={"output": [expect.Text("body", content=text, complete=not cut)]}
        )
        outcomes = expect.evaluate(spec.expect, subject)
        details += [line for o in outcomes for line in o.detail_lines()]
        failed = next((o for o in outcomes if not o.ok), None)
        if problem:
            return result("failed", f"{where}: {problem}", details)
        if failed is not None:
            return result("failed", f"{failed.expectation} failed: {failed.reason}", details)
        held = f", {len(outcomes)} expectation{'s' if len(outcomes) != 1 else ''} held"
        return result("passed", f"{where}: status {response.status_code}{held}", details)


async def _read_capped(response: httpx.Response) -> tuple[bytes, bool]:
    """Up to :data:`BODY_CAP` bytes of the body and whether more was left unread."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.aiter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size > BODY_CAP:
            return b"".join(chunks)[:BODY_CAP], True
    return b"".join(chunks), False


def _decode(body: bytes, response: httpx.Response) -> str:
    try:
        return body.decode(response.encoding or "utf-8", errors="replace")
    except LookupError:  # a charset Python does not know
        return body.decode("utf-8", errors="replace")


def _write_request(
    ctx: CheckContext, *, method: str, url: str, headers: dict[str, str], content: bytes | None
) -> None:
    record: dict[str, Any] = {
        "method": method,
        "url": redact_url(url),
        "headers": dict(redact_headers(headers.items())),
        "body_bytes": len(content) if content is not None else 0,
    }
    (ctx.evidence_dir / "request.json").write_text(json.dumps(record, indent=2) + "\n")


def _write_response(ctx: CheckContext, response: httpx.Response, *, text: str, cut: bool) -> None:
    lines = [f"{response.http_version} {response.status_code} {response.reason_phrase}"]
    lines += [f"{k}: {v}" for k, v in redact_headers(response.headers.multi_items())]
    lines += ["", text]
    if cut:
        lines.append(f"\n[body cut at {BODY_CAP} bytes]")
    (ctx.evidence_dir / "response.txt").write_text("\n".join(lines), encoding="utf-8")


def _cause(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


__all__ = [
    "BODY_CAP",
    "REDACTED",
    "HttpCheckRunner",
    "is_sensitive",
    "redact_headers",
    "redact_url",
]
