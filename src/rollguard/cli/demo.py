"""``rollguard demo``: a real local rollout of the example chat service, end to end.

It runs ``examples/chat/rollout.yaml`` (the seed runbook as a plan) with the local backend:
the stable and candidate builds start as real processes behind the built-in router, a traffic
generator sends steady load through the router, and the rollout moves the candidate through
its canary steps, judging real metrics. ``--fault`` starts the candidate with a fault switch
on, so the rollout rolls back on its own. Every process it started is stopped at the end,
also on Ctrl-C.

The plan's image checks and its promotion (a retag) need a registry: unless ``CHAT_REGISTRY``
names one already, the demo starts Debian's ``docker-registry`` on a free port with
``examples/chat/local_registry.py`` (storage in a scratch folder beside the store, removed at
the end), pushes the two chat images to it and points ``CHAT_REGISTRY`` at it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Annotated

import typer

from rollguard import ports
from rollguard.cli.main import AutoApprove, OutputOpt, StoreOpt, app, drive
from rollguard.cli.output import Output, console, errors_to_exit
from rollguard.engine.service import Service, runs_dir
from rollguard.errors import RollguardError
from rollguard.plan.loader import load_plan

# Faults begin 12 s after the candidate starts: about 7 s into the canary, before its smoke
# checks, so the rollback shows how fast a trigger fires.
FAULTS = {
    # fault -> candidate environment (read by the plan's ${env.CANDIDATE_FAULT_*:-...})
    "5xx": {"CANDIDATE_FAULT_5XX": "0.2", "CANDIDATE_FAULT_AFTER": "12"},
    "latency": {"CANDIDATE_FAULT_LATENCY": "0.15", "CANDIDATE_FAULT_AFTER": "12"},
    "writes": {"CANDIDATE_FAULT_DROP_WRITES": "1"},
}
PORTS = {"CHAT_STABLE_PORT": 3010, "CHAT_CANDIDATE_PORT": 3011, "CHAT_ROUTER_PORT": 3080}


def find_example(start: Path | None = None) -> Path:
    """``examples/chat/rollout.yaml`` from the current folder upwards, or beside the source."""
    here = (start or Path.cwd()).resolve()
    roots = [here, *here.parents, Path(__file__).resolve().parents[3]]
    for root in roots:
        candidate = root / "examples" / "chat" / "rollout.yaml"
        if candidate.is_file():
            return candidate
    raise RollguardError(
        "cannot find examples/chat/rollout.yaml: run the demo from a rollguard checkout"
    )


def _port_free(port: int) -> bool:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as servers do: TIME_WAIT is free
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _free_port() -> int:
    return ports.free_port()


def demo_environment(fault: str | None) -> dict[str, str]:
    """Ports (the runbook's when free, others when not) and the candidate's fault switches."""
    env: dict[str, str] = {}
    for name, default in PORTS.items():
        if name in os.environ:
            continue
        env[name] = str(default if _port_free(default) else _free_port())
    env.update(FAULTS.get(fault or "", {}))
    return env


def _load_registry_module(example_dir: Path) -> ModuleType:
    """``examples/chat/local_registry.py`` (an example script, not part of the package)."""
    path = example_dir / "local_registry.py"
    spec = importlib.util.spec_from_file_location("chat_local_registry", path)
    if spec is None or spec.loader is None:
        raise RollguardError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def demo_registry(example_dir: Path, scratch_parent: Path) -> Iterator[str | None]:
    """A local registry holding both chat images for the duration of the demo.

    Yields its ``host:port``, or None when ``CHAT_REGISTRY`` is already set (that registry is
    used as it is). The registry process and its storage are removed on the way out, also
    when the demo fails or is interrupted.
    """
    if os.environ.get("CHAT_REGISTRY"):
        yield None
        return
    registry = _load_registry_module(example_dir)
    if registry.binary() is None:
        raise RollguardError(
            "the demo needs a local OCI registry for its image checks and its promotion: "
            "install Debian's docker-registry (`sudo apt-get install docker-registry`, or run "
            "`make demo` as root, which installs it), or set CHAT_REGISTRY=HOST:PORT to a "
            "registry that holds chat:node-1.8.2 and chat:go-3f9c2e1"
        )
    scratch_parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="registry-", dir=scratch_parent))
    proc: subprocess.Popen[bytes] | None = None
    try:
        port = _free_port()
        try:
            proc = registry.start(folder, port=port)
            host = f"127.0.0.1:{port}"
            asyncio.run(registry.push_chat_images(host))
        except RuntimeError as exc:
            raise RollguardError(f"demo registry: {exc}") from None
        os.environ["CHAT_REGISTRY"] = host
        try:
            yield host
        finally:
            os.environ.pop("CHAT_REGISTRY", None)
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(folder, ignore_errors=True)


@app.command()
def demo(
    fault: Annotated[
        str | None,
        typer.Option(help="Start the candidate with a fault: 5xx, latency or writes."),
    ] = None,
    rate: Annotated[float, typer.Option(help="Requests per second of background traffic.")] = 60.0,
    store: StoreOpt = None,
    output: OutputOpt = Output.text,
    auto_approve: AutoApprove = True,
) -> None:
    """Run the example chat rollout for real on this machine (about a minute).

    Exit code 0 when the candidate is promoted, 3 when it was rolled back."""
    with errors_to_exit(output):
        if fault is not None and fault not in FAULTS:
            raise typer.BadParameter(f"expected one of {', '.join(FAULTS)}", param_hint="--fault")
        plan_path = find_example()
        os.environ.update(demo_environment(fault))
        svc = Service(store)
        scratch = runs_dir(svc.location).parent
        try:
            with demo_registry(plan_path.parent, scratch) as registry:
                code = _demo_rollout(
                    svc,
                    plan_path,
                    fault=fault,
                    rate=rate,
                    registry=registry,
                    output=output,
                    auto_approve=auto_approve,
                )
        finally:
            svc.close()
    raise typer.Exit(code)


def _demo_rollout(
    svc: Service,
    plan_path: Path,
    *,
    fault: str | None,
    rate: float,
    registry: str | None,
    output: Output,
    auto_approve: bool,
) -> int:
    """Create the rollout, start background traffic and drive the rollout to its end."""
    loaded = load_plan(plan_path)
    if "CHAT_DEPLOY_DIR" not in os.environ:
        # Promotion rewrites deploy files: the demo rewrites a copy, not the checkout.
        copy = Path(tempfile.mkdtemp(prefix="deploy-", dir=runs_dir(svc.location).parent))
        shutil.copytree(plan_path.parent / "deploy", copy, dirs_exist_ok=True)
        os.environ["CHAT_DEPLOY_DIR"] = str(copy)
    rollout_id = svc.create(loaded)
    router = f"http://127.0.0.1:{os.environ['CHAT_ROUTER_PORT']}"
    if output == Output.text:
        console.print(
            f"demo: rolling out chat {loaded.plan.stable.version} -> "
            f"{loaded.plan.candidate.version}"
            + (f" with fault {fault!r} in the candidate" if fault else "")
            + f"; traffic {rate:g} req/s through {router}; rollout {rollout_id}"
        )
        if registry is not None:
            console.print(f"demo: images chat:node-1.8.2 and chat:go-3f9c2e1 in {registry}")
    traffic = subprocess.Popen(
        [
            sys.executable,
            str(plan_path.parent / "traffic.py"),
            "--url",
            router,
            "--rate",
            str(rate),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        return drive(
            svc,
            rollout_id,
            output=output,
            auto_approve=auto_approve,
            stop_on_exit=True,
            plan=loaded.plan,
        )
    finally:
        _stop(traffic)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
