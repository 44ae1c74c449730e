"""deliver(): retries with doubling backoff, concurrency, failures as results, no secrets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rollguard.notify import SinkResult, deliver, notifiers
from rollguard.notify.base import Notifier, Scrubber, redact_userinfo
from rollguard.plan import model
from rollguard.plugin import Registry
from tests.conftest import free_port
from tests.notify.conftest import TOKEN
from tests.notify.receiver import Receiver, Reply


class Sleeps:
    """An injected sleep that returns at once and remembers the delays asked for."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def hook(receiver: Receiver, path: str, **extra: Any) -> model.WebhookSink:
    return model.WebhookSink.model_validate(
        {"kind": "webhook", "name": path.strip("/"), "url": f"{receiver.url}{path}", **extra}
    )


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_a_sink_that_fails_twice_is_retried_and_succeeds(
    receiver: Receiver, incident: dict[str, Any], status: int
) -> None:
    receiver.fail_first("/flaky", 2, status=status)
    sleeps = Sleeps()
    [result] = await deliver(
        [hook(receiver, "/flaky", retries=3, backoff="1s")], incident, sleep=sleeps, env={}
    )
    assert result.ok and result.status == 200
    assert result.attempts == 3
    assert len(receiver.to("/flaky")) == 3
    assert sleeps.delays == [1.0, 2.0]  # doubling backoff between attempts


async def test_a_sink_that_always_fails_is_reported_and_the_others_deliver(
    receiver: Receiver, incident: dict[str, Any]
) -> None:
    receiver.answer("/down", Reply(500, b"internal error"))
    receiver.answer(
        "/repos/acme/chat/issues", Reply.json(201, {"number": 3, "html_url": "http://x/3"})
    )
    sinks: list[model.AnySink] = [
        hook(receiver, "/down", retries=2, backoff="500ms"),
        hook(receiver, "/ok"),
        model.GithubSink(kind="github", repo="acme/chat", api_url=receiver.url),
        model.SlackSink(kind="slack", url=f"{receiver.url}/slack"),
    ]
    sleeps = Sleeps()
    results = await deliver(sinks, incident, sleep=sleeps, env={"GITHUB_TOKEN": TOKEN})
    down, ok, gh, slack = results
    assert [r.sink for r in results] == ["down", "ok", "github", "slack"]
    assert not down.ok and down.status == 500 and down.attempts == 3
    assert "gave up after 3 attempts" in down.detail and "internal error" in down.detail
    assert len(receiver.to("/down")) == 3
    assert sleeps.delays == [0.5, 1.0]
    assert ok.ok and gh.ok and slack.ok
    assert len(receiver.to("/ok")) == 1 and len(receiver.to("/slack")) == 1


async def test_a_client_error_is_not_retried(receiver: Receiver, incident: dict[str, Any]) -> None:
    receiver.answer("/gone", Reply(404, b"no such hook"))
    sleeps = Sleeps()
    [result] = await deliver([hook(receiver, "/gone")], incident, sleep=sleeps, env={})
    assert not result.ok and result.status == 404 and result.attempts == 1
    assert not result.retryable and sleeps.delays == []
    assert len(receiver.to("/gone")) == 1


async def test_a_hanging_sink_times_out_and_is_reported(
    receiver: Receiver, incident: dict[str, Any]
) -> None:
    receiver.answer("/hang", Reply(hang=True))
    sleeps = Sleeps()
    hang, ok = await deliver(
        [hook(receiver, "/hang", timeout="200ms", retries=1), hook(receiver, "/ok")],
        incident,
        sleep=sleeps,
        env={},
    )
    assert not hang.ok and hang.status is None and hang.attempts == 2
    assert "no answer within 0.2s" in hang.detail
    assert len(receiver.to("/hang")) == 2
    assert ok.ok


