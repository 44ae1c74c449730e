"""Running a metric source's command with a time limit, for the providers that read one.

This is not a provider: the ``command`` and ``logs`` providers share it (they may not import
each other), each with its own wording and streams. The command runs as an argv or a shell
line in a session of its own, so that a timeout or a cancelled observation kills the whole
process group, including whatever a shell started, and never leaves a child behind.

A command that cannot start, runs past its time limit or exits non-zero is a
:class:`CommandError` whose message names the command (``what``) and, for an exit, the last
line it wrote to stderr (or to stdout, when stderr is merged into it). Cancelling the caller
kills the group and lets the cancellation through.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Mapping, Sequence


class CommandError(Exception):
    """The command could not run, timed out or failed; the message says which."""


async def output(
    command: Sequence[str] | str,
    *,
    what: str,
    env: Mapping[str, str],
    timeout: float,
    cwd: str | None = None,
    merge_stderr: bool = False,
) -> str:
    """The stdout of ``command`` (with its stderr when ``merge_stderr``), decoded as UTF-8.

    A string is a shell line, a sequence an argv. ``env`` is added to this process's
    environment; ``what`` names the command in errors (``the log command``).

    Example::

        text = await output(["kubectl", "logs", "chat-go"], what="the log command",
                            env={}, timeout=30.0, merge_stderr=True)
    """
    pipe, devnull = asyncio.subprocess.PIPE, asyncio.subprocess.DEVNULL
    stderr = asyncio.subprocess.STDOUT if merge_stderr else pipe
    full_env = {**os.environ, **env}
    try:
        # A new session per command so that a timeout also stops what a shell started.
        if isinstance(command, str):
            proc = await asyncio.create_subprocess_shell(
                command, env=full_env, cwd=cwd, stdin=devnull, stdout=pipe, stderr=stderr,
                start_new_session=True,
            )  # fmt: skip
        else:
            proc = await asyncio.create_subprocess_exec(
                *command, env=full_env, cwd=cwd, stdin=devnull, stdout=pipe, stderr=stderr,
                start_new_session=True,
            )  # fmt: skip
    except OSError as exc:
        raise CommandError(f"cannot run {what}: {exc}") from None
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout=timeout)
    except TimeoutError:
        _kill_group(proc)
        await proc.wait()
        raise CommandError(f"{what} timed out after {timeout:g}s") from None
    except asyncio.CancelledError:
        _kill_group(proc)
        raise
    text = out.decode("utf-8", errors="replace")
    if proc.returncode != 0:
        said = text if merge_stderr else err.decode("utf-8", errors="replace")
        last = said.strip().splitlines()[-1:] or [""]
        raise CommandError(f"{what} exited {proc.returncode}: {last[0][:200]}")
    return text


def _kill_group(proc: asyncio.subprocess.Process) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


__all__ = ["CommandError", "output"]
