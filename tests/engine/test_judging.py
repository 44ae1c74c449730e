"""Statistical judges inside the engine: defaults, plan errors with lines, state in events."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollguard.engine import judging
from rollguard.engine.decide import decide
from rollguard.engine.phases import Phase
from rollguard.errors import PlanError
from rollguard.plan.loader import add_rule, load_plan
from tests.engine.eventlog import T0, Log, make_plan

SEQUENTIAL = [
    {"name": "5xx-rate", "metric": "errors", "judge": "sequential", "params": {"ratio": 5}},
    {"name": "p95-latency", "metric": "p95", "judge": "sequential"},
    {"name": "5xx-guardrail", "metric": "errors", "max": "0.5%"},
]


def test_defaults_come_from_the_metric_and_the_rollouts_alpha() -> None:
    plan = make_plan(triggers=SEQUENTIAL)
    errors = judging.params_for(plan, plan.triggers[0])
    latency = judging.params_for(plan, plan.triggers[1])
    assert errors["metric"] == "errors" and errors["ratio"] == 5
    assert latency["metric"] == "latency" and latency["quantile"] == 0.95
    assert errors["alpha"] == 0.01 and errors["tests"] == 2  # alpha split over two triggers
    assert errors["min_samples"] == 20


def _observe(log: Log, at: float, *, cand: tuple[int, int], stable: tuple[int, int]) -> None:
    result = {
        "metrics": {
            "errors": {
                "candidate": {"value": cand[1] / cand[0], "samples": cand[0], "error": None},
                "stable": {"value": stable[1] / stable[0], "samples": stable[0], "error": None},
            },
            "p95": {
                "candidate": {"value": 0.01, "samples": cand[0], "error": None},
                "stable": {"value": 0.01, "samples": stable[0], "error": None},
            },
        },
        "intervals": {
            "candidate": {"requests": cand[0], "errors": cand[1], "latencies": [0.01] * cand[0]},
            "stable": {"requests": stable[0], "errors": stable[1], "latencies": [0.01] * stable[0]},
        },
    }
    log.act("observe", at, purpose="analysis", result=result)


def test_a_sequential_trigger_keeps_its_state_in_the_log_and_fires_on_a_regression() -> None:
    plan = make_plan(triggers=SEQUENTIAL[:1])
    log = Log()
    log.add("phase_entered", T0, phase="canary").add("step_started", T0, index=0, kind="weight")
    log.act("prepare", T0).act("set_weight", T0, weight=5)
    fired_at = None
    for i in range(1, 40):
        at = T0 + 2 * i
        _observe(log, at, cand=(10, 3), stable=(190, 1))  # ~30% vs ~0.5%: far beyond 5x
        d = decide(plan, log.state(), at)
        analysis = dict(d.events)["analysis"]
        assert "5xx-rate" in analysis["judge_states"]
        log.apply(d.events, at)
        if "trigger_fired" in dict(d.events):
            fired_at = i
            break
    assert fired_at is not None and fired_at > 1  # needs evidence, not one interval
    assert log.state().phase == Phase.ROLLING_BACK
    verdict = log.state().fired
    assert verdict is not None and verdict["reason"].startswith("sequential: canary")


def test_an_aa_canary_does_not_fire() -> None:
    plan = make_plan(triggers=SEQUENTIAL[:1])
    log = Log()
    log.add("phase_entered", T0, phase="canary").add("step_started", T0, index=0, kind="weight")
    log.act("prepare", T0).act("set_weight", T0, weight=5)
    for i in range(1, 60):
        at = T0 + 2 * i
        _observe(log, at, cand=(10, 0), stable=(190, 1))
        d = decide(plan, log.state(), at)
        assert "trigger_fired" not in dict(d.events)
        log.apply(d.events, at)


@pytest.mark.parametrize(
    ("trigger", "path", "message"),
    [
        ({"judge": "bayes"}, "triggers[0].judge", "unknown judges kind 'bayes'"),
        ({"judge": "sequential", "params": {"alpha": 2}}, "triggers[0].params", "alpha"),
        ({"judge": "sequential", "params": {"nope": 1}}, "triggers[0].params", "nope"),
    ],
)
def test_a_bad_judge_is_a_plan_error_with_its_line(
    tmp_path: Path, trigger: dict[str, object], path: str, message: str
) -> None:
    add_rule(judging.plan_rule)
    extra = "".join(f", {k}: {v!r}" for k, v in trigger.items()).replace("'", "")
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "apiVersion: rollguard/v1\nname: t\n"
        'stable: {version: a, url: "http://127.0.0.1:1"}\n'
        'candidate: {version: b, url: "http://127.0.0.1:2"}\n'
        "metrics: {e: {query: error_ratio}}\n"
        "triggers:\n"
        f"  - {{name: x, metric: e{extra}}}\n"
        "steps: [{weight: 5}]\n"
    )
    with pytest.raises(PlanError) as info:
        load_plan(plan)
    issue = info.value.issues[0]
    assert (issue.line, issue.path) == (7, path)
    assert message in issue.message


def test_bounds_and_params_do_not_mix() -> None:
    with pytest.raises(ValueError, match="belong to the threshold judge"):
        make_plan(triggers=[{"name": "x", "metric": "errors", "judge": "sequential", "max": 1}])
    with pytest.raises(ValueError, match="`params` is for statistical judges"):
        make_plan(triggers=[{"name": "x", "metric": "errors", "max": 1, "params": {"a": 1}}])
