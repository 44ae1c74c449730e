"""The facade the CLI (and later the API) use: create, run, resume, approve, abort, inspect.

Where things live: the store defaults to ``.rollguard/rollguard.db`` (``--store`` or
``ROLLGUARD_STORE`` picks another file or a SQLAlchemy URL); each rollout's evidence folder is
``runs/<id>/`` beside the database file (``.rollguard/runs/<id>/`` for non-file stores).
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from rollguard.clock import Clock, SystemClock
from rollguard.engine import judging
from rollguard.engine.runner import Runner
from rollguard.engine.state import RolloutState, fold
from rollguard.errors import GateRefused
from rollguard.plan import loader, model
from rollguard.plan.loader import LoadedPlan, parse_plan
from rollguard.store.base import RolloutRow
from rollguard.store.sqlite import SqlStore, open_store

DEFAULT_STORE = ".rollguard/rollguard.db"

# Judges live above the plan layer: their names and parameters are checked at load time
# through a plan rule, with the same file:line errors as the models.
loader.add_rule(judging.plan_rule)


def resolve_store(explicit: str | None) -> str:
    """``--store``, else ``$ROLLGUARD_STORE``, else ``.rollguard/rollguard.db``."""
    return explicit or os.environ.get("ROLLGUARD_STORE") or DEFAULT_STORE


def runs_dir(store_location: str) -> Path:
    """Where evidence folders go for a store location."""
    if "://" not in store_location:
        return Path(store_location).expanduser().resolve().parent / "runs"
    if store_location.startswith("sqlite:///"):
        return Path(store_location.removeprefix("sqlite:///")).resolve().parent / "runs"
    return Path(".rollguard/runs").resolve()


def new_rollout_id(now: float) -> str:
    """``20261127-142233-4f2a``: sortable by time, unique by its random tail."""
    stamp = dt.datetime.fromtimestamp(now, tz=dt.UTC).strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{secrets.token_hex(2)}"


def _may_act(plan: model.Plan, *, role: str, by: str, verb: str) -> None:
    """Refuse a person the plan does not list for ``role`` (any one may act for an unlisted
    role only when the plan names no owners at all)."""
    allowed = plan.owners.get(role)
    if allowed is not None and by not in allowed:
        raise GateRefused(
            f"{by!r} may not {verb} as {role!r}: the plan lists {', '.join(allowed)} for that role"
        )


@dataclass
class Inspection:
    """A rollout as read from the store."""

    row: RolloutRow
    state: RolloutState
    plan: model.Plan


class Service:
    """Rollouts in one store."""

    def __init__(self, store: str | None = None, *, clock: Clock | None = None) -> None:
        self.location = resolve_store(store)
        self.store: SqlStore = open_store(self.location)
        self.clock = clock or SystemClock()

    def close(self) -> None:
        self.store.close()

    def create(self, loaded: LoadedPlan) -> str:
        """Register a rollout of ``loaded`` and return its id (nothing runs yet)."""
        now = self.clock.now()
        rollout_id = new_rollout_id(now)
        run_dir = runs_dir(self.location) / rollout_id
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "plan.yaml").write_text(loaded.text)
        self.store.create(rollout_id, plan_name=loaded.plan.name, at=now)
        self.store.append(
            rollout_id,
            "rollout_created",
            {
                "plan_name": loaded.plan.name,
                "plan_text": loaded.text,
                "plan_path": str(loaded.path),
                "base_dir": str(loaded.base_dir),
                "run_dir": str(run_dir),
            },
            at=now,
        )
        return rollout_id

    def runner(self, rollout_id: str, **kwargs: object) -> Runner:
        """A runner for a rollout (``run`` and ``resume`` are the same thing)."""
        full = self.store.get(rollout_id).id
        return Runner(self.store, full, clock=self.clock, **kwargs)  # type: ignore[arg-type]

    def inspect(self, rollout_id: str | None = None) -> Inspection:
        """The state of a rollout (the newest when ``rollout_id`` is None)."""
        if rollout_id is None:
            rows = self.store.list(limit=1)
            if not rows:
                raise GateRefused(f"no rollout yet in {self.store.url}")
            row = rows[0]
        else:
            row = self.store.get(rollout_id)
        state = fold(self.store.events(row.id))
        plan = parse_plan(
            state.plan_text, filename=state.plan_path, base_dir=Path(state.base_dir)
        ).plan
        return Inspection(row=row, state=state, plan=plan)

    def history(self, *, limit: int = 20) -> list[RolloutRow]:
        return self.store.list(limit=limit)

    def approve(
        self, rollout_id: str, *, role: str, by: str, note: str = "", step: int | None = None
    ) -> int:
        """Record an approval; returns the step index. Refuses what the plan does not allow."""
        info = self.inspect(rollout_id)
        state, plan = info.state, info.plan
        if state.final:
            raise GateRefused(f"rollout {state.id} is already {state.phase.value}")
        candidates = [
            i
            for i, s in enumerate(plan.steps)
            if s.approve and role in s.approve and i >= (state.step or 0)
        ]
        if step is not None:
            candidates = [i for i in candidates if i == step - 1]
        if not candidates:
            steps = [
                f"step {i + 1}: {', '.join(s.approve or [])}"
                for i, s in enumerate(plan.steps)
                if s.approve
            ]
            raise GateRefused(
                f"no approval by role {role!r} is pending in rollout {state.id} "
                f"(approval steps: {'; '.join(steps) or 'none'})"
            )
        _may_act(plan, role=role, by=by, verb="approve")
        index = candidates[0]
        self.store.append(
            state.id,
            "approval",
            {"step": index, "role": role, "by": by, "note": note},
            at=self.clock.now(),
        )
        return index

    def signoff(self, rollout_id: str, *, role: str, by: str, note: str = "") -> list[str]:
        """Sign the checklist items of ``role``; returns their names."""
        info = self.inspect(rollout_id)
        state, plan = info.state, info.plan
        if state.final:
            raise GateRefused(f"rollout {state.id} is already {state.phase.value}")
        items = [i.name for i in plan.signoff.checklist if role in i.roles]
        if not items:
            roles = sorted({r for i in plan.signoff.checklist for r in i.roles})
            raise GateRefused(
                f"no checklist item of rollout {state.id} is signed by role {role!r} "
                f"(roles that sign: {', '.join(roles) or 'none'})"
            )
        _may_act(plan, role=role, by=by, verb="sign off")
        self.store.append(
            state.id, "signoff", {"role": role, "by": by, "note": note}, at=self.clock.now()
        )
        return items

    def abort(self, rollout_id: str, *, by: str, reason: str) -> str:
        """Ask the controller to roll back (or to stop, before anything was deployed)."""
        row = self.store.get(rollout_id)
        state = fold(self.store.events(row.id))
        if state.final:
            raise GateRefused(f"rollout {row.id} is already {state.phase.value}")
        self.store.append(
            row.id, "abort_requested", {"by": by, "reason": reason}, at=self.clock.now()
        )
        return row.id
