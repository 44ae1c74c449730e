"""The runner: the thin asynchronous I/O around the pure decision code.

Loop: fold the new events into the state, ask :func:`rollguard.engine.decide.decide` what to
do, append the decision's events, carry out its action with an ``action_started`` intent
before and an ``action_finished`` result after, or sleep until something can change. Approvals
and aborts written by other processes (``rollguard approve``) simply appear in the log.

Resuming is running: a new controller appends ``resumed``, closes an intent left without a
result as ``interrupted`` (so the log has neither a gap nor a duplicate), and the decision code
then re-prepares the backend and re-applies the weight, because both are idempotent.
"""

from __future__ import annotations

import asyncio
import math
import os
import socket
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rollguard.actions import promotion
from rollguard.backends.base import Backend, BackendContext, TrafficStats
from rollguard.checks.base import CheckContext, CheckResult
from rollguard.checks.registry import run_check
from rollguard.clock import Clock, SystemClock
from rollguard.engine import judging, narrate
from rollguard.engine.decide import RETRY_DELAY, Action, Decision, decide
from rollguard.engine.phases import ExitCode, Phase
from rollguard.engine.state import RolloutState, fold
from rollguard.errors import GateRefused, RollguardError
from rollguard.evidence import incident
from rollguard.evidence.folder import RunFolder
from rollguard.evidence.summary import write_summary
from rollguard.metrics.base import Measurement
from rollguard.metrics.registry import measure
from rollguard.notify.deliver import deliver
from rollguard.plan import model, templates
from rollguard.plan.loader import parse_plan
from rollguard.plugin import Registry
from rollguard.store.base import Event, Store

POLL = 0.25  # how often an idle controller looks for approvals and aborts from elsewhere

backends: Registry[Callable[[BackendContext], Backend]] = Registry("rollguard.backends")

Listener = Callable[[RolloutState, Decision | None, Event | None], None]


