"""Plan models for the people and the paperwork around a rollout: the maintenance window,
promotion actions, the sign-off checklist and what happens on completion.

These are the runbook's "Owners & windows", "Promote the Go image ... and update references",
"Sign-off checklist" and "mark T047 as completed".
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
DAYS: tuple[Day, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class WindowSpec(_Model):
    """When traffic may move to the candidate (a maintenance window)."""

    days: list[Day] = Field(
        default_factory=lambda: list(DAYS), description="Days of the week the window is open."
    )
    start: str = Field(default="00:00", description="Opening time, `HH:MM`, in `timezone`.")
    end: str = Field(
        default="23:59", description="Closing time, `HH:MM`; before `start` means past midnight."
    )
    timezone: str = Field(default="UTC", description="IANA time zone, e.g. `Europe/Berlin`.")
    outside: Literal["wait", "refuse"] = Field(
        default="wait",
        description="Outside the window: `wait` until it opens (before starting and before each "
        "weight increase), or `refuse` to start.",
    )

    @model_validator(mode="after")
    def _clock_times(self) -> WindowSpec:
        for name in ("start", "end"):
            if not _CLOCK.match(getattr(self, name)):
                raise ValueError(f"window.{name} must be HH:MM (24h), not {getattr(self, name)!r}")
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(self.timezone)
        except Exception:  # noqa: BLE001 - any lookup failure means the name is unknown
            raise ValueError(f"unknown time zone {self.timezone!r}") from None
        return self


class ChecklistItem(_Model):
    """One line of the sign-off checklist. It holds when every condition it names holds."""

    name: str = Field(description="The checklist line, as the runbook words it.")
    checks_passed: list[str] = Field(
        default_factory=list,
        description="Names of checks whose latest run must have passed (computed from evidence).",
    )
    no_trigger_fired: bool = Field(
        default=False, description="Computed: no trigger fired during the observation windows."
    )
    roles: list[str] = Field(
        default_factory=list,
        description="Roles that must sign this item (`rollguard signoff ID --role R --as NAME`).",
    )

    @model_validator(mode="after")
    def _has_a_condition(self) -> ChecklistItem:
        if not (self.checks_passed or self.no_trigger_fired or self.roles):
            raise ValueError(
                "a checklist item needs checks_passed, no_trigger_fired or roles (or several)"
            )
        return self


class SignoffSpec(_Model):
    """The sign-off that closes the change: a rollout is completed only when every item holds."""

    checklist: list[ChecklistItem] = Field(
        default_factory=list, description="The items, computed from evidence or signed by roles."
    )


class RewriteAction(_Model):
    """Rewrite references in files (an image in a compose file, a binary in a runit script)."""

    kind: Literal["rewrite"] = Field(description="Promotion kind: `rewrite`.")
    name: str = Field(default="rewrite references", description="Name shown in evidence.")
    files: list[str] = Field(description="Files or globs, relative to the plan's folder.")
    replace: str = Field(description="Text to replace (e.g. `chat:node-1.8.2`).")
    with_: str = Field(alias="with", description="Replacement (e.g. `chat:go-3f9c2e1`).")


class RetagAction(_Model):
    """Point a registry tag (the stable channel) at the candidate image's manifest."""

    kind: Literal["retag"] = Field(description="Promotion kind: `retag`.")
    name: str = Field(default="retag image", description="Name shown in evidence.")
    image: str = Field(description="The image promoted, e.g. `registry/chat:go-3f9c2e1`.")
    tag: str = Field(description="The tag made to point at it, e.g. `stable`.")
    insecure: bool = Field(default=False, description="Talk plain HTTP to the registry.")
    username: str | None = Field(default=None, description="Registry user (token or basic).")
    password: str | None = Field(
        default=None, description="Registry password, usually `${env.REGISTRY_PASSWORD}`."
    )


class CommandAction(_Model):
    """Run a command (promote an image with your own tooling, update a tracker)."""

    kind: Literal["command"] = Field(description="Action kind: `command`.")
    name: str = Field(default="command", description="Name shown in evidence.")
    command: list[str] | None = Field(default=None, description="Argv. One of `command`, `shell`.")
    shell: str | None = Field(default=None, description="Shell command line.")
    env: dict[str, str] = Field(default_factory=dict, description="Environment variables added.")
    timeout: float = Field(default=300.0, description="Seconds before the action fails.")
    undo: list[str] | None = Field(
        default=None, description="Argv that reverses this action, when it can be reversed."
    )

    @model_validator(mode="after")
    def _one_way_to_run(self) -> CommandAction:
        if (self.command is None) == (self.shell is None):
            raise ValueError("give exactly one of `command` (argv list) or `shell`")
        return self


class WebhookAction(_Model):
    """POST JSON to a URL (e.g. mark a tracking task such as T047 completed)."""

    kind: Literal["webhook"] = Field(description="Action kind: `webhook`.")
    name: str = Field(default="webhook", description="Name shown in evidence.")
    url: str = Field(description="URL to POST to.")
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers.")
    json_body: dict[str, object] = Field(
        default_factory=dict, alias="json", description="JSON body; the rollout's id is added."
    )


PromotionAction = Annotated[
    RewriteAction | RetagAction | CommandAction, Field(discriminator="kind")
]
"""An action that makes the candidate the stable version outside the backend."""

CompletionAction = Annotated[CommandAction | WebhookAction, Field(discriminator="kind")]
"""An action run once a rollout is completed and signed off."""
