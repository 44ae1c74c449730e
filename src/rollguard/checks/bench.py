"""The ``bench`` check: run a benchmark and hold its results to targets ("p95 <= SLO").

Two sources of results:

- the built-in load generator (:mod:`rollguard.checks.loadgen`) when the plan gives ``url``;
  its raw record (status counts, requests per template, error samples) is ``loadgen.json``;
- a bench command (``command`` or ``shell``), run exactly like a ``command`` check (same
  process-group handling, ``stdout.txt``, ``stderr.txt``, ``command.json``), whose output
  (stdout, or ``output_file``, copied to ``artifacts/``) is read by a parser
  (:mod:`rollguard.checks.bench_parsers`). An exit code outside ``exit_codes``, a timeout or
  output the parser cannot read is an ``error``.

Each target is a bound on one result (``p95_ms: {max: 50}``, ``rps: {min: 100}``,
``error_ratio: {max: 1%}``). The check fails when a bound is broken, and is an ``error`` when a
target names a result the bench did not report (a bench that measured nothing passes nothing).
``bench.json`` holds the results, the targets and one verdict per target.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import httpx

from rollguard.checks import bench_parsers, loadgen, records
from rollguard.checks.base import CheckContext, CheckResult, CheckStatus
from rollguard.checks.command import CommandCheckRunner
from rollguard.durations import format_duration
from rollguard.plan import model


def judge(targets: dict[str, model.BenchTarget], results: dict[str, float]) -> list[dict[str, Any]]:
    """One verdict per target: ``{"target", "value", "ok", "reason"}``; ``ok`` is None when
    the result is missing.

    >>> judge({"p95": model.BenchTarget(max=50)}, {"p95_ms": 42.0})[0]["ok"]
    True
    """
    verdicts = []
    for raw_name, target in targets.items():
        name = model.bench_result_name(raw_name)
        value = results.get(name)
        rules = [f"<= {target.max:g}"] if target.max is not None else []
        rules += [f">= {target.min:g}"] if target.min is not None else []
        label = f"{name} {' and '.join(rules)}"
        verdict: dict[str, Any] = {"target": label, "value": value, "ok": True, "reason": ""}
        if value is None:
            verdict.update(ok=None, reason="not reported by the bench")
        elif target.max is not None and value > target.max:
            verdict.update(ok=False, reason=f"{name} is {value:g}")
        elif target.min is not None and value < target.min:
            verdict.update(ok=False, reason=f"{name} is {value:g}")
        verdicts.append(verdict)
    return verdicts


class BenchCheckRunner:
    """Runs ``kind: bench`` checks (see the module docstring for the exact behaviour).

    ``transport`` replaces the network of the built-in load generator in tests.
    """

    def __init__(self, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._transport = transport

    async def run(self, spec: model.BenchCheck, ctx: CheckContext) -> CheckResult:
        """Run the bench of ``spec`` and judge its targets; evidence in ``ctx.evidence_dir``."""
        started = time.monotonic()
        ctx.evidence_dir.mkdir(parents=True, exist_ok=True)
        record: dict[str, Any] = {
            "source": "loadgen" if spec.url is not None else "command",
            "targets": {k: v.model_dump(exclude_none=True) for k, v in spec.targets.items()},
        }
        evidence: list[str] = []

        def finish(status: CheckStatus, summary: str, details: list[str]) -> CheckResult:
            return records.finish(
                spec,
                record,
                path=ctx.evidence_dir / "bench.json",
                started=started,
                status=status,
                summary=summary,
                details=details,
                evidence=evidence,
            )

        if spec.url is not None:
            try:
                async with asyncio.timeout(spec.timeout):
                    load = await loadgen.run_load(spec, transport=self._transport)
            except TimeoutError:
                hint = "(the check's timeout must exceed the bench's duration)"
                return finish(
                    "error", f"timed out after {format_duration(spec.timeout)} {hint}", []
                )
            (ctx.evidence_dir / "loadgen.json").write_text(
                json.dumps(load.to_dict(), indent=2) + "\n"
            )
            evidence.append("loadgen.json")
            results = load.summary()
        else:
            outcome = await self._run_command(spec, ctx, evidence)
            if isinstance(outcome, str):
                record["error"] = outcome
                return finish("error", outcome, [])
            results = outcome

        record["results"] = results
        verdicts = judge(spec.targets, results)
        record["verdicts"] = verdicts
        details = [
            ("ok" if v["ok"] else "FAILED" if v["ok"] is False else "ERROR")
            + f": {v['target']}"
            + (f" ({v['reason']})" if v["reason"] else "")
            for v in verdicts
        ]
        broken = [v for v in verdicts if v["ok"] is False]
        missing = [v for v in verdicts if v["ok"] is None]
        if broken:
            return finish("failed", f"{broken[0]['target']} failed: {broken[0]['reason']}", details)
        if missing:
            return finish("error", f"{missing[0]['target']}: {missing[0]['reason']}", details)
        shown = ", ".join(
            f"{model.bench_result_name(k)} {results[model.bench_result_name(k)]:.4g}"
            for k in spec.targets
        )
        return finish("passed", f"{len(verdicts)} targets met ({shown})", details)

    async def _run_command(
        self, spec: model.BenchCheck, ctx: CheckContext, evidence: list[str]
    ) -> dict[str, float] | str:
        """The parsed results of the bench command, or why there are none."""
        command = model.CommandCheck(
            name=spec.name,
            kind="command",
            command=spec.command,
            shell=spec.shell,
            env=spec.env,
            cwd=spec.cwd,
            timeout=spec.timeout,
            artifacts=[spec.output_file] if spec.output_file else [],
        )
        # Its verdict on the exit code is not ours (`exit_codes` may accept others); only an
        # error (no start, timeout) ends the bench here.
        ran = await CommandCheckRunner().run(command, ctx)
        evidence += ran.evidence
        if ran.status == "error":
            return ran.summary
        info = json.loads((ctx.evidence_dir / "command.json").read_text())
        exit_code = info.get("exit_code")
        if exit_code not in spec.exit_codes:
            wanted = ", ".join(str(c) for c in spec.exit_codes)
            return f"bench command exited {exit_code} (expected {wanted}); see stderr.txt"
        if spec.output_file:
            copies = [ctx.evidence_dir / a for a in ran.evidence if a.startswith("artifacts/")]
            if not copies:
                return f"bench output file not found: {spec.output_file}"
            output = copies[0]
        else:
            output = ctx.evidence_dir / "stdout.txt"
        try:
            return bench_parsers.parse(spec, _read(output))
        except bench_parsers.ParseError as exc:
            return f"cannot read the bench output ({output.name}): {exc}"


def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8", errors="replace")


__all__ = ["BenchCheckRunner", "judge"]