def _alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this host (a zombie does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _refuse_a_second_controller(rollout_id: str, events: list[Event]) -> None:
    """Two controllers driving one rollout would act twice: refuse while the last one lives."""
    owners = [e for e in events if e.type in ("controller_started", "resumed")]
    if not owners:
        return
    last = owners[-1].data
    if last.get("host") != socket.gethostname() or last.get("pid") == os.getpid():
        return
    if _alive(int(last["pid"])):
        raise GateRefused(
            f"rollout {rollout_id} is driven by controller pid {last['pid']} on this host; "
            "stop it (or `rollguard abort`) before resuming"
        )


class Runner:
    """Drives one rollout until it is final (or the task is cancelled)."""

    def __init__(
        self,
        store: Store,
        rollout_id: str,
        *,
        clock: Clock | None = None,
        listener: Listener | None = None,
        auto_approve: bool = False,
        stop_on_exit: bool = False,
        log: Callable[[str], None] | None = None,
    ) -> None:
        self.store = store
        self.id = rollout_id
        self.clock = clock or SystemClock()
        self.listener = listener
        self.auto_approve = auto_approve
        self.stop_on_exit = stop_on_exit  # stop the versions even when interrupted (demo)
        self.log = log or (lambda _line: None)
        self.state = RolloutState()

    # ------------------------------------------------------------------ the loop

    async def run(self) -> RolloutState:
        """Drive the rollout to a final phase and return its final state."""
        events = self.store.events(self.id)
        self.state = fold(events)
        loaded = parse_plan(
            self.state.plan_text, filename=self.state.plan_path, base_dir=Path(self.state.base_dir)
        )
        self.folder = RunFolder(Path(self.state.run_dir))
        if self.state.final:
            self.plan = loaded.plan
            return self.state
        try:
            self.plan = self._render(loaded.plan)
        except RollguardError as exc:
            self.plan = loaded.plan
            reason = f"the plan cannot be filled in: {exc.message}"
            self._append("phase_entered", {"phase": "failed", "reason": reason})
            self._append(
                "rollout_finished",
                {"outcome": "failed", "reason": reason, "exit_code": int(ExitCode.INVALID_INPUT)},
            )
            self._refresh()
            return self.state
        _refuse_a_second_controller(self.id, events)
        me: dict[str, Any] = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            # the versions as this controller filled them in (templates, environment)
            "versions": {
                role: {"version": v.version, "url": v.url, "image": v.image}
                for role, v in (("stable", self.plan.stable), ("candidate", self.plan.candidate))
            },
        }
        if not any(e.type == "phase_entered" for e in events):
            self._append("controller_started", me)
        else:
            self._append("resumed", me)
            if self.state.pending is not None:
                p = self.state.pending
                self._append(
                    "action_finished",
                    {
                        "id": p.id,
                        "action": p.action,
                        "args": p.args,
                        "ok": False,
                        "interrupted": True,
                        "error": "the controller stopped before the result",
                    },
                )
        factory = backends.get(self.plan.backend.kind)
        self.backend = factory(
            BackendContext(
                plan=self.plan,
                run_dir=self.folder.path,
                base_dir=Path(self.state.base_dir),
                log=self.log,
            )
        )
        try:
            await self._loop()
        finally:
            await self.backend.close(stop_versions=self.state.final or self.stop_on_exit)
            self._refresh()
            if self.state.final:
                write_summary(self.folder, self.plan, self.state, self.store.events(self.id))
            self.folder.rewrite_events(self.store.events(self.id))
        return self.state

    async def _loop(self) -> None:
        while True:
            self._refresh()
            if self.state.final:
                return
            decision = decide(self.plan, self.state, self.clock.now())
            if self.listener:
                self.listener(self.state, decision, None)
            if decision.events:
                for type_, data in decision.events:
                    self._append(type_, data)
                continue
            if decision.action is not None:
                await self._execute(decision.action)
                continue
            if self.auto_approve and self._approve_waiting():
                continue
            now = self.clock.now()
            wait = POLL if decision.wake_at is None else min(POLL, decision.wake_at - now)
            await self.clock.sleep(max(0.0, wait))

    def _refresh(self) -> None:
        before = self.state.last_seq
        self.state = fold(self.store.events(self.id, after=before), self.state)
        if self.state.last_seq != before:
            s = self.state
            self.store.update(
                self.id,
                state=s.phase.value,
                step=s.step,
                weight=s.weight,
                outcome=s.outcome,
                at=self.clock.now(),
            )

    def _append(self, type_: str, data: dict[str, Any]) -> Event:
        event = self.store.append(self.id, type_, data, at=self.clock.now())
        self.folder.append_event(event)
        line = narrate.describe(event)
        if line:
            self.log(line)
        if self.listener:
            self.listener(self.state, None, event)
        return event

    def _approve_waiting(self) -> bool:
        if self.state.phase == Phase.AWAITING_SIGNOFF:
            return self._signoff_waiting()
        step = self.state.step
        if step is None or self.plan.steps[step].approve is None:
            return False
        given = self.state.approvals.get(step, {})
        missing = [r for r in self.plan.steps[step].approve or [] if r not in given]
        for role in missing:
            person = (self.plan.owners.get(role) or ["demo"])[0]
            self._append(
                "approval",
                {"step": step, "role": role, "by": person, "note": "auto-approved (demo)"},
            )
        return bool(missing)

    def _signoff_waiting(self) -> bool:
        roles = {r for item in self.plan.signoff.checklist for r in item.roles}
        missing = sorted(roles - set(self.state.signoffs))
        for role in missing:
            person = (self.plan.owners.get(role) or ["demo"])[0]
            self._append("signoff", {"role": role, "by": person, "note": "auto-signed (demo)"})
        return bool(missing)

    # ------------------------------------------------------------------ actions

    async def _execute(self, action: Action) -> None:
        action_id = f"a{self.state.last_seq + 1}"
        base = {"id": action_id, "action": action.action, "args": action.args}
        self._append("action_started", base)
        try:
            result = await self._do(action)
        except Exception as exc:  # noqa: BLE001 - every failure becomes an event, never a crash
            message = (
                exc.message if isinstance(exc, RollguardError) else f"{type(exc).__name__}: {exc}"
            )
            self._append("action_finished", {**base, "ok": False, "error": message})
            await self.clock.sleep(RETRY_DELAY)
            return
        self._append("action_finished", {**base, "ok": True, "result": result})

    async def _do(self, action: Action) -> dict[str, Any]:
        args = action.args
        if action.action == "prepare":
            await self.backend.prepare()
            return {}
        if action.action == "set_weight":
            await self.backend.set_weight(int(args["weight"]))
            return {"weight": int(args["weight"])}
        if action.action == "run_checks":
            return await self._run_checks(str(args["group"]))
        if action.action == "observe":
            return await self._observe(args)
        if action.action == "promote":
            await self.backend.promote()
            return {"actions": await self._actions("promotion", self.plan.promotion, strict=True)}
        if action.action == "incident":
            return await self._incident()
        if action.action == "complete":
            return {"actions": await self._actions("completion", self.plan.on_complete)}
        if action.action == "rollback":
            await self.backend.rollback()
            if self.state.promoted:  # an abort after promotion: reverse it, newest first
                return {"undone": await self._undo_promotion()}
            return {}
        raise RollguardError(f"unknown action {action.action!r}")

    async def _incident(self) -> dict[str, Any]:
        """Write incident.md/json, then deliver to every sink; a failing sink never blocks."""
        data = incident.build_incident(
            self.plan, self.state, self.store.events(self.id), run_dir=self.folder.path
        )
        md, js = incident.write_incident(self.folder, data)
        self.log(f"incident report written: {md}")
        results = await deliver(self.plan.incident.sinks, data)
        for r in results:
            self.log(f"incident sent to {r.sink}: {'ok' if r.ok else 'FAILED'}: {r.detail}")
        return {
            "files": [self.folder.relative(md), self.folder.relative(js)],
            "deliveries": [r.to_dict() for r in results],
        }

    async def _undo_promotion(self) -> list[dict[str, Any]]:
        out = []
        pairs = list(zip(self.plan.promotion, self.state.promotion, strict=False))
        for spec, result in reversed(pairs):
            undone = await promotion.undo_action(
                spec, result, folder=self.folder, base_dir=Path(self.state.base_dir)
            )
            self.log(f"undo promotion {undone['name']}: {undone['detail']}")
            out.append(undone)
        return out

    async def _actions(
        self, group: str, actions: list[Any], *, strict: bool = False
    ) -> list[dict[str, Any]]:
        """Run promotion or completion actions in order; ``strict`` stops at the first failure
        (the action is then retried, and a promotion that keeps failing rolls back)."""
        results = []
        for index, act in enumerate(actions):
            try:
                result = await promotion.run_action(
                    act,
                    folder=self.folder,
                    base_dir=Path(self.state.base_dir),
                    group=group,
                    index=index,
                    rollout_id=self.state.id,
                )
            except RollguardError as exc:
                result = {"name": act.name, "kind": act.kind, "ok": False, "detail": exc.message}
            self.log(
                f"{group}: {result['name']}: {'ok' if result['ok'] else 'FAILED'}: "
                f"{result['detail']}"
            )
            results.append(result)
            if strict and not result["ok"]:
                raise RollguardError(
                    f"{group} action {result['name']!r} failed: {result['detail']}"
                )
        return results

    def _render(self, plan: model.Plan) -> model.Plan:
        """The plan with every ``${...}`` filled in (addresses first: others refer to them)."""
        s = self.state
        context = {
            "run.id": s.id,
            "run.dir": s.run_dir,
            "plan.dir": s.base_dir,
            "run.python": sys.executable,  # the interpreter running rollguard, for Python tools
        }

        def fill(text: str) -> str:
            return str(templates.render(text, context, env=os.environ))

        context |= {
            "stable.url": fill(plan.stable.url),
            "stable.version": fill(plan.stable.version),
            "candidate.url": fill(plan.candidate.url),
            "candidate.version": fill(plan.candidate.version),
            "router.url": "http://" + fill(plan.backend.listen),
        }
        return templates.render_model(plan, context, env=os.environ)

    def _group(self, group: str) -> list[model.CheckBase]:
        if group == "preflight":
            return list(self.plan.preflight)
        if group == "post_validation":
            return list(self.plan.post_validation)
        if group == "rollback.verify":
            return list(self.plan.rollback.verify)
        index = int(group.removeprefix("steps[").split("]")[0])
        return list(self.plan.steps[index].smoke or [])

    async def _run_checks(self, group: str) -> dict[str, Any]:
        # A group run again (after a resume) gets fresh folders: earlier output stays evidence.
        attempt = (
            sum(
                1
                for e in self.store.events(self.id)
                if e.type == "action_started" and e.data.get("args", {}).get("group") == group
            )
            - 1
        )
        entries: list[dict[str, Any]] = []
        for index, spec in enumerate(self._group(group)):
            folder = self.folder.check_dir(group, index, spec.name, attempt=max(0, attempt))
            started = self.clock.now()
            try:
                result = await run_check(
                    spec, CheckContext(evidence_dir=folder, base_dir=Path(self.state.base_dir))
                )
            except RollguardError as exc:
                result = CheckResult(
                    name=spec.name,
                    kind=str(getattr(spec, "kind", "?")),
                    status="error",
                    summary=exc.message,
                    duration=self.clock.now() - started,
                )
            entry = result.to_dict()
            entry["folder"] = self.folder.relative(folder)
            self.folder.write_json(f"{entry['folder']}/result.json", entry)
            entries.append(entry)
            self.log(narrate.check_line(group, entry))
        return {
            "group": group,
            "passed": all(e["status"] == "passed" for e in entries),
            "results": entries,
            "finished_at": self.clock.now(),
        }

    async def _observe(self, args: dict[str, Any]) -> dict[str, Any]:
        now = self.clock.now()
        traffic = self.backend.traffic()
        used = sorted({t.metric for t in self.plan.triggers})
        seq = self.state.last_seq + 1
        if args.get("purpose") == "baseline":
            since, until = float(args["since"]), float(args["until"])
            stable = {
                name: (await self._measure(name, "stable", since, until, traffic)).to_dict()
                for name in used
            }
            out: dict[str, Any] = {"since": since, "until": until, "stable": stable}
            self.folder.write_json(f"metrics/{seq:05d}-baseline.json", out)
            return out
        metrics: dict[str, Any] = {}
        for name in used:
            spec = self.plan.metrics[name]
            window = spec.window or self.plan.analysis.window
            since = max(now - window, self.state.canary_since or now)
            metrics[name] = {
                version: (await self._measure(name, version, since, now, traffic)).to_dict()
                for version in ("stable", "candidate")
            }
        out = {"until": now, "weight": self.state.weight, "metrics": metrics}
        if judging.statistical(self.plan):
            out["intervals"] = self._intervals(traffic, until=now)
        self.folder.write_json(f"metrics/{seq:05d}-analysis.json", out)
        return out

    def _intervals(self, traffic: TrafficStats | None, *, until: float) -> dict[str, Any]:
        """Counts of each version since the previous observation, for statistical judges."""
        if traffic is None:
            return {"error": "no request counts: statistical judges need a backend with a router"}
        # Whole seconds, each counted once: the router buckets traffic by second, and the
        # judges need intervals that do not overlap.
        previous = ((self.state.observation or {}).get("intervals") or {}).get("until")
        start = previous if previous is not None else (self.state.canary_since or until)
        since, until = float(math.floor(start)), float(math.floor(until))
        with_latencies = any(
            getattr(self.plan.metrics[t.metric], "query", "") in judging.QUANTILES
            for t in judging.statistical(self.plan)
        )
        out: dict[str, Any] = {"since": since, "until": until}
        for version in ("stable", "candidate"):
            w = traffic.window(version, since=since, until=until)
            out[version] = {"requests": w.requests, "errors": w.errors}
            if with_latencies:
                out[version]["latencies"] = [round(x, 6) for x in w.latencies]
        return out

    async def _measure(
        self, name: str, version: str, since: float, until: float, traffic: Any
    ) -> Measurement:
        spec = self.plan.metrics[name]
        timeout = max(1.0, min(30.0, self.plan.analysis.interval))
        try:
            return await asyncio.wait_for(
                measure(
                    spec,
                    version=version,
                    since=since,
                    until=until,
                    traffic=traffic,
                    labels={"role": version, "version": getattr(self.plan, version).version},
                ),
                timeout=timeout,
            )
        except TimeoutError:
            return Measurement(None, 0, error=f"{spec.kind} provider timed out after {timeout:g}s")
        except Exception as exc:  # noqa: BLE001 - a provider failure is data, not a crash
            return Measurement(None, 0, error=f"{type(exc).__name__}: {exc}")
