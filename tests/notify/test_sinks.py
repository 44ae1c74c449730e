"""Each sink against a real HTTP receiver: what it sends, and how it reads the answer."""

from __future__ import annotations

from importlib import metadata
from typing import Any

from rollguard.notify import deliver, notifiers, webhook
from rollguard.plan import model
from tests.notify.conftest import TOKEN
from tests.notify.receiver import Receiver, Reply

ISSUES = "/repos/acme/chat/issues"


def github(receiver: Receiver, **extra: Any) -> model.GithubSink:
    return model.GithubSink.model_validate(
        {
            "kind": "github",
            "repo": "acme/chat",
            "api_url": receiver.url,
            "labels": ["incident", "rollback"],
            "assignees": ["bob"],
            **extra,
        }
    )


async def test_webhook_posts_the_incident_as_json(
    receiver: Receiver, incident: dict[str, Any]
) -> None:
    sink = model.WebhookSink(
        kind="webhook",
        url=f"{receiver.url}/hooks/${{run.id}}",
        headers={"X-Hook-Token": "${env.HOOK_TOKEN}"},
    )
    [result] = await deliver([sink], incident, env={"HOOK_TOKEN": "hook-secret-42"})
    assert result.ok and result.status == 200 and result.attempts == 1
    [req] = receiver.to("/hooks/r1")
    assert req.method == "POST"
    assert req.headers["content-type"] == "application/json"
    assert req.headers["x-hook-token"] == "hook-secret-42"
    assert req.json() == {"event": webhook.EVENT, "incident": incident}
    assert result.detail == "delivered to 127.0.0.1"
    assert "hook-secret-42" not in result.detail


async def test_github_opens_an_issue_with_the_report(
    receiver: Receiver, incident: dict[str, Any]
) -> None:
    page = "https://github.com/acme/chat/issues/12"
    receiver.answer(ISSUES, Reply.json(201, {"number": 12, "html_url": page}))
    [result] = await deliver([github(receiver)], incident, env={"GITHUB_TOKEN": TOKEN})
    assert result.ok and result.status == 201
    assert result.url == page
    assert result.detail == "opened issue #12 in acme/chat"
    [req] = receiver.to(ISSUES)
    assert req.method == "POST"
    assert req.headers["authorization"] == f"Bearer {TOKEN}"
    assert req.headers["accept"] == "application/vnd.github+json"
    assert req.headers["x-github-api-version"] == "2022-11-28"
    body = req.json()
    assert "5xx-rate" in body["title"]
    assert body["body"] == incident["markdown"]
    assert body["labels"] == ["incident", "rollback"]
    assert body["assignees"] == ["bob"]


async def test_github_reads_the_token_from_the_variable_the_plan_names(
    receiver: Receiver, incident: dict[str, Any]
) -> None:
    receiver.answer(ISSUES, Reply.json(201, {"number": 1, "html_url": "x"}))
    sink = github(receiver, token_env="CHAT_ISSUES_TOKEN")
    [result] = await deliver([sink], incident, env={"CHAT_ISSUES_TOKEN": TOKEN})
    assert result.ok
    assert receiver.to(ISSUES)[0].headers["authorization"] == f"Bearer {TOKEN}"


async def test_a_missing_github_token_is_a_clear_failure(
    receiver: Receiver, incident: dict[str, Any]
) -> None:
    [result] = await deliver([github(receiver)], incident, env={})
    assert not result.ok and result.status is None
    assert "GITHUB_TOKEN is not set" in result.detail and "acme/chat" in result.detail
    assert result.attempts == 1  # nothing to retry: the environment will not change
    assert receiver.requests == []


async def test_github_refusal_is_reported_without_the_token(
    receiver: Receiver, incident: dict[str, Any]
) -> None:
    # A server that echoes the credentials back must not get them into the result.
    receiver.answer(ISSUES, Reply.json(401, {"message": f"Bad credentials: {TOKEN}"}))
    [result] = await deliver([github(receiver)], incident, env={"GITHUB_TOKEN": TOKEN})
    assert not result.ok and result.status == 401 and result.attempts == 1
    assert "Bad credentials" in result.detail
    assert TOKEN not in result.detail


async def test_a_long_report_is_cut_to_what_github_accepts(
    receiver: Receiver, incident: dict[str, Any]
) -> None:
    receiver.answer(ISSUES, Reply.json(201, {"number": 2, "html_url": "x"}))
    long_incident = {**incident, "markdown": "x" * 100_000}
    await deliver([github(receiver)], long_incident, env={"GITHUB_TOKEN": TOKEN})
    body = receiver.to(ISSUES)[0].json()["body"]
    assert len(body) <= 65_000 and "incident.md" in body


async def test_slack_posts_a_summary_and_blocks(
    receiver: Receiver, incident: dict[str, Any]
) -> None:
    sink = model.SlackSink(kind="slack", url="${env.SLACK_WEBHOOK_URL}")
    env = {"SLACK_WEBHOOK_URL": f"{receiver.url}/services/T000/B000/XXXXsecret"}
    [result] = await deliver([sink], incident, env=env)
    assert result.ok and result.detail == "posted to Slack"
    [req] = receiver.to("/services/T000/B000/XXXXsecret")
    body = req.json()
    assert body["text"] == incident["summary"]
    kinds = [b["type"] for b in body["blocks"]]
    assert kinds == ["header", "section", "section", "context"]
    assert body["blocks"][0]["text"]["text"] == incident["title"]
    assert "&gt; max 0.50%" in body["blocks"][1]["text"]["text"]
    fields = " ".join(f["text"] for f in body["blocks"][2]["fields"])
    assert "`r1`" in fields and "`go`" in fields and "`node`" in fields
    assert "XXXXsecret" not in result.detail


async def test_slack_error_text_is_a_failure_without_the_webhook_url(
    receiver: Receiver, incident: dict[str, Any]
) -> None:
    receiver.answer("/hook", Reply(400, b"invalid_payload"))
    sink = model.SlackSink(kind="slack", url=f"{receiver.url}/hook")
    [result] = await deliver([sink], incident, env={})
    assert not result.ok and result.status == 400 and result.attempts == 1
    assert "invalid_payload" in result.detail
    assert receiver.url not in result.detail


async def test_slack_needs_the_ok_answer(receiver: Receiver, incident: dict[str, Any]) -> None:
    receiver.answer("/hook", Reply(200, b"no_service"))
    sink = model.SlackSink(kind="slack", url=f"{receiver.url}/hook")
    [result] = await deliver([sink], incident, env={})
    assert not result.ok and "no_service" in result.detail


def test_the_builtin_sinks_are_registered_in_code_and_as_entry_points() -> None:
    assert {"webhook", "github", "slack"} <= set(notifiers.kinds())
    declared = {ep.name for ep in metadata.entry_points(group="rollguard.notifiers")}
    assert declared >= {"webhook", "github", "slack"}
    for ep in metadata.entry_points(group="rollguard.notifiers"):
        if ep.name in {"webhook", "github", "slack"}:
            assert ep.load() is notifiers.get(ep.name)
