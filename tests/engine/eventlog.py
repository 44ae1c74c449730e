"""Helpers to build event logs by hand for the pure decision code."""

from __future__ import annotations

from typing import Any

from rollguard.engine.state import RolloutState, fold
from rollguard.plan import model
from rollguard.store.base import Event

T0 = 1_800_000_000.0


def make_plan(**overrides: Any) -> model.Plan:
    data: dict[str, Any] = {
        "apiVersion": "rollguard/v1",
        "name": "chat",
        "stable": {"version": "node", "url": "http://127.0.0.1:3010"},
        "candidate": {"version": "go", "url": "http://127.0.0.1:3011"},
        "analysis": {"interval": "2s", "window": "30s", "baseline": "10s", "min_samples": 20},
        "metrics": {"errors": {"query": "error_ratio"}, "p95": {"query": "p95"}},
        "triggers": [
            {
                "name": "5xx",
                "metric": "errors",
                "any": [{"max": "0.5%"}, {"max_ratio_to_baseline": 5}],
            },
            {
                "name": "latency",
                "metric": "p95",
                "any": [{"max": "250ms"}, {"max_ratio_to_baseline": 2}],
            },
        ],
        "owners": {"sre": ["bob"], "migration_owner": ["alice"]},
        "steps": [
            {"weight": 5, "observe": "10s"},
            {"approve": ["sre"]},
            {"weight": 100, "observe": "10s"},
        ],
    }
    data.update(overrides)
    return model.Plan.model_validate(data)


class Log:
    """An event log written by hand, folded on demand."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.add(
            "rollout_created",
            T0,
            plan_name="chat",
            plan_text="",
            plan_path="p.yaml",
            base_dir="/tmp",
            run_dir="/tmp/run",
        )

    def add(self, type_: str, at: float, **data: Any) -> Log:
        self.events.append(Event("r1", len(self.events) + 1, at, type_, data))
        return self

    def apply(self, decision_events: list[tuple[str, dict[str, Any]]], at: float) -> Log:
        for type_, data in decision_events:
            self.add(
                type_, at, **{k: (v.value if hasattr(v, "value") else v) for k, v in data.items()}
            )
        return self

    def act(
        self,
        action: str,
        at: float,
        ok: bool = True,
        result: dict[str, Any] | None = None,
        **args: Any,
    ) -> Log:
        aid = f"a{len(self.events) + 1}"
        self.add("action_started", at, id=aid, action=action, args=args)
        payload: dict[str, Any] = {"id": aid, "action": action, "args": args, "ok": ok}
        if ok:
            payload["result"] = result or {}
        else:
            payload["error"] = "boom"
        return self.add("action_finished", at, **payload)

    def state(self) -> RolloutState:
        return fold(self.events)


def measurement(value: float | None, samples: int, error: str | None = None) -> dict[str, Any]:
    return {"value": value, "samples": samples, "error": error}


def observation(
    errors: float = 0.0,
    p95: float = 0.01,
    samples: int = 100,
    stable_errors: float = 0.0,
    stable_p95: float = 0.01,
    error: str | None = None,
) -> dict[str, Any]:
    cand = lambda v: measurement(None if error else v, 0 if error else samples, error)  # noqa: E731
    return {
        "metrics": {
            "errors": {"candidate": cand(errors), "stable": measurement(stable_errors, 1000)},
            "p95": {"candidate": cand(p95), "stable": measurement(stable_p95, 1000)},
        }
    }
