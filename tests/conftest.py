"""Shared test helpers.

:func:`require` skips a test whose real component is missing on a developer's machine, and
fails it when ``CI=true``: CI can never pass by skipping.
"""

from __future__ import annotations

import os
import subprocess
from typing import Any

import pytest

from rollguard import ports


def require(condition: bool, reason: str) -> None:
    """Skip (or, under CI, fail) unless ``condition`` holds."""
    if condition:
        return
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"required for CI: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on, outside the ephemeral range."""
    return ports.free_port()


def stop_process(proc: subprocess.Popen[Any]) -> int:
    """SIGTERM a process the tests started, then SIGKILL it after 10 s; its exit code."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return proc.returncode
