"""Starting, adopting and stopping real version processes."""

from __future__ import annotations

import os
import shlex
import signal
from pathlib import Path

import httpx
import pytest

from rollguard.backends.local import processes
from rollguard.errors import PermanentError
from rollguard.plan.model import VersionSpec
from tests.backends.servers import (
    APP,
    app_argv,
    free_port,
    pid_alive,
    start_upstream,
    stop_upstream,
)


def spec_for(port: int, *extra: str, **fields: object) -> VersionSpec:
    return VersionSpec(
        version="v1.2",
        url=f"http://127.0.0.1:{port}",
        command=app_argv(port, *extra),
        **fields,  # type: ignore[arg-type]
    )


async def test_start_waits_for_health_and_writes_pidfile_and_log(tmp_path: Path) -> None:
    port = free_port()
    spec = spec_for(port, env={"UPSTREAM_NAME": "from-env"}, cwd=".")
    lines: list[str] = []
    proc = await processes.start(
        spec, role="stable", run_dir=tmp_path, base_dir=tmp_path, log=lines.append
    )
    try:
        assert proc.pid is not None and pid_alive(proc.pid)
        assert processes.read_pidfile(tmp_path, "stable") == proc.pid
        async with httpx.AsyncClient(trust_env=False) as client:
            doc = (await client.get(f"{spec.url}/echo")).json()
        assert doc["name"] == "from-env" and doc["pid"] == proc.pid
        log = processes.log_path(tmp_path, role="stable", version="v1.2").read_text()
        assert "starting stable v1.2" in log and "from-env: listening" in log
        assert any("healthy" in line for line in lines)
    finally:
        await processes.stop(proc, run_dir=tmp_path, timeout=5)
    assert not pid_alive(proc.pid)
    assert processes.read_pidfile(tmp_path, "stable") is None
    await processes.stop(proc, run_dir=tmp_path, timeout=5)  # idempotent


async def test_a_process_that_exits_at_once_fails_with_its_code_and_log_tail(
    tmp_path: Path,
) -> None:
    port = free_port()
    spec = spec_for(port, "--exit-code", "3")
    with pytest.raises(PermanentError) as info:
        await processes.start(
            spec, role="candidate", run_dir=tmp_path, base_dir=tmp_path, log=lambda _: None
        )
    message = info.value.message
    assert "candidate version v1.2 exited with code 3" in message
    assert f"http://127.0.0.1:{port}/status" in message
    assert "last error: ConnectError" in message
    assert "boom, missing configuration" in message  # from the log tail
    assert processes.read_pidfile(tmp_path, "candidate") is None


async def test_a_process_that_never_gets_healthy_fails_after_the_timeout_and_is_stopped(
    tmp_path: Path,
) -> None:
    port = free_port()
    spec = spec_for(port, "--never-healthy", start_timeout=1)
    with pytest.raises(PermanentError) as info:
        await processes.start(
            spec, role="stable", run_dir=tmp_path, base_dir=tmp_path, log=lambda _: None
        )
    message = info.value.message
    assert "stable version v1.2 is not healthy at" in message
    assert "(last error: HTTP 503)" in message
    assert "listening on" in message  # the log tail
    assert await processes.probe(f"http://127.0.0.1:{port}/status") is not None  # stopped


async def test_a_missing_program_is_a_clear_error(tmp_path: Path) -> None:
    spec = VersionSpec(version="v9", url="http://127.0.0.1:1", command=["/nonexistent/server"])
    with pytest.raises(PermanentError, match="cannot start stable version v9"):
        await processes.start(spec, role="stable", run_dir=tmp_path, base_dir=tmp_path)


