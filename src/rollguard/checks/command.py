"""The ``command`` check: run a program, keep its output and artifacts, judge expectations.

How a run goes:

1. The argv (``command``) or ``/bin/sh -c <shell>`` starts in ``cwd`` (relative to the plan's
   folder) with the environment of rollguard plus ``ctx.env`` plus the check's ``env``, in a
   process group of its own, stdin closed.
2. stdout and stderr are the files ``stdout.txt`` and ``stderr.txt`` of the evidence folder
   (no pipes in between): output is on disk as it is written and none is held in memory.
   Expectations read those files afterwards (JSON parsing reads at most
   :data:`rollguard.checks.expect.READ_CAP` bytes of one).
3. After ``timeout`` the whole group gets SIGTERM, then SIGKILL after :data:`GRACE` seconds,
   and the check is an ``error``. The group is also ended when the command exits normally, so
   a check never leaves a process behind (``server &`` in a shell check dies with the check).
4. Files matching the ``artifacts`` globs are copied to ``artifacts/`` with their paths
   relative to ``cwd`` (an absolute glob, or one reaching outside ``cwd``, keeps the path
   below its last literal folder). Files inside the check's own evidence folder are skipped.
5. ``command.json`` records argv, cwd, exit code, duration and the *names* of the added
   environment variables; their values may be secrets and are never written.

A missing binary or working directory, or a timeout, is status ``error``: never a pass.
"""

from __future__ import annotations

import asyncio
import glob
import json
import os
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rollguard.checks import expect
from rollguard.checks.base import CheckContext, CheckResult, CheckStatus
from rollguard.durations import format_duration
from rollguard.plan import model

GRACE = 2.0
"""Seconds between SIGTERM and SIGKILL when a command's process group is ended."""

_DEFAULT_EXPECT = (model.Expect(exit_code=0),)
_MAGIC = frozenset("*?[")


@dataclass(frozen=True)
class _Execution:
    exit_code: int | None = None
    timed_out: bool = False
    error: str | None = None  # the command could not start
    stdout_bytes: int = 0
    stderr_bytes: int = 0


class CommandCheckRunner:
    """Runs ``kind: command`` checks (see the module docstring for the exact behaviour)."""

    async def run(self, spec: model.CommandCheck, ctx: CheckContext) -> CheckResult:
        """Run ``spec`` and report the outcome; evidence goes to ``ctx.evidence_dir``."""
        started = time.monotonic()
        evidence_dir = ctx.evidence_dir
        evidence_dir.mkdir(parents=True, exist_ok=True)
        cwd = (ctx.base_dir / spec.cwd) if spec.cwd else ctx.base_dir
        if spec.command is not None:
            argv = list(spec.command)
        else:
            argv = ["/bin/sh", "-c", spec.shell or ""]
        added = {**ctx.env, **spec.env}
        record: dict[str, Any] = {
            "argv": argv,
            "cwd": str(cwd),
            "env_added": sorted(added),
        }
        details: list[str] = []
        evidence: list[str] = []

        def finish(status: CheckStatus, summary: str) -> CheckResult:
            record["duration"] = round(time.monotonic() - started, 3)
            record["status"] = status
            (evidence_dir / "command.json").write_text(json.dumps(record, indent=2) + "\n")
            return CheckResult(
                name=spec.name,
                kind=spec.kind,
                status=status,
                summary=summary,
                duration=time.monotonic() - started,
                details=details,
                evidence=[*evidence, "command.json"],
            )

        if not cwd.is_dir():
            record["error"] = f"working directory not found: {cwd}"
            return finish("error", record["error"])

        run = await _execute(
            argv,
            cwd=cwd,
            env={**os.environ, **added},
            timeout=spec.timeout,
            stdout_path=evidence_dir / "stdout.txt",
            stderr_path=evidence_dir / "stderr.txt",
        )
        record.update(
            exit_code=run.exit_code,
            timed_out=run.timed_out,
            stdout_bytes=run.stdout_bytes,
            stderr_bytes=run.stderr_bytes,
        )
        evidence += ["stdout.txt", "stderr.txt"]
        if run.error is not None:
            record["error"] = run.error
            return finish("error", run.error)

        artifacts, unmatched, notes = collect_artifacts(
            spec.artifacts, cwd=cwd, dest=evidence_dir / "artifacts", skip=evidence_dir
        )
        evidence += [f"artifacts/{a.name}" for a in artifacts]
        record["artifacts"] = [a.name for a in artifacts]
        record["unmatched_globs"] = unmatched
        details += [f"artifact glob matched nothing: {g}" for g in unmatched] + notes

        if run.timed_out:
            details.insert(0, f"process group ended (SIGTERM, SIGKILL after {GRACE:g}s)")
            return finish("error", f"timed out after {format_duration(spec.timeout)}")

        stdout = expect.Text("stdout", path=evidence_dir / "stdout.txt")
        stderr = expect.Text("stderr", path=evidence_dir / "stderr.txt")
        subject = expect.Subject(
            kind="command",
            streams={"output": [stdout, stderr], "stdout": [stdout], "stderr": [stderr]},
            exit_code=run.exit_code,
            artifacts=artifacts,
            unmatched_globs=unmatched,
        )
        # Exit code 0 is always expected unless an expectation names another: a crashed test
        # run whose log happens to be clean must not pass.
        wanted = list(spec.expect)
        if not any(e.exit_code is not None for e in wanted):
            wanted = [*_DEFAULT_EXPECT, *wanted]
        outcomes = expect.evaluate(wanted, subject)
        details[:0] = [line for o in outcomes for line in o.detail_lines()]
        if spec.shell is not None and run.exit_code == 127:
            details.append("exit code 127: the shell did not find a command (see stderr.txt)")
        failed = next((o for o in outcomes if not o.ok), None)
        if failed is not None:
            return finish("failed", f"{failed.expectation} failed: {failed.reason}")
        held = f"{len(outcomes)} expectation{'s' if len(outcomes) != 1 else ''} held"
        return finish("passed", f"exit code {run.exit_code}, {held}")


