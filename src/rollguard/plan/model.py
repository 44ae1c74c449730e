"""Pydantic models of a plan file (``apiVersion: rollguard/v1``).

The plan is data: validated once at load time, never mutated (every model is frozen), and
every field documented where it is declared (``docs/plan-reference.md`` and the JSON Schema
are generated from these descriptions; a test fails when one is missing).

Units: durations are seconds (written ``30s``, ``10m``, ``250ms``), ratios are fractions
(written ``0.5%`` or ``0.005``). Strings may hold ``${...}`` templates that are filled in at
run time (see :mod:`rollguard.plan.templates`).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from rollguard.plan import gates
from rollguard.plan.base import Duration, Model, Threshold
from rollguard.plan.checks import *  # noqa: F403 - the plan's public names live here too
from rollguard.plan.checks import AnyCheck, Check
from rollguard.plan.incidents import *  # noqa: F403
from rollguard.plan.incidents import IncidentSpec
from rollguard.plan.metrics import *  # noqa: F403
from rollguard.plan.metrics import MetricSpec, _default_metric_kind

API_VERSION = "rollguard/v1"


# ---------------------------------------------------------------------------- versions


class VersionSpec(Model):
    """One version of the service (the stable or the candidate) and how to run it."""

    version: str = Field(description="Label of this version, e.g. `node-1.8.2` or `go-3f9c2e1`.")
    url: str = Field(
        description="Base URL where this version serves, e.g. `http://127.0.0.1:3010`. "
        "Available to templates as `${stable.url}` / `${candidate.url}`."
    )
    command: list[str] | None = Field(
        default=None,
        description="Argv that starts this version (local backend). One of `command`, `shell`.",
    )
    shell: str | None = Field(
        default=None, description="Shell command line that starts this version (local backend)."
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="Environment variables added for the process."
    )
    cwd: str | None = Field(
        default=None, description="Working directory, relative to the plan file's folder."
    )
    health: str = Field(
        default="/status",
        description="Path (joined to `url`) or full URL answering 2xx when the version is ready.",
    )
    start_timeout: Duration = Field(
        default=30.0, description="How long to wait for the health URL after starting."
    )
    image: str | None = Field(
        default=None,
        description="Image reference of this version (for image checks and promotion), "
        "e.g. `registry/chat:go-3f9c2e1`.",
    )

    @model_validator(mode="after")
    def _one_way_to_start(self) -> VersionSpec:
        if self.command is not None and self.shell is not None:
            raise ValueError("give either `command` (argv list) or `shell`, not both")
        if self.command is not None and not self.command:
            raise ValueError(
                "`command` is an empty list (expected an argv like [./server, --port, '3010'])"
            )
        return self


# ---------------------------------------------------------------------------- backends


class LocalBackendSpec(Model):
    """Local processes behind the built-in HTTP router (the embedded default)."""

    kind: Literal["local"] = Field(default="local", description="Backend kind: `local`.")
    listen: str = Field(
        default="127.0.0.1:8080",
        description="`host:port` where the built-in router accepts traffic. "
        "Available to templates as `${router.url}`.",
    )
    stop_timeout: Duration = Field(
        default=10.0, description="How long a stopped process gets between SIGTERM and SIGKILL."
    )

    @model_validator(mode="after")
    def _listen_is_host_port(self) -> LocalBackendSpec:
        if "${" in self.listen:
            return self  # filled in at run time
        host, sep, port = self.listen.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"listen must be host:port like 127.0.0.1:8080, not {self.listen!r}")
        return self


BackendSpec = LocalBackendSpec


# ---------------------------------------------------------------------------- triggers


class Condition(Model):
    """One bound; the trigger fires when the candidate's value breaks it."""

    max: Threshold | None = Field(default=None, description="Fire when the value is above this.")
    min: Threshold | None = Field(default=None, description="Fire when the value is below this.")
    max_ratio_to_baseline: float | None = Field(
        default=None,
        gt=0,
        description="Fire when the value is above this many times the stable version's value "
        "over the same window (or the baseline phase's value when stable has too few samples).",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Condition:
        given = [n for n in ("max", "min", "max_ratio_to_baseline") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "a condition has exactly one of max, min, max_ratio_to_baseline "
                f"(found {len(given)})"
            )
        return self


class Trigger(Model):
    """A rule that ends the rollout with a rollback when it fires.

    With the default ``judge: threshold``, write one bound directly (``max: 0.5%``) or several
    under ``any:``; the trigger fires when any bound is broken. Other judges (``sequential``,
    ``mann_whitney``) compare the candidate with stable statistically, interval by interval,
    with their own ``params``.
    """

    name: str = Field(description="Name shown when the trigger fires.")
    metric: str = Field(description="Name of an entry of `metrics:`.")
    judge: str = Field(
        default="threshold",
        description="Who decides: `threshold` (the bounds below), `sequential` (anytime-valid "
        "test, candidate vs stable) or `mann_whitney` (rank test), or an installed plugin.",
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Parameters of a statistical judge, e.g. `{ratio: 5}` for `sequential` "
        "(tolerated candidate/stable ratio). See docs/judges.md.",
    )
    max: Threshold | None = Field(default=None, description="Shorthand for `any: [{max: ...}]`.")
    min: Threshold | None = Field(default=None, description="Shorthand for `any: [{min: ...}]`.")
    max_ratio_to_baseline: float | None = Field(
        default=None, gt=0, description="Shorthand for `any: [{max_ratio_to_baseline: ...}]`."
    )
    any: list[Condition] = Field(
        default_factory=list, description="Bounds; the trigger fires when any one is broken."
    )
    min_baseline: Threshold = Field(
        default=0.0,
        description="Floor under the baseline for ratio bounds, so that a near-zero baseline "
        "does not make every blip a regression.",
    )
    min_samples: int | None = Field(
        default=None,
        ge=1,
        description="Requests needed for a verdict; default `analysis.min_samples`.",
    )

    @model_validator(mode="after")
    def _has_a_bound(self) -> Trigger:
        if self.judge != "threshold":
            if self.conditions():
                raise ValueError(
                    f"bounds (max, min, max_ratio_to_baseline, any) belong to the threshold "
                    f"judge; judge {self.judge!r} takes its settings under `params:`"
                )
            return self
        if self.params:
            raise ValueError("`params` is for statistical judges; the threshold judge uses bounds")
        if not self.conditions():
            raise ValueError("a trigger needs a bound: max, min, max_ratio_to_baseline or any:")
        return self

    def conditions(self) -> list[Condition]:
        """Every bound of this trigger, the shorthand ones included."""
        out = list(self.any)
        if self.max is not None:
            out.append(Condition(max=self.max))
        if self.min is not None:
            out.append(Condition(min=self.min))
        if self.max_ratio_to_baseline is not None:
            out.append(Condition(max_ratio_to_baseline=self.max_ratio_to_baseline))
        return out


class Analysis(Model):
    """How often and over what the triggers are evaluated."""

    interval: Duration = Field(default=10.0, gt=0, description="Triggers are evaluated this often.")
    window: Duration = Field(default=60.0, gt=0, description="Default window of every metric.")
    baseline: Duration = Field(
        default=30.0,
        description="How long the stable version is measured before any canary traffic.",
    )
    min_samples: int = Field(
        default=50, ge=1, description="Requests a version needs in a window for a verdict."
    )
    consecutive_error_limit: int = Field(
        default=4, ge=1, description="Provider errors in a row before `on_provider_error` applies."
    )
    alpha: float = Field(
        default=0.01,
        gt=0,
        lt=1,
        description="False-alarm budget of the rollout for statistical judges, split evenly "
        "across the triggers that use one.",
    )
    on_provider_error: Literal["rollback", "pause"] = Field(
        default="rollback",
        description="What a failing metric provider leads to: `rollback`, or `pause` (wait, "
        "without moving forward, until the provider answers again).",
    )


# ---------------------------------------------------------------------------- steps


class Step(Model):
    """One entry of the canary schedule; exactly one of `weight`, `smoke`, `approve`."""

    name: str | None = Field(default=None, description="Optional label shown in progress.")
    weight: int | None = Field(
        default=None, ge=0, le=100, description="Percent of traffic sent to the candidate."
    )
    observe: Duration | None = Field(
        default=None,
        description="With `weight`: how long to watch before moving on (every trigger must "
        "pass with enough samples at the end).",
    )
    smoke: list[Check] | None = Field(
        default=None, description="Checks to run now (e.g. against `${candidate.url}`)."
    )
    approve: list[str] | None = Field(
        default=None, description="Roles (from `owners:`) that must approve before moving on."
    )

    @model_validator(mode="after")
    def _one_of(self) -> Step:
        given = [n for n in ("weight", "smoke", "approve") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "a step has exactly one of weight, smoke, approve "
                f"(found {', '.join(given) or 'none'})"
            )
        if self.observe is not None and self.weight is None:
            raise ValueError("`observe` goes with `weight`")
        if self.approve is not None and not self.approve:
            raise ValueError("`approve` lists at least one role")
        return self

    @property
    def kind(self) -> str:
        """``weight``, ``smoke`` or ``approve``."""
        if self.weight is not None:
            return "weight"
        return "smoke" if self.smoke is not None else "approve"


class RollbackSpec(Model):
    """What happens after traffic is back on stable."""

    verify: list[Check] = Field(
        default_factory=list, description="Checks run against stable after a rollback."
    )


# ---------------------------------------------------------------------------- the plan


class Plan(Model):
    """A rollout plan: how a service moves from its stable version to a candidate."""

    api_version: Literal["rollguard/v1"] = Field(
        alias="apiVersion", description="Plan format version: `rollguard/v1`."
    )
    name: str = Field(description="Name of this plan, e.g. `chat-node-to-go`.")
    description: str = Field(default="", description="Free text shown in the summary.")
    service: str = Field(default="", description="The service moved, e.g. `services/chat`.")
    stable: VersionSpec = Field(description="The version serving today (the rollback target).")
    candidate: VersionSpec = Field(description="The new version.")
    backend: BackendSpec = Field(
        default_factory=LocalBackendSpec, description="What moves traffic and versions."
    )
    analysis: Analysis = Field(default_factory=Analysis, description="Trigger evaluation settings.")
    metrics: dict[str, MetricSpec] = Field(
        default_factory=dict, description="Named metrics, read per version over a window."
    )
    triggers: list[Trigger] = Field(
        default_factory=list, description="Rules that roll back when they fire."
    )
    preflight: list[Check] = Field(
        default_factory=list, description="Checks that must pass before anything is deployed."
    )
    steps: list[Step] = Field(description="The canary schedule, in order.")
    post_validation: list[Check] = Field(
        default_factory=list, description="Checks run with the candidate at 100%."
    )
    rollback: RollbackSpec = Field(
        default_factory=RollbackSpec, description="What to verify after a rollback."
    )
    incident: IncidentSpec = Field(
        default_factory=IncidentSpec,
        description="Where the incident report of a rollback is sent (`incident.md` and "
        "`incident.json` are always written to evidence).",
    )
    window: gates.WindowSpec | None = Field(
        default=None, description="Maintenance window for moving traffic (none: any time)."
    )
    promotion: list[gates.PromotionAction] = Field(
        default_factory=list,
        description="Actions that make the candidate the stable version, after post-validation.",
    )
    signoff: gates.SignoffSpec = Field(
        default_factory=gates.SignoffSpec,
        description="The sign-off checklist; the rollout completes when every item holds.",
    )
    on_complete: list[gates.CompletionAction] = Field(
        default_factory=list,
        description="Actions after completion (e.g. mark the tracking task done).",
    )
    owners: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Roles and the people who may act for them, e.g. `sre: [bob]`.",
    )

    @field_validator("metrics", mode="before")
    @classmethod
    def _metric_kind_defaults_to_builtin(cls, value: Any) -> Any:
        return _default_metric_kind(value)

    @model_validator(mode="after")
    def _references(self) -> Plan:
        for i, trigger in enumerate(self.triggers):
            if trigger.metric not in self.metrics:
                known = ", ".join(sorted(self.metrics)) or "none defined"
                raise ValueError(
                    f"triggers[{i}].metric: unknown metric {trigger.metric!r} (metrics: {known})"
                )
        for i, step in enumerate(self.steps):
            for role in step.approve or []:
                if self.owners and role not in self.owners:
                    known = ", ".join(sorted(self.owners))
                    raise ValueError(f"steps[{i}].approve: unknown role {role!r} (owners: {known})")
        if not self.steps:
            raise ValueError("steps: at least one step is needed")
        check_names = {c.name for _group, c in self.all_checks()}
        for i, item in enumerate(self.signoff.checklist):
            for name in item.checks_passed:
                if name not in check_names:
                    raise ValueError(
                        f"signoff.checklist[{i}].checks_passed: no check named {name!r} "
                        f"(checks: {', '.join(sorted(check_names)) or 'none'})"
                    )
            for role in item.roles:
                if self.owners and role not in self.owners:
                    known = ", ".join(sorted(self.owners))
                    raise ValueError(
                        f"signoff.checklist[{i}].roles: unknown role {role!r} (owners: {known})"
                    )
        return self

    def all_checks(self) -> list[tuple[str, AnyCheck]]:
        """Every check of the plan with its group name (for validation and listings)."""
        out: list[tuple[str, AnyCheck]] = [("preflight", c) for c in self.preflight]
        for i, step in enumerate(self.steps):
            out += [(f"steps[{i}].smoke", c) for c in step.smoke or []]
        out += [("post_validation", c) for c in self.post_validation]
        out += [("rollback.verify", c) for c in self.rollback.verify]
        return out