async def test_an_unreachable_sink_is_retried_then_reported(incident: dict[str, Any]) -> None:
    sink = model.WebhookSink(kind="webhook", url=f"http://127.0.0.1:{free_port()}/x", retries=2)
    sleeps = Sleeps()
    [result] = await deliver([sink], incident, sleep=sleeps, env={})
    assert not result.ok and result.attempts == 3 and result.status is None
    assert "cannot reach the sink" in result.detail
    assert sleeps.delays == [1.0, 2.0]


async def test_a_missing_environment_variable_is_reported_not_raised(
    receiver: Receiver, incident: dict[str, Any]
) -> None:
    sinks: list[model.AnySink] = [
        model.SlackSink(kind="slack", url="${env.SLACK_WEBHOOK_URL}"),
        hook(receiver, "/ok"),
    ]
    missing, ok = await deliver(sinks, incident, env={})
    assert not missing.ok and missing.attempts == 0
    assert "SLACK_WEBHOOK_URL is not set" in missing.detail
    assert ok.ok


async def test_a_notifier_that_raises_becomes_a_failed_result(
    receiver: Receiver, incident: dict[str, Any]
) -> None:
    class Broken:
        def __init__(self, spec: Any, *, env: Any, transport: Any = None) -> None:
            pass

        async def send(self, incident: dict[str, Any]) -> SinkResult:
            raise RuntimeError("bug in a plugin")

    registry: Registry[Any] = Registry("rollguard.test-notifiers")
    registry.register("webhook", Broken)
    registry.register("slack", notifiers.get("slack"))
    sinks: list[model.AnySink] = [
        hook(receiver, "/x", retries=2),
        model.SlackSink(kind="slack", url=f"{receiver.url}/slack"),
    ]
    broken, slack = await deliver(sinks, incident, env={}, registry=registry, sleep=Sleeps())
    assert not broken.ok and broken.attempts == 1
    assert "RuntimeError: bug in a plugin" in broken.detail
    assert slack.ok


async def test_no_secret_reaches_a_result(receiver: Receiver, incident: dict[str, Any]) -> None:
    # The receiver echoes what it was sent, as a careless proxy would in an error page.
    password = "hunter2-pw"
    echo = f"denied for bot:{password} with token {TOKEN} at {receiver.url}/private/abc"
    receiver.answer("/private/abc", Reply(403, echo.encode()))
    receiver.answer("/repos/acme/chat/issues", Reply(500, f"token {TOKEN} rejected".encode()))
    host = receiver.url.removeprefix("http://")
    sinks: list[model.AnySink] = [
        model.WebhookSink(
            kind="webhook",
            url=f"http://bot:{password}@{host}/private/abc",
            headers={"X-Hook-Token": "${env.HOOK_TOKEN}"},
        ),
        model.GithubSink(kind="github", repo="acme/chat", api_url=receiver.url, retries=1),
    ]
    env = {"HOOK_TOKEN": TOKEN, "GITHUB_TOKEN": TOKEN}
    results = await deliver(sinks, incident, env=env, sleep=Sleeps())
    assert [r.ok for r in results] == [False, False]
    sent = receiver.to("/private/abc")[0].headers
    assert sent["x-hook-token"] == TOKEN and sent["authorization"].startswith("Basic ")
    text = json.dumps([r.to_dict() for r in results])
    assert TOKEN not in text and password not in text and "/private/abc" not in text
    assert "***" in text


def test_scrubbing_helpers() -> None:
    assert (
        redact_userinfo("see https://u:p@h/x and http://h/y")
        == "see https://***@h/x and http://h/y"
    )
    assert Scrubber(["abc", "longsecret", None])("abc longsecret") == "abc ***"


def test_every_builtin_notifier_satisfies_the_protocol() -> None:
    def check(n: Notifier) -> Notifier:
        return n

    spec = model.WebhookSink(kind="webhook", url="http://h/x")
    assert check(notifiers.get("webhook")(spec, env={})) is not None