async def _execute(
    argv: list[str],
    *,
    cwd: Path,
    env: dict[str, str],
    timeout: float,
    stdout_path: Path,
    stderr_path: Path,
) -> _Execution:
    """Run ``argv`` to its end (or its timeout) with its output going into two files.

    The files are the child's stdout and stderr themselves (no pipes): output reaches disk as
    it is written, nothing is buffered here, and a background child that keeps the
    descriptors open cannot delay the end of the check.
    """
    with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                cwd=cwd,
                env=env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,  # its own process group, ended as a whole
            )
        except FileNotFoundError:
            return _Execution(error=f"command not found: {argv[0]}")
        except PermissionError:
            return _Execution(error=f"command not executable: {argv[0]}")
        except OSError as exc:
            return _Execution(error=f"cannot start {argv[0]}: {exc.strerror or exc}")
        timed_out = False
        try:
            async with asyncio.timeout(timeout):
                await proc.wait()
        except TimeoutError:
            timed_out = True
        finally:
            await _end_group(proc)  # also on cancellation: nothing outlives the check
    return _Execution(
        exit_code=None if timed_out else proc.returncode,
        timed_out=timed_out,
        stdout_bytes=stdout_path.stat().st_size,
        stderr_bytes=stderr_path.stat().st_size,
    )


async def _end_group(proc: asyncio.subprocess.Process) -> None:
    """SIGTERM to the process group, SIGKILL after :data:`GRACE`, then reap the leader."""
    group = proc.pid  # the leader of a new session leads its process group
    if _signal_group(group, signal.SIGTERM):
        deadline = time.monotonic() + GRACE
        while time.monotonic() < deadline and _signal_group(group, 0):
            await asyncio.sleep(0.05)
        _signal_group(group, signal.SIGKILL)
    await proc.wait()


def _signal_group(group: int, sig: int) -> bool:
    """Send ``sig`` to the group; False when no process is left in it."""
    try:
        os.killpg(group, sig)
    except ProcessLookupError:
        return False
    except PermissionError:  # only zombies left (macOS answers EPERM for those)
        return False
    return True


def collect_artifacts(
    patterns: list[str], *, cwd: Path, dest: Path, skip: Path | None = None
) -> tuple[list[expect.Artifact], list[str], list[str]]:
    """Copy files matching ``patterns`` into ``dest``.

    Returns the artifacts, the patterns that matched no file, and notes on files that could
    not be copied. ``skip`` is a folder whose files are never collected (the evidence folder).

    >>> collect_artifacts([], cwd=Path("."), dest=Path("unused"))
    ([], [], [])
    """
    artifacts: list[expect.Artifact] = []
    unmatched: list[str] = []
    notes: list[str] = []
    taken: dict[str, Path] = {}
    skip_dir = skip.resolve() if skip is not None else None
    for pattern in patterns:
        found = 0
        for match in sorted(glob.glob(pattern, root_dir=cwd, recursive=True)):
            origin = (cwd / match).resolve()
            if not origin.is_file() or (skip_dir is not None and origin.is_relative_to(skip_dir)):
                continue
            found += 1
            name = _artifact_name(pattern, match, cwd=cwd)
            if name in taken:
                if taken[name] != origin:
                    notes.append(f"artifact {match} skipped: {name} is taken by {taken[name]}")
                continue
            copy = dest / name
            try:
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, copy)
            except OSError as exc:
                notes.append(f"artifact {match} not copied: {exc.strerror or exc}")
                continue
            taken[name] = origin
            artifacts.append(expect.Artifact(name=name, path=copy, origin=origin))
        if not found:
            unmatched.append(pattern)
    return artifacts, unmatched, notes


def _artifact_name(pattern: str, match: str, *, cwd: Path) -> str:
    """The path under ``artifacts/``: relative to ``cwd`` when inside it, else to the glob's
    last literal folder (``/var/log/app/**/*.log`` -> ``x/y.log``)."""
    relative = Path(os.path.normpath(match))
    if not relative.is_absolute() and ".." not in relative.parts:
        return relative.as_posix()
    parts = Path(pattern).parts
    literal: list[str] = []
    for part in parts:
        if _MAGIC & set(part):
            break
        literal.append(part)
    base = cwd.joinpath(*literal)
    if len(literal) == len(parts):  # no wildcard: the pattern names one file
        base = base.parent
    name = Path(os.path.relpath(cwd / match, base))
    if ".." in name.parts:
        return name.name
    return name.as_posix()


__all__ = ["GRACE", "CommandCheckRunner", "collect_artifacts"]
