"""The sign-off checklist, computed from the rollout's evidence and the people who signed.

Pure: every item's status is a function of the plan and the rollout's state. An item holds
when every condition it names holds: the checks it names passed on their latest run, no
trigger fired, and each role it names has signed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rollguard.engine.state import RolloutState
from rollguard.plan import model


@dataclass(frozen=True)
class ItemStatus:
    """Where one checklist item stands."""

    name: str
    holds: bool
    facts: list[str] = field(default_factory=list)  # what was computed, in words
    missing_roles: list[str] = field(default_factory=list)
    signed: dict[str, dict[str, Any]] = field(default_factory=dict)  # role -> by, at, note
    evidence: list[str] = field(default_factory=list)  # check folders behind the item

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "holds": self.holds,
            "facts": self.facts,
            "missing_roles": self.missing_roles,
            "signed": self.signed,
            "evidence": self.evidence,
        }


def check_runs(state: RolloutState, name: str) -> list[dict[str, Any]]:
    """Every recorded result of the check called ``name``, in any group."""
    return [r for c in state.checks.values() for r in c.get("results", []) if r["name"] == name]


def checklist(plan: model.Plan, state: RolloutState) -> list[ItemStatus]:
    """The status of every checklist item."""
    out = []
    for item in plan.signoff.checklist:
        holds = True
        facts: list[str] = []
        evidence: list[str] = []
        for name in item.checks_passed:
            runs = check_runs(state, name)
            evidence += [r.get("folder", "") for r in runs]
            if not runs:
                holds = False
                facts.append(f"check {name!r} has not run")
            elif all(r["status"] == "passed" for r in runs):
                facts.append(f"check {name!r} passed")
            else:
                holds = False
                facts.append(f"check {name!r} {runs[-1]['status']}: {runs[-1]['summary']}")
        if item.no_trigger_fired:
            if state.fired:
                holds = False
                facts.append(f"trigger {state.fired['trigger']!r} fired")
            else:
                facts.append("no trigger fired")
        signed = {r: state.signoffs[r] for r in item.roles if r in state.signoffs}
        missing = [r for r in item.roles if r not in state.signoffs]
        holds = holds and not missing
        out.append(ItemStatus(item.name, holds, facts, missing, signed, evidence))
    return out


def all_hold(plan: model.Plan, state: RolloutState) -> bool:
    """Whether the rollout may complete."""
    return all(s.holds for s in checklist(plan, state))
