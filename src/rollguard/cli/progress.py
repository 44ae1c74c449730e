"""Live progress of a running rollout: a rich panel on a terminal, plain lines elsewhere.

The panel shows the phase, the step, the weight, what the rollout waits for, the time left in
the observation window, and each trigger's latest value against its bound.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from rollguard.engine import judging
from rollguard.engine.decide import Decision
from rollguard.engine.state import RolloutState
from rollguard.metric_format import format_value, verdict_value
from rollguard.plan import model
from rollguard.store.base import Event

STATUS_STYLE = {"pass": "green", "inconclusive": "yellow", "error": "magenta", "fail": "bold red"}


def bounds_text(plan: model.Plan, trigger: model.Trigger) -> str:
    """``> 0.50% or > 5x baseline``."""
    if trigger.judge != "threshold":
        return judging.describe_bounds(plan, trigger)
    query = plan.metrics[trigger.metric].query
    parts = []
    for c in trigger.conditions():
        if c.max is not None:
            parts.append(f"> {format_value(query, c.max)}")
        elif c.min is not None:
            parts.append(f"< {format_value(query, c.min)}")
        elif c.max_ratio_to_baseline is not None:
            parts.append(f"> {c.max_ratio_to_baseline:g}x baseline")
    return " or ".join(parts)


def render_panel(plan: model.Plan, state: RolloutState, waiting: str, now: float) -> Panel:
    """The live panel for one moment of a rollout."""
    head = Table.grid(padding=(0, 2))
    head.add_column(style="bold")
    head.add_column()
    step_text = "-"
    if state.step is not None:
        step = plan.steps[state.step]
        step_text = f"{state.step + 1}/{len(plan.steps)} ({step.name or step.kind})"
        if step.weight is not None and step.observe and state.weight_since and not state.final:
            left = max(0.0, max(state.weight_since, state.step_since) + step.observe - now)
            step_text += f", {left:.0f}s left in window"
    head.add_row("phase", state.phase.value)
    head.add_row("step", step_text)
    head.add_row("weight", f"{state.weight}% on candidate {plan.candidate.version}")
    if waiting:
        head.add_row("waiting", waiting)
    table = Table(expand=True, show_edge=False)
    for col in ("trigger", "candidate", "stable/baseline", "fires when", "samples", "verdict"):
        table.add_column(col)
    verdicts = {v["trigger"]: v for v in state.verdicts}
    for trigger in plan.triggers:
        # a statistical judge's numbers are shares of requests, whatever the metric
        query = (
            "error_ratio" if trigger.judge != "threshold" else plan.metrics[trigger.metric].query
        )
        v = verdicts.get(trigger.name)
        if v is None:
            table.add_row(trigger.name, "-", "-", bounds_text(plan, trigger), "-", "not yet")
            continue
        table.add_row(
            trigger.name,
            verdict_value(v, "value", query=query),
            verdict_value(v, "baseline", query=query),
            bounds_text(plan, trigger),
            str(v.get("samples", 0)),
            Text(v["status"], style=STATUS_STYLE.get(v["status"], "")),
        )
    return Panel(Group(head, table), title=f"rollout {state.id} — {plan.name}")


class Progress:
    """Receives runner callbacks and shows them."""

    def __init__(self, console: Console, plan: model.Plan | None = None, *, live: bool) -> None:
        self.console = console
        self.plan = plan
        self.live_enabled = live
        self.live: Live | None = None
        self.state: RolloutState | None = None
        self.waiting = ""

    def __enter__(self) -> Progress:
        if self.live_enabled:
            self.live = Live(console=self.console, refresh_per_second=4, transient=True)
            self.live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.live is not None:
            self.live.__exit__(*exc)

    def log(self, line: str) -> None:
        stamp = dt.datetime.now().strftime("%H:%M:%S")
        self.console.print(f"[dim]{stamp}[/dim] {line}", highlight=False)

    def update(self, state: RolloutState, decision: Decision | None, event: Event | None) -> None:
        self.state = state
        if decision is not None:
            self.waiting = decision.waiting
        if self.live is not None and self.plan is not None and state.id:
            self.live.update(render_panel(self.plan, state, self.waiting, time.time()))
