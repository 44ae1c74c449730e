"""The ``rollguard`` command line.

Every command takes ``--output json``; exit codes are the same everywhere (see
:class:`rollguard.engine.phases.ExitCode`): 0 completed, 1 internal error, 2 invalid input,
3 rolled back, 4 preflight failed, 5 aborted, 130 controller interrupted (resumable).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.panel import Panel
from rich.table import Table

from rollguard import __version__
from rollguard.cli.output import Output, console, emit_json, errors_to_exit
from rollguard.cli.progress import Progress, render_panel
from rollguard.engine import narrate
from rollguard.engine import signoff as signoff_mod
from rollguard.engine.phases import EXIT_CODES_HELP, ExitCode
from rollguard.engine.service import Service
from rollguard.engine.state import RolloutState
from rollguard.plan import model
from rollguard.plan.loader import load_plan

INTERRUPTED = 130

app = typer.Typer(
    name="rollguard",
    help="Run a rollout plan: preflight, canary steps, metric triggers, automatic rollback, "
    f"evidence.\n\n{EXIT_CODES_HELP} 130: controller interrupted (the rollout can be resumed).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        envvar="ROLLGUARD_STORE",
        help="Store file or SQLAlchemy URL [default: .rollguard/rollguard.db].",
    ),
]
OutputOpt = Annotated[
    Output, typer.Option("--output", "-o", help="text for people, json for scripts.")
]
AutoApprove = Annotated[
    bool,
    typer.Option(
        "--auto-approve",
        help="Approve every approval step as the plan's first owner "
        "of each role (for demos and tests; recorded as auto-approved).",
    ),
]


def _version(value: bool) -> None:
    if value:
        console.print(f"rollguard {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    pass


# ---------------------------------------------------------------------------- run / resume


def result_dict(state: RolloutState, events_count: int | None = None) -> dict[str, Any]:
    """The machine-readable outcome of a rollout."""
    return {
        "id": state.id,
        "plan": state.plan_name,
        "state": state.phase.value,
        "outcome": state.outcome,
        "exit_code": state.exit_code,
        "step": None if state.step is None else state.step + 1,
        "weight": state.weight,
        "trigger": state.fired,
        "rollback": state.rollback_reason,
        "checks": {
            g: {"passed": c.get("passed"), "results": c.get("results", [])}
            for g, c in state.checks.items()
        },
        "approvals": {str(k + 1): v for k, v in state.approvals.items()},
        "signoffs": state.signoffs,
        "verdicts": state.verdicts,
        "evidence": state.run_dir,
        "summary": str(Path(state.run_dir) / "summary.md") if state.run_dir else None,
    }


def drive(
    svc: Service,
    rollout_id: str,
    *,
    output: Output,
    auto_approve: bool = False,
    stop_on_exit: bool = False,
    plan: model.Plan | None = None,
) -> int:
    """Run (or resume) a rollout in this process with progress; return the exit code."""
    interactive = output == Output.text and console.is_terminal
    with Progress(console, plan, live=interactive) as progress:
        log = progress.log if output == Output.text else (lambda _line: None)
        runner = svc.runner(
            rollout_id,
            listener=progress.update,
            log=log,
            auto_approve=auto_approve,
            stop_on_exit=stop_on_exit,
        )
        state = asyncio.run(_run_with_signals(svc, runner, log))
    if state.final:
        code = state.exit_code if state.exit_code is not None else int(ExitCode.INTERNAL_ERROR)
    else:
        code = INTERRUPTED
    if output == Output.json:
        emit_json(result_dict(state))
    else:
        print_summary(svc, state)
        if not state.final:
            console.print(f"controller stopped; continue with: rollguard resume {state.id}")
    return code


async def _run_with_signals(svc: Service, runner: Any, log: Any) -> RolloutState:
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(runner.run())
    presses = 0

    def on_sigint() -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            log(
                "Ctrl-C: aborting the rollout (rolling back). Press Ctrl-C again to stop the "
                "controller at once; the rollout stays resumable."
            )
            svc.abort(runner.id, by="ctrl-c", reason="interrupted from the terminal")
        else:
            task.cancel()

    loop.add_signal_handler(signal.SIGINT, on_sigint)
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        state: RolloutState = await task
    except asyncio.CancelledError:
        state = runner.state
    finally:
        loop.remove_signal_handler(signal.SIGINT)
        loop.remove_signal_handler(signal.SIGTERM)
    return state


def print_summary(svc: Service, state: RolloutState) -> None:
    """The one-screen summary printed when a rollout ends."""
    style = {"completed": "green", "rolled_back": "yellow", "aborted": "yellow"}.get(
        state.outcome or "", "red"
    )
    lines = [f"[bold {style}]{state.outcome or state.phase.value}[/]  rollout {state.id}"]
    finished = [e for e in svc.store.events(state.id) if e.type == "rollout_finished"]
    if finished:
        lines.append(f"why: {finished[-1].data['reason']}")
    if state.fired:
        v = state.fired
        lines.append(f"trigger: {v['trigger']} — {v['reason']} ({v['samples']} candidate requests)")
    table = Table(show_edge=False, expand=True)
    for col in ("group", "check", "status", "summary"):
        table.add_column(col)
    for group, c in state.checks.items():
        for r in c.get("results", []):
            table.add_row(group, r["name"], r["status"], r["summary"][:80])
    lines.append(f"evidence: {state.run_dir}")
    lines.append(f"summary:  {Path(state.run_dir) / 'summary.md'}")
    console.print(
        Panel("\n".join(lines[:2]) + ("\n" + lines[2] if state.fired else ""), title="rollguard")
    )
    if table.row_count:
        console.print(table)
    if state.phase.value in ("awaiting_signoff", "completed") or state.signoffs:
        info = svc.inspect(state.id)
        for item in signoff_mod.checklist(info.plan, state):
            mark = "[green]✓[/]" if item.holds else "[yellow]…[/]"
            console.print(f"{mark} {item.name}", highlight=False)
    console.print("\n".join(lines[-2:]), highlight=False)


@app.command()
def run(
    plan: Annotated[Path, typer.Argument(help="The plan file (YAML).")],
    store: StoreOpt = None,
    output: OutputOpt = Output.text,
    auto_approve: AutoApprove = False,
) -> None:
    """Start a rollout of PLAN and drive it to the end, showing progress.

    Ctrl-C once aborts (rolls back); twice stops the controller (resume later)."""
    with errors_to_exit(output):
        loaded = load_plan(plan)
        svc = Service(store)
        rollout_id = svc.create(loaded)
        if output == Output.text:
            console.print(f"rollout [bold]{rollout_id}[/] of plan {loaded.plan.name}")
        code = drive(svc, rollout_id, output=output, auto_approve=auto_approve, plan=loaded.plan)
    raise typer.Exit(code)


@app.command()
def resume(
    rollout_id: Annotated[
        str, typer.Argument(metavar="ID", help="Rollout id (a unique prefix works).")
    ],
    store: StoreOpt = None,
    output: OutputOpt = Output.text,
    auto_approve: AutoApprove = False,
) -> None:
    """Continue a rollout whose controller stopped (crash, kill, reboot) from where it was."""
    with errors_to_exit(output):
        svc = Service(store)
        info = svc.inspect(rollout_id)
        if info.state.final and output == Output.text:
            console.print(f"rollout {info.state.id} is already {info.state.phase.value}")
        code = drive(svc, info.state.id, output=output, auto_approve=auto_approve, plan=info.plan)
    raise typer.Exit(code)


# ---------------------------------------------------------------------------- inspect


@app.command()
def status(
    rollout_id: Annotated[
        str | None, typer.Argument(metavar="[ID]", help="Rollout id; default: the newest.")
    ] = None,
    store: StoreOpt = None,
    output: OutputOpt = Output.text,
) -> None:
    """Show where a rollout is: phase, step, weight, verdicts and its recent events."""
    with errors_to_exit(output):
        svc = Service(store)
        info = svc.inspect(rollout_id)
        if output == Output.json:
            emit_json(result_dict(info.state))
            return
        console.print(render_panel(info.plan, info.state, "", info.row.updated_at))
        events = svc.store.events(info.state.id)
        for e in events[-15:]:
            text = narrate.describe(e)
            if text:
                stamp = dt.datetime.fromtimestamp(e.at).strftime("%H:%M:%S")
                console.print(f"[dim]{stamp}[/dim] {text}", highlight=False)


@app.command()
def history(
    limit: Annotated[int, typer.Option(help="How many rollouts to list.")] = 20,
    store: StoreOpt = None,
    output: OutputOpt = Output.text,
) -> None:
    """List rollouts, newest first."""
    with errors_to_exit(output):
        rows = Service(store).history(limit=limit)
        if output == Output.json:
            emit_json([r.__dict__ for r in rows])
            return
        table = Table()
        for col in ("id", "plan", "state", "step", "weight", "outcome", "started"):
            table.add_column(col)
        for r in rows:
            table.add_row(
                r.id,
                r.plan_name,
                r.state,
                "-" if r.step is None else str(r.step + 1),
                f"{r.weight or 0}%",
                r.outcome or "-",
                dt.datetime.fromtimestamp(r.created_at).strftime("%Y-%m-%d %H:%M:%S"),
            )
        console.print(table)


# ---------------------------------------------------------------------------- people


@app.command()
def approve(
    rollout_id: Annotated[str, typer.Argument(metavar="ID")],
    by: Annotated[str, typer.Option("--as", help="Who approves (must be listed for the role).")],
    role: Annotated[
        str, typer.Option("--role", help="The role approved for, from the plan's owners.")
    ],
    note: Annotated[str, typer.Option(help="A note kept with the approval.")] = "",
    step: Annotated[
        int | None, typer.Option(help="Approval step number (default: the next one).")
    ] = None,
    store: StoreOpt = None,
    output: OutputOpt = Output.text,
) -> None:
    """Approve a waiting approval step as a person acting for a role."""
    with errors_to_exit(output):
        svc = Service(store)
        index = svc.approve(rollout_id, role=role, by=by, note=note, step=step)
        if output == Output.json:
            emit_json({"approved": True, "step": index + 1, "role": role, "by": by})
        else:
            console.print(f"step {index + 1} approved by {by} as {role}")


@app.command()
def signoff(
    rollout_id: Annotated[str, typer.Argument(metavar="ID")],
    role: Annotated[str, typer.Option("--role", help="The role signing, from the plan's owners.")],
    by: Annotated[str, typer.Option("--as", help="Who signs (must be listed for the role).")],
    note: Annotated[str, typer.Option(help="A note kept with the sign-off.")] = "",
    store: StoreOpt = None,
    output: OutputOpt = Output.text,
) -> None:
    """Sign the checklist items of a role; the rollout completes when every item holds."""
    with errors_to_exit(output):
        items = Service(store).signoff(rollout_id, role=role, by=by, note=note)
        if output == Output.json:
            emit_json({"signed": True, "role": role, "by": by, "items": items})
        else:
            console.print(f"{by} signed as {role}: " + "; ".join(items), highlight=False)


@app.command()
def abort(
    rollout_id: Annotated[str, typer.Argument(metavar="ID")],
    reason: Annotated[str, typer.Option(help="Why; kept in the evidence.")] = "",
    by: Annotated[str, typer.Option("--as", help="Who aborts.")] = "cli",
    store: StoreOpt = None,
    output: OutputOpt = Output.text,
) -> None:
    """Abort a rollout: its controller rolls back to stable (exit code 5 there)."""
    with errors_to_exit(output):
        full = Service(store).abort(rollout_id, by=by, reason=reason)
        if output == Output.json:
            emit_json({"abort_requested": True, "id": full})
        else:
            console.print(f"abort requested for {full}; its controller rolls back")


# ---------------------------------------------------------------------------- plans


@app.command()
def report(
    rollout_id: Annotated[
        str, typer.Argument(metavar="ID", help="Rollout id (a unique prefix works).")
    ],
    fmt: Annotated[
        str, typer.Option("--format", help="md (report.md), html (report.html) or both.")
    ] = "both",
    store: StoreOpt = None,
    output: OutputOpt = Output.text,
) -> None:
    """Render the migration audit of a rollout (finished or not) into its evidence folder."""
    from rollguard.evidence import report as audit
    from rollguard.evidence.folder import RunFolder

    if fmt not in ("md", "html", "both"):
        raise typer.BadParameter(f"expected md, html or both, not {fmt!r}", param_hint="--format")
    with errors_to_exit(output):
        svc = Service(store)
        info = svc.inspect(rollout_id)
        run_dir = Path(info.state.run_dir)
        data = audit.build_report(
            info.plan, info.state, svc.store.events(info.state.id), run_dir=run_dir
        )
        folder = RunFolder(run_dir)
        md = audit.write_markdown(folder, data) if fmt != "html" else None
        html = audit.write_html(folder, data) if fmt != "md" else None
        if output == Output.json:
            emit_json(
                {
                    "markdown": None if md is None else str(md),
                    "html": None if html is None else str(html),
                    "checklist": data["checklist"],
                }
            )
        else:
            console.print(
                f"migration audit of {info.state.id} ({data['outcome']})", highlight=False
            )
            for path in (md, html):
                if path is not None:
                    console.print(str(path), highlight=False)


@app.command()
def validate(
    plan: Annotated[Path, typer.Argument(help="The plan file (YAML).")],
    output: OutputOpt = Output.text,
) -> None:
    """Check a plan and report every error with its file, line and field (exit 2 when invalid)."""
    with errors_to_exit(output):
        loaded = load_plan(plan)
        p = loaded.plan
        checks = len(p.all_checks())
        if output == Output.json:
            emit_json(
                {
                    "valid": True,
                    "plan": p.name,
                    "steps": len(p.steps),
                    "triggers": len(p.triggers),
                    "checks": checks,
                }
            )
        else:
            console.print(
                f"{plan}: valid plan {p.name!r} ({len(p.steps)} steps, "
                f"{len(p.triggers)} triggers, {checks} checks)",
                highlight=False,
            )


def main() -> None:
    """Entry point of the ``rollguard`` console script."""
    from rollguard.cli import demo  # noqa: F401 - registers the demo command

    app()
