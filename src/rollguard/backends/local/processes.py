"""Local processes of the stable and the candidate version: start, adopt, stop.

A version is started from its :class:`~rollguard.plan.model.VersionSpec` (argv ``command``
or ``shell`` line, ``env`` added to the controller's environment, ``cwd`` relative to the
plan's folder) in a session and process group of its own, so that:

- it outlives a controller killed with ``kill -9`` (a resumed rollout *adopts* it through
  the pidfile ``run_dir/processes/<role>.pid`` instead of starting a second copy), and
- stopping it reaches everything it spawned (SIGTERM to the group, SIGKILL after
  ``stop_timeout``).

Its stdout and stderr are appended to ``run_dir/processes/<role>-<version>.log``, whose last
lines are quoted when it fails to become healthy. A version is ready when its health URL
answers 2xx. A URL that already answers while no process of ours runs is an *externally
managed* version: it is used, logged as such, and never stopped.

Invariants: a pidfile exists exactly while a process rollguard started for that role may be
alive; ``stop`` is idempotent; children started by this Python process are always reaped (a
zombie is never mistaken for a live process, nor left behind).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from rollguard.errors import PermanentError
from rollguard.plan import model

POLL_INTERVAL = 0.1
"""Seconds between two health probes or two liveness checks."""

LOG_TAIL_LINES = 20

# Children started by this Python process, so that any backend instance (also a new one made
# for the same run_dir) can reap them and tell a zombie from a live process.
_children: dict[int, subprocess.Popen[bytes]] = {}


@dataclass
class VersionProcess:
    """One running version: ours (``pid`` set) or externally managed (``external``)."""

    role: str  # "stable" or "candidate"
    version: str
    url: str
    health_url: str
    pid: int | None  # also the process group id (a new session per version)
    external: bool = False
    adopted: bool = False  # found running from an earlier controller, not started by us


def health_url(spec: model.VersionSpec) -> str:
    """The URL probed for readiness: ``health`` joined to ``url`` when it is a path.

    >>> health_url(model.VersionSpec(version="v1", url="http://127.0.0.1:3010/"))
    'http://127.0.0.1:3010/status'
    """
    if spec.health.startswith("/"):
        return spec.url.rstrip("/") + spec.health
    return spec.health


def process_dir(run_dir: Path) -> Path:
    return run_dir / "processes"


def log_path(run_dir: Path, *, role: str, version: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", version)
    return process_dir(run_dir) / f"{role}-{safe}.log"


def pidfile_path(run_dir: Path, role: str) -> Path:
    return process_dir(run_dir) / f"{role}.pid"


async def probe(url: str, *, timeout: float = 2.0) -> str | None:
    """None when ``url`` answers 2xx, else why not (``HTTP 503``, ``ConnectError: ...``)."""
    try:
        async with httpx.AsyncClient(timeout=timeout, trust_env=False) as client:
            response = await client.get(url)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"


async def ensure_running(
    spec: model.VersionSpec,
    *,
    role: str,
    run_dir: Path,
    base_dir: Path,
    log: Callable[[str], None] = print,
) -> VersionProcess:
    """Adopt the version when it already runs (pidfile or answering URL), else start it."""
    check_url = health_url(spec)
    pid = read_pidfile(run_dir, role)
    if pid is not None and _process_alive(pid):
        proc = VersionProcess(role, spec.version, spec.url, check_url, pid, adopted=True)
        await _wait_healthy(proc, timeout=spec.start_timeout, run_dir=run_dir)
        log(f"{role} {spec.version}: adopted running process {pid} ({spec.url})")
        return proc
    if pid is not None:
        pidfile_path(run_dir, role).unlink(missing_ok=True)  # left by a process that died
    if await probe(check_url) is None:
        log(
            f"{role} {spec.version}: {check_url} already answers and no process of ours runs; "
            "treating it as externally managed (it will not be stopped)"
        )
        return VersionProcess(role, spec.version, spec.url, check_url, None, external=True)
    return await start(spec, role=role, run_dir=run_dir, base_dir=base_dir, log=log)


async def start(
    spec: model.VersionSpec,
    *,
    role: str,
    run_dir: Path,
    base_dir: Path,
    log: Callable[[str], None] = print,
) -> VersionProcess:
    """Start the version in its own process group and wait until its health URL answers 2xx.

    Raises :class:`PermanentError` naming the version, the URL, the last probe error and the
    log tail when it exits early or is not healthy within ``start_timeout``.
    """
    if spec.command is not None:
        argv = list(spec.command)
    elif spec.shell is not None:
        argv = ["/bin/sh", "-c", spec.shell]
    else:
        raise PermanentError(
            f"{role} version {spec.version}: nothing answers at {health_url(spec)} "
            "and the plan gives no `command` or `shell` to start it"
        )
    cwd = base_dir / spec.cwd if spec.cwd else base_dir
    logfile = log_path(run_dir, role=role, version=spec.version)
    logfile.parent.mkdir(parents=True, exist_ok=True)
    with logfile.open("ab") as out:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        out.write(f"--- rollguard {stamp}: starting {role} {spec.version}: {argv}\n".encode())
        out.flush()
        try:
            popen = subprocess.Popen(
                argv,
                cwd=cwd,
                env={**os.environ, **spec.env},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise PermanentError(f"cannot start {role} version {spec.version}: {exc}") from exc
    _children[popen.pid] = popen
    pidfile_path(run_dir, role).write_text(f"{popen.pid}\n{spec.version}\n")
    proc = VersionProcess(role, spec.version, spec.url, health_url(spec), popen.pid)
    log(f"{role} {spec.version}: started process {popen.pid}, waiting for {proc.health_url}")
    try:
        await _wait_healthy(proc, timeout=spec.start_timeout, run_dir=run_dir)
    except PermanentError:
        await stop(proc, run_dir=run_dir, timeout=2.0, log=log)
        raise
    log(f"{role} {spec.version}: healthy at {proc.health_url}")
    return proc


async def _wait_healthy(proc: VersionProcess, *, timeout: float, run_dir: Path) -> None:
    deadline = time.monotonic() + timeout
    last_error = "not probed yet"
    while True:
        failure = await probe(proc.health_url)
        if failure is None:
            return
        last_error = failure
        popen = _children.get(proc.pid) if proc.pid is not None else None  # before a reap
        if proc.pid is not None and not _process_alive(proc.pid):
            code = popen.returncode if popen is not None else None
            how = f"exited with code {code}" if code is not None else "exited"
            raise PermanentError(
                f"{proc.role} version {proc.version} {how} before {proc.health_url} answered "
                f"(last error: {last_error})" + _log_tail(run_dir, proc)
            )
        if time.monotonic() >= deadline:
            raise PermanentError(
                f"{proc.role} version {proc.version} is not healthy at {proc.health_url} after "
                f"{timeout:g}s (last error: {last_error})" + _log_tail(run_dir, proc)
            )
        await asyncio.sleep(POLL_INTERVAL)


def _log_tail(run_dir: Path, proc: VersionProcess) -> str:
    path = log_path(run_dir, role=proc.role, version=proc.version)
    try:
        lines = path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:]
    except OSError:
        return ""
    return f"\nlast lines of {path}:\n" + "\n".join(f"  {line}" for line in lines)


async def stop(
    proc: VersionProcess,
    *,
    run_dir: Path,
    timeout: float,
    log: Callable[[str], None] = print,
) -> None:
    """SIGTERM the version's process group, SIGKILL after ``timeout``; idempotent.

    Externally managed versions are left alone.
    """
    if proc.external or proc.pid is None:
        return
    pgid = proc.pid
    if _group_alive(pgid):
        log(f"{proc.role} {proc.version}: stopping process group {pgid}")
        _signal_group(pgid, signal.SIGTERM)
        if not await _wait_gone(pgid, timeout=timeout):
            log(f"{proc.role} {proc.version}: still running after {timeout:g}s, sending SIGKILL")
            _signal_group(pgid, signal.SIGKILL)
            await _wait_gone(pgid, timeout=5.0)
    pidfile = pidfile_path(run_dir, proc.role)
    if read_pidfile(run_dir, proc.role) == proc.pid:
        pidfile.unlink(missing_ok=True)


def is_running(proc: VersionProcess) -> bool:
    """Whether the process of ``proc`` is alive (always True for an external version)."""
    return proc.external or (proc.pid is not None and _process_alive(proc.pid))


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


async def _wait_gone(pgid: int, *, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while _group_alive(pgid):
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(POLL_INTERVAL / 2)
    return True


def _reap(pid: int) -> None:
    popen = _children.get(pid)
    if popen is not None and popen.poll() is not None:
        del _children[pid]


def _process_alive(pid: int) -> bool:
    _reap(pid)
    popen = _children.get(pid)
    if popen is not None:
        return popen.returncode is None
    stat = _read_stat(str(pid))
    if stat is not None:
        return stat[0] not in "ZX"
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _group_alive(pgid: int) -> bool:
    _reap(pgid)
    if sys.platform.startswith("linux"):
        # /proc tells zombies apart: a dead member whose parent has not reaped it yet (or an
        # init that never reaps) must not count as running.
        return any(g == pgid and s not in "ZX" for s, g in _proc_states().values())
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _proc_states() -> dict[int, tuple[str, int]]:
    """``pid -> (state, process group)`` of every process, from /proc."""
    out: dict[int, tuple[str, int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and (stat := _read_stat(entry.name)) is not None:
            out[int(entry.name)] = stat
    return out


def _read_stat(pid: str) -> tuple[str, int] | None:
    """``(state, process group)`` of one process from /proc, None when unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None  # no such process, or no /proc on this system
    # The command name may hold spaces and parentheses: the fields start after the last ')'.
    fields = stat[stat.rfind(b")") + 2 :].split()
    return fields[0].decode(), int(fields[2])


def read_pidfile(run_dir: Path, role: str) -> int | None:
    try:
        first = pidfile_path(run_dir, role).read_text().split("\n", 1)[0].strip()
    except OSError:
        return None
    return int(first) if first.isdigit() else None


__all__ = [
    "VersionProcess",
    "ensure_running",
    "health_url",
    "is_running",
    "log_path",
    "pidfile_path",
    "probe",
    "read_pidfile",
    "start",
    "stop",
]
