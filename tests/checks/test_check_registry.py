"""The check registry and :func:`run_check`, the boundary that never lets a check crash."""

from __future__ import annotations

import sys
from typing import Any

import pytest

from rollguard.checks.base import CheckContext, CheckResult
from rollguard.checks.command import CommandCheckRunner
from rollguard.checks.http import HttpCheckRunner
from rollguard.checks.registry import CheckFactory, checks, run_check
from rollguard.plan import model
from rollguard.plugin import Registry, UnknownKind


class Exploding:
    """A runner with a bug."""

    async def run(self, spec: Any, ctx: CheckContext) -> CheckResult:
        raise RuntimeError("kaput")


class Spec:
    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.name = f"a {kind} check"


@pytest.fixture
def registry() -> Registry[CheckFactory]:
    own: Registry[CheckFactory] = Registry("rollguard.tests.no-such-group")
    own.register("boom", Exploding)
    own.register("command", CommandCheckRunner)
    return own


def test_built_in_kinds_are_registered() -> None:
    assert checks.get("command") is CommandCheckRunner
    assert checks.get("http") is HttpCheckRunner
    assert {"command", "http"} <= set(checks.kinds())


def test_unknown_kind_lists_the_installed_ones() -> None:
    with pytest.raises(UnknownKind, match=r"unknown checks kind 'mongo'.*command, http"):
        checks.get("mongo")


async def test_run_check_raises_unknown_kind(
    ctx: CheckContext, registry: Registry[CheckFactory]
) -> None:
    with pytest.raises(UnknownKind, match=r"\(installed: boom, command\)"):
        await run_check(Spec("mongo"), ctx, registry=registry)


async def test_a_runner_that_raises_becomes_an_error_result(
    ctx: CheckContext, registry: Registry[CheckFactory]
) -> None:
    result = await run_check(Spec("boom"), ctx, registry=registry)
    assert result.status == "error"
    assert result.summary == "RuntimeError: kaput"
    assert (result.name, result.kind) == ("a boom check", "boom")


async def test_run_check_runs_the_registered_runner(ctx: CheckContext) -> None:
    spec = model.CommandCheck(name="py", kind="command", command=[sys.executable, "-V"])
    result = await run_check(spec, ctx)
    assert result.passed, result
