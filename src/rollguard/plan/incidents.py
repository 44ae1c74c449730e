"""Plan models of where an incident report is sent: a webhook, a GitHub issue, Slack."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from rollguard.plan.base import Duration, Model


class SinkBase(Model):
    """Fields that every incident sink has."""

    name: str | None = Field(
        default=None, description="Label of this sink in results and events; default its kind."
    )
    timeout: Duration = Field(
        default=10.0, gt=0, description="How long one delivery attempt may take."
    )
    retries: int = Field(
        default=3,
        ge=0,
        description="Further attempts after a connection error, a timeout, a 5xx or a 429 "
        "(a 4xx other than 429 is not retried).",
    )
    backoff: Duration = Field(
        default=1.0, description="Wait before the first retry; it doubles after each attempt."
    )


class WebhookSink(SinkBase):
    """POST the incident as JSON: `{"event": "rollguard.incident", "incident": {...}}`."""

    kind: Literal["webhook"] = Field(description="Sink kind: `webhook`.")
    url: str = Field(
        description="URL that receives the POST, e.g. `${env.INCIDENT_WEBHOOK_URL}`. "
        "Never written to evidence or results."
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Request headers, e.g. `Authorization: Bearer ${env.HOOK_TOKEN}`.",
    )


class GithubSink(SinkBase):
    """Open a GitHub issue whose body is the incident report (REST API)."""

    kind: Literal["github"] = Field(description="Sink kind: `github`.")
    repo: str = Field(description="Repository as `owner/name`, e.g. `acme/chat`.")
    token_env: str = Field(
        default="GITHUB_TOKEN",
        description="Name of the environment variable holding the token (issues: write). "
        "The token itself never appears in the plan, evidence or results.",
    )
    api_url: str = Field(
        default="https://api.github.com",
        description="Base URL of the REST API (GitHub Enterprise: `https://HOST/api/v3`).",
    )
    labels: list[str] = Field(default_factory=list, description="Labels of the new issue.")
    assignees: list[str] = Field(
        default_factory=list, description="Logins assigned to the new issue."
    )

    @model_validator(mode="after")
    def _repo_is_owner_name(self) -> GithubSink:
        owner, sep, name = self.repo.partition("/")
        if "${" not in self.repo and (not sep or not owner or not name or "/" in name):
            raise ValueError(f"repo must be owner/name like acme/chat, not {self.repo!r}")
        return self


class SlackSink(SinkBase):
    """Post a short message to a Slack incoming webhook."""

    kind: Literal["slack"] = Field(description="Sink kind: `slack`.")
    url: str = Field(
        description="Incoming webhook URL, usually `${env.SLACK_WEBHOOK_URL}` (it is a secret: "
        "never written to evidence or results)."
    )


AnySink = WebhookSink | GithubSink | SlackSink

Sink = Annotated[AnySink, Field(discriminator="kind")]
"""An incident sink, chosen by its `kind:` field."""


class IncidentSpec(Model):
    """Where the incident report of a rollback is sent (it is always written to evidence)."""

    sinks: list[Sink] = Field(
        default_factory=list,
        description="Sinks, tried concurrently; a failing sink never blocks the rollback.",
    )