async def test_ensure_running_adopts_a_process_from_the_pidfile(tmp_path: Path) -> None:
    port = free_port()
    spec = spec_for(port)
    first = await processes.ensure_running(
        spec, role="stable", run_dir=tmp_path, base_dir=tmp_path, log=lambda _: None
    )
    lines: list[str] = []
    try:
        again = await processes.ensure_running(
            spec, role="stable", run_dir=tmp_path, base_dir=tmp_path, log=lines.append
        )
        assert again.adopted and not again.external and again.pid == first.pid
        assert any(f"adopted running process {first.pid}" in line for line in lines)
    finally:
        await processes.stop(first, run_dir=tmp_path, timeout=5)


async def test_a_url_that_already_answers_is_external_and_never_stopped(tmp_path: Path) -> None:
    upstream = start_upstream("outside")
    try:
        spec = VersionSpec(version="ext", url=upstream.url, command=app_argv(upstream.port))
        lines: list[str] = []
        proc = await processes.ensure_running(
            spec, role="stable", run_dir=tmp_path, base_dir=tmp_path, log=lines.append
        )
        assert proc.external and proc.pid is None
        assert any("externally managed" in line for line in lines)
        await processes.stop(proc, run_dir=tmp_path, timeout=5)
        assert upstream.process.poll() is None
    finally:
        stop_upstream(upstream)


async def test_stop_kills_the_whole_process_group(tmp_path: Path) -> None:
    port = free_port()
    # The shell leaves a grandchild behind and replaces itself with the server.
    spec = VersionSpec(
        version="v2",
        url=f"http://127.0.0.1:{port}",
        shell=f"sleep 300 & echo $! > child.pid; exec {shlex.join(app_argv(port))}",
    )
    proc = await processes.start(
        spec, role="candidate", run_dir=tmp_path, base_dir=tmp_path, log=lambda _: None
    )
    grandchild = int((tmp_path / "child.pid").read_text())
    assert pid_alive(grandchild)
    assert proc.pid is not None and os.getpgid(grandchild) == proc.pid
    await processes.stop(proc, run_dir=tmp_path, timeout=5)
    assert not pid_alive(grandchild) and not pid_alive(proc.pid)


async def test_stop_escalates_to_sigkill(tmp_path: Path) -> None:
    port = free_port()
    ignore_term = (
        "import signal, runpy, sys; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
        f"sys.argv = [{str(APP)!r}, '{port}']; runpy.run_path(sys.argv[0], run_name='__main__')"
    )
    spec = VersionSpec(
        version="v3",
        url=f"http://127.0.0.1:{port}",
        command=[app_argv(port)[0], "-c", ignore_term],
    )
    lines: list[str] = []
    proc = await processes.start(
        spec, role="stable", run_dir=tmp_path, base_dir=tmp_path, log=lines.append
    )
    await processes.stop(proc, run_dir=tmp_path, timeout=0.5, log=lines.append)
    assert proc.pid is not None and not pid_alive(proc.pid)
    assert any("SIGKILL" in line for line in lines)


async def test_ensure_running_starts_again_when_the_pidfile_process_died(tmp_path: Path) -> None:
    port = free_port()
    spec = spec_for(port)
    first = await processes.ensure_running(
        spec, role="stable", run_dir=tmp_path, base_dir=tmp_path, log=lambda _: None
    )
    assert first.pid is not None
    os.killpg(first.pid, signal.SIGKILL)
    await processes.stop(first, run_dir=tmp_path, timeout=5)  # reaps; the pidfile goes
    (tmp_path / "processes" / "stable.pid").write_text(f"{first.pid}\n")  # a stale pidfile
    second = await processes.ensure_running(
        spec, role="stable", run_dir=tmp_path, base_dir=tmp_path, log=lambda _: None
    )
    try:
        assert second.pid != first.pid and not second.adopted
    finally:
        await processes.stop(second, run_dir=tmp_path, timeout=5)


def test_health_url_joins_a_path_and_keeps_a_full_url() -> None:
    spec = VersionSpec(version="a", url="http://h:1/", health="/healthz")
    assert processes.health_url(spec) == "http://h:1/healthz"
    full = VersionSpec(version="a", url="http://h:1", health="http://h:2/ready")
    assert processes.health_url(full) == "http://h:2/ready"
