"""A rollout's state as the fold of its events. Pure: no I/O, no clock.

Event types (``data`` fields in brackets):

- ``rollout_created`` [plan_name, plan_text, plan_path, base_dir, run_dir]
- ``phase_entered`` [phase, reason]
- ``step_started`` [index, kind] / ``step_completed`` [index]
- ``action_started`` [id, action, args]: the intent, written before a side effect
- ``action_finished`` [id, action, ok, result, error, interrupted]: the result, written
  after it (``interrupted``: the controller died before the result; written on resume)
- ``analysis`` [observation_seq, verdicts, judge_states]: the judgement of one observation
  (``judge_states``: the running state of each statistical judge)
- ``trigger_fired`` [verdict]
- ``approval`` [step, role, by, note] / ``abort_requested`` [by, reason]
- ``signoff`` [role, by, note]: a person signed the checklist items of a role
- ``controller_started`` [pid, host]: the first controller took the rollout
- ``resumed`` [pid, host]: a new controller took over; process-local resources are gone
- ``rollout_finished`` [outcome, reason, exit_code]

Every decision the engine makes is a function of this state, so replaying the log gives the
same state, and a controller killed between an intent and its result re-drives the action.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rollguard.engine.phases import Phase
from rollguard.store.base import Event


@dataclass(frozen=True)
class PendingAction:
    """An action whose intent is logged but whose result is not (yet)."""

    id: str
    action: str
    args: dict[str, Any]


@dataclass
class RolloutState:
    """Everything the engine knows about one rollout."""

    id: str = ""
    plan_name: str = ""
    plan_text: str = ""
    plan_path: str = ""
    base_dir: str = ""
    run_dir: str = ""
    created_at: float = 0.0
    last_seq: int = 0
    phase: Phase = Phase.PENDING
    phase_since: float = 0.0
    step: int | None = None
    step_since: float = 0.0
    steps_done: int = 0
    weight: int = 0
    weight_since: float = 0.0
    canary_since: float | None = None  # first time the candidate got traffic
    prepared: bool = False  # the backend's versions and router are up in this controller
    router_weight: int | None = None  # weight applied in this controller (None: unknown)
    promoted: bool = False
    promotion: list[dict[str, Any]] = field(default_factory=list)  # promotion action results
    traffic_restored: bool = False  # rollback moved everything back to stable
    pending: PendingAction | None = None
    failures: dict[str, int] = field(default_factory=dict)  # failed attempts per action key
    last_error: str | None = None
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)  # group -> {passed, results}
    observation: dict[str, Any] | None = None  # latest observation result (+ "seq", "at")
    observed_at: float | None = None
    evaluated_seq: int = 0  # seq of the last observation judged
    verdicts: list[dict[str, Any]] = field(default_factory=list)  # latest verdicts
    error_streak: dict[str, int] = field(default_factory=dict)  # trigger -> consecutive errors
    judge_states: dict[str, Any] = field(default_factory=dict)  # trigger -> statistical state
    baseline: dict[str, Any] | None = None  # metric -> stable measurement before the canary
    approvals: dict[int, dict[str, str]] = field(default_factory=dict)  # step -> role -> person
    signoffs: dict[str, dict[str, Any]] = field(default_factory=dict)  # role -> by, at, note
    completion: dict[str, Any] | None = None  # results of the on_complete actions
    incident: dict[str, Any] | None = None  # incident files and sink deliveries
    abort: dict[str, Any] | None = None
    fired: dict[str, Any] | None = None  # the verdict that fired a trigger
    rollback_reason: dict[str, Any] | None = None
    outcome: str | None = None
    exit_code: int | None = None
    resumes: int = 0
    versions: dict[str, Any] = field(default_factory=dict)  # role -> version, url, image as run

    @property
    def final(self) -> bool:
        return self.phase.final


def fold(events: list[Event], state: RolloutState | None = None) -> RolloutState:
    """Apply ``events`` (in order) to ``state`` (a fresh state when None) and return it."""
    s = state if state is not None else RolloutState()
    for ev in events:
        _apply(s, ev)
        s.last_seq = ev.seq
    return s


def _apply(s: RolloutState, ev: Event) -> None:
    d = ev.data
    t = ev.type
    if t == "rollout_created":
        s.id = ev.rollout_id
        s.plan_name = d["plan_name"]
        s.plan_text = d["plan_text"]
        s.plan_path = d["plan_path"]
        s.base_dir = d["base_dir"]
        s.run_dir = d["run_dir"]
        s.created_at = ev.at
    elif t == "phase_entered":
        s.phase = Phase(d["phase"])
        s.phase_since = ev.at
        if s.phase == Phase.ROLLING_BACK and s.rollback_reason is None:
            s.rollback_reason = {"kind": d.get("kind", "unknown"), "reason": d.get("reason", "")}
    elif t == "step_started":
        s.step = int(d["index"])
        s.step_since = ev.at
    elif t == "step_completed":
        s.steps_done = int(d["index"]) + 1
    elif t == "action_started":
        s.pending = PendingAction(d["id"], d["action"], d.get("args", {}))
    elif t == "action_finished":
        s.pending = None
        _apply_result(s, ev)
    elif t == "analysis":
        s.evaluated_seq = int(d["observation_seq"])
        s.verdicts = list(d["verdicts"])
        s.judge_states.update(d.get("judge_states", {}))
        for v in s.verdicts:
            name = v["trigger"]
            s.error_streak[name] = s.error_streak.get(name, 0) + 1 if v["status"] == "error" else 0
    elif t == "trigger_fired":
        s.fired = d["verdict"]
    elif t == "approval":
        s.approvals.setdefault(int(d["step"]), {})[d["role"]] = d["by"]
    elif t == "signoff":
        s.signoffs[d["role"]] = {"by": d["by"], "note": d.get("note", ""), "at": ev.at}
    elif t == "abort_requested":
        if s.abort is None:
            s.abort = {"by": d.get("by", ""), "reason": d.get("reason", ""), "at": ev.at}
    elif t == "controller_started":
        s.versions = dict(d.get("versions", {}))
    elif t == "resumed":
        s.versions = dict(d.get("versions", s.versions))
        s.resumes += 1
        s.prepared = False  # the router lived in the controller that died
        s.router_weight = None
    elif t == "rollout_finished":
        s.outcome = d["outcome"]
        s.exit_code = int(d["exit_code"])


def _apply_result(s: RolloutState, ev: Event) -> None:
    d = ev.data
    action, args, ok = d["action"], d.get("args", {}), bool(d["ok"])
    key = action_key(action, args)
    if d.get("interrupted"):
        return  # the controller died mid-action: not a failure, the action is simply redone
    if not ok:
        s.failures[key] = s.failures.get(key, 0) + 1
        s.last_error = d.get("error")
        return
    s.failures.pop(key, None)
    result = d.get("result") or {}
    if action == "prepare":
        s.prepared = True
        s.router_weight = 0
    elif action == "set_weight":
        s.weight = s.router_weight = int(args["weight"])
        s.weight_since = ev.at
        if s.weight > 0 and s.canary_since is None:
            s.canary_since = ev.at
    elif action == "run_checks":
        s.checks[args["group"]] = result
    elif action == "observe":
        if args.get("purpose") == "baseline":
            s.baseline = result.get("stable", {})
        else:
            s.observation = {**result, "seq": ev.seq, "at": ev.at}
            s.observed_at = ev.at
    elif action == "promote":
        s.promoted = True
        s.promotion = list(result.get("actions", []))
    elif action == "complete":
        s.completion = result
    elif action == "incident":
        s.incident = result
    elif action == "rollback":
        s.traffic_restored = True
        s.weight = 0
        if s.router_weight is not None:
            s.router_weight = 0


def action_key(action: str, args: dict[str, Any]) -> str:
    """A stable name for an action and its arguments (retries count against it)."""
    if action == "run_checks":
        return f"run_checks:{args.get('group')}"
    if action == "set_weight":
        return f"set_weight:{args.get('weight')}"
    return action
