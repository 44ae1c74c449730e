"""The ``http`` check against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rollguard.checks.base import CheckContext, CheckResult
from rollguard.checks.http import HttpCheckRunner, redact_url
from rollguard.plan import model
from tests.conftest import free_port


async def run(ctx: CheckContext, **fields: Any) -> CheckResult:
    spec = model.HttpCheck.model_validate({"name": "probe", "kind": "http", **fields})
    return await HttpCheckRunner().run(spec, ctx)


def _free_port() -> int:
    return free_port()


async def test_accepted_status_passes(ctx: CheckContext, server: str) -> None:
    result = await run(ctx, url=f"{server}/status")
    assert result.status == "passed", result
    assert result.summary == f"GET {server}/status: status 200, 0 expectations held"
    assert result.evidence == ["request.json", "response.txt"]


async def test_status_outside_the_list_fails(ctx: CheckContext, server: str) -> None:
    result = await run(ctx, url=f"{server}/unavailable")
    assert result.status == "failed"
    assert result.summary == f"GET {server}/unavailable: status 503, expected 200"
    accepted = await run(ctx, url=f"{server}/unavailable", status=[200, 503])
    assert accepted.passed
    single = await run(ctx, url=f"{server}/unavailable", status=503)
    assert single.passed


@pytest.mark.parametrize(
    ("rule", "status"),
    [
        ({"path": "status", "equals": "ok"}, "passed"),
        ({"path": "build.runtime", "equals": "node"}, "failed"),
        ({"path": "build.workers", "min": 2, "max": 8}, "passed"),
        ({"path": "build.workers", "max": 2}, "failed"),
        ({"path": "build.commit", "exists": True}, "failed"),
    ],
)
async def test_json_path_on_the_body(
    ctx: CheckContext, server: str, rule: dict[str, Any], status: str
) -> None:
    result = await run(ctx, url=f"{server}/status", expect=[{"json": rule}])
    assert result.status == status, result


async def test_contains_and_line_rules_on_the_body(ctx: CheckContext, server: str) -> None:
    passing = await run(
        ctx,
        url=f"{server}/logs",
        expect=[
            {"contains": "starting"},
            {"not_contains": "panic"},
            {"json": {"path": "p95", "max": 0.25}},
        ],
    )
    assert passing.passed, passing
    failing = await run(ctx, url=f"{server}/logs", expect=[{"no_line_matches": "^ERROR"}])
    assert failing.status == "failed"
    assert "  body:2: ERROR once" in failing.details


async def test_stream_sources_of_commands_are_refused(ctx: CheckContext, server: str) -> None:
    result = await run(ctx, url=f"{server}/status", expect=[{"contains": "ok", "in": "stderr"}])
    assert result.status == "failed"
    assert "stderr is not available for a http check" in result.summary


async def test_connection_refused_is_an_error_naming_the_url(ctx: CheckContext) -> None:
    url = f"http://127.0.0.1:{_free_port()}/status"
    result = await run(ctx, url=url)
    assert result.status == "error"
    assert result.summary.startswith(f"GET {url}: cannot connect: ")


async def test_timeout_is_an_error(ctx: CheckContext, server: str) -> None:
    result = await run(ctx, url=f"{server}/slow", timeout="300ms")
    assert result.status == "error"
    assert result.summary == f"GET {server}/slow: timed out after 300ms"


async def test_invalid_url_is_an_error(ctx: CheckContext) -> None:
    result = await run(ctx, url="127.0.0.1:1/status")
    assert result.status == "error"
    assert "UnsupportedProtocol" in result.summary


async def test_request_evidence_redacts_secrets(ctx: CheckContext, server: str) -> None:
    result = await run(
        ctx,
        method="post",
        url=f"{server}/echo?access_token=abc&page=2",
        headers={
            "Authorization": "Bearer s3cr3t",
            "Cookie": "sid=s3cr3t",
            "X-Api-Token": "s3cr3t",
            "X-Request-Id": "r-1",
        },
        json_body={"user": "bob"},
        expect=[
            {"json": {"path": "headers.Authorization", "equals": "Bearer s3cr3t"}},
            {"json": {"path": "body", "equals": '{"user": "bob"}'}},
            {"json": {"path": "method", "equals": "POST"}},
        ],
    )
    assert result.passed, result
    request_text = (ctx.evidence_dir / "request.json").read_text()
    assert "s3cr3t" not in request_text and "abc" not in request_text
    request = json.loads(request_text)
    assert request["method"] == "POST"
    assert request["headers"]["Authorization"] == "REDACTED"
    assert request["headers"]["X-Request-Id"] == "r-1"
    assert request["headers"]["Content-Type"] == "application/json"
    assert request["body_bytes"] == len('{"user": "bob"}')


async def test_response_evidence_has_status_headers_and_body(
    ctx: CheckContext, server: str
) -> None:
    await run(ctx, url=f"{server}/status")
    response = (ctx.evidence_dir / "response.txt").read_text()
    head, _, body = response.partition("\n\n")
    assert head.splitlines()[0] == "HTTP/1.1 200 OK"
    assert "content-type: application/json" in head.lower()
    assert "abc123" not in head
    assert any(line.lower() == "set-cookie: redacted" for line in head.splitlines())
    assert json.loads(body)["status"] == "ok"


async def test_text_body_is_sent(ctx: CheckContext, server: str) -> None:
    result = await run(
        ctx,
        method="PUT",
        url=f"{server}/echo",
        body="hello",
        expect=[{"json": {"path": "body", "equals": "hello"}}],
    )
    assert result.passed, result


def test_redact_url() -> None:
    assert redact_url("http://bob:pw@h/x?token=1&page=2") == (
        "http://bob:REDACTED@h/x?token=REDACTED&page=2"
    )
    assert redact_url("http://h/status") == "http://h/status"
