"""The engine's decisions, one situation at a time, with hand-written event logs."""

from __future__ import annotations

import pytest

from rollguard.engine.decide import MAX_ATTEMPTS, decide
from rollguard.engine.phases import ExitCode, Phase
from tests.engine.eventlog import T0, Log, make_plan, observation


def to_canary(log: Log, plan_kwargs: dict | None = None) -> Log:
    """A log that has passed preflight, prepared and measured a baseline."""
    log.add("phase_entered", T0, phase="preflight")
    log.act("run_checks", T0, group="preflight", result={"passed": True, "results": []})
    log.add("phase_entered", T0 + 1, phase="baseline")
    log.act("prepare", T0 + 1)
    log.act(
        "observe",
        T0 + 11,
        purpose="baseline",
        since=T0 + 1,
        until=T0 + 11,
        result={
            "stable": {
                "errors": {"value": 0.001, "samples": 500, "error": None},
                "p95": {"value": 0.02, "samples": 500, "error": None},
            }
        },
    )
    log.add("phase_entered", T0 + 11, phase="canary")
    log.add("step_started", T0 + 11, index=0, kind="weight")
    return log


def test_a_new_rollout_enters_preflight_and_runs_its_checks(log: Log) -> None:
    plan = make_plan()
    d = decide(plan, log.state(), T0)
    assert d.events == [("phase_entered", {"phase": Phase.PREFLIGHT})]
    log.apply(d.events, T0)
    d = decide(plan, log.state(), T0)
    assert d.action is not None and d.action.action == "run_checks"
    assert d.action.args == {"group": "preflight"}


def test_a_failed_preflight_ends_failed_with_exit_4_and_deploys_nothing(log: Log) -> None:
    plan = make_plan()
    log.add("phase_entered", T0, phase="preflight")
    log.act(
        "run_checks",
        T0,
        group="preflight",
        result={"passed": False, "results": [{"name": "unit tests", "status": "failed"}]},
    )
    d = decide(plan, log.state(), T0)
    assert d.action is None
    finished = dict(d.events)["rollout_finished"]
    assert finished["exit_code"] == ExitCode.PREFLIGHT_FAILED
    assert "unit tests" in finished["reason"]
    assert dict(d.events)["phase_entered"]["phase"] == Phase.FAILED


def test_the_baseline_is_measured_after_its_window_before_any_canary_traffic(log: Log) -> None:
    plan = make_plan()
    log.add("phase_entered", T0, phase="baseline")
    d = decide(plan, log.state(), T0)
    assert d.action is not None and d.action.action == "prepare"
    log.act("prepare", T0)
    d = decide(plan, log.state(), T0 + 3)
    assert d.action is None and d.wake_at == T0 + 10
    d = decide(plan, log.state(), T0 + 10)
    assert d.action is not None and d.action.args["purpose"] == "baseline"


def test_a_weight_step_sets_the_weight_then_waits_for_its_window(log: Log) -> None:
    plan = make_plan()
    to_canary(log)
    d = decide(plan, log.state(), T0 + 11)
    assert d.action is not None and (d.action.action, d.action.args) == (
        "set_weight",
        {"weight": 5},
    )
    log.act("set_weight", T0 + 11, weight=5)
    assert log.state().canary_since == T0 + 11
    d = decide(plan, log.state(), T0 + 11)
    assert d.action is not None and d.action.action == "observe"


def _observe(log: Log, at: float, **kw: float | int | str | None) -> None:
    log.act("observe", at, purpose="analysis", result=observation(**kw))  # type: ignore[arg-type]


def test_rollforward_needs_the_window_elapsed_and_every_trigger_passing(log: Log) -> None:
    plan = make_plan()
    to_canary(log).act("set_weight", T0 + 11, weight=5)
    _observe(log, T0 + 13)
    d = decide(plan, log.state(), T0 + 13)
    log.apply(d.events, T0 + 13)  # the analysis event
    d = decide(plan, log.state(), T0 + 14)
    assert d.action is None and not d.events  # inside the window: wait
    _observe(log, T0 + 21)
    log.apply(decide(plan, log.state(), T0 + 21).events, T0 + 21)
    d = decide(plan, log.state(), T0 + 21)
    assert [t for t, _ in d.events] == ["step_completed", "step_started"]


def test_inconclusive_blocks_rollforward_and_never_counts_as_a_pass(log: Log) -> None:
    plan = make_plan()
    to_canary(log).act("set_weight", T0 + 11, weight=5)
    _observe(log, T0 + 22, samples=3)  # fewer than min_samples (20)
    d = decide(plan, log.state(), T0 + 22)
    verdicts = dict(d.events)["analysis"]["verdicts"]
    assert {v["status"] for v in verdicts} == {"inconclusive"}
    log.apply(d.events, T0 + 22)
    d = decide(plan, log.state(), T0 + 22.5)
    assert not d.events and d.action is None
    assert "inconclusive" in d.waiting


@pytest.mark.parametrize(
    ("kw", "trigger", "bound"),
    [
        ({"errors": 0.02}, "5xx", "max: 0.50%"),
        ({"errors": 0.004, "stable_errors": 0.0005}, "5xx", "max_ratio_to_baseline: 5"),
        ({"p95": 0.3}, "latency", "max: 250.0ms"),
        ({"p95": 0.05, "stable_p95": 0.02}, "latency", "max_ratio_to_baseline: 2"),
    ],
)
def test_a_failing_trigger_rolls_back_at_once_mid_window(
    log: Log, kw: dict[str, float], trigger: str, bound: str
) -> None:
    plan = make_plan()
    to_canary(log).act("set_weight", T0 + 11, weight=5)
    _observe(log, T0 + 13, **kw)
    d = decide(plan, log.state(), T0 + 13)
    types = [t for t, _ in d.events]
    assert types == ["analysis", "trigger_fired", "phase_entered"]
    fired = dict(d.events)["trigger_fired"]["verdict"]
    assert fired["trigger"] == trigger and fired["bound"] == bound
    assert dict(d.events)["phase_entered"]["phase"] == Phase.ROLLING_BACK


def test_rolling_back_moves_weight_to_zero_first_then_restores_stable(log: Log) -> None:
    plan = make_plan()
    to_canary(log).act("set_weight", T0 + 11, weight=5)
    log.add("phase_entered", T0 + 13, phase="rolling_back", kind="trigger", reason="5xx")
    d = decide(plan, log.state(), T0 + 13)
    assert d.action is not None and (d.action.action, d.action.args) == (
        "set_weight",
        {"weight": 0},
    )
    log.act("set_weight", T0 + 13, weight=0)
    d = decide(plan, log.state(), T0 + 13)
    assert d.action is not None and d.action.action == "rollback"
    log.act("rollback", T0 + 14)
    d = decide(plan, log.state(), T0 + 14)
    assert d.action is not None and d.action.action == "incident"
    log.act("incident", T0 + 14, result={"files": [], "deliveries": []})
    d = decide(plan, log.state(), T0 + 14)
    assert dict(d.events)["rollout_finished"]["exit_code"] == ExitCode.ROLLED_BACK


def test_an_approval_step_waits_for_every_role_and_keeps_watching(log: Log) -> None:
    plan = make_plan()
    to_canary(log).act("set_weight", T0 + 11, weight=5)
    log.add("step_completed", T0 + 22, index=0).add(
        "step_started", T0 + 22, index=1, kind="approve"
    )
    _observe(log, T0 + 22)
    log.apply(decide(plan, log.state(), T0 + 22).events, T0 + 22)
    d = decide(plan, log.state(), T0 + 23)
    assert d.action is None and not d.events and "sre" in d.waiting
    assert d.wake_at == T0 + 24  # still observing every interval while waiting
    log.add("approval", T0 + 30, step=1, role="sre", by="bob", note="")
    d = decide(plan, log.state(), T0 + 30)
    assert d.action is not None and d.action.action == "observe"  # interval due first
    _observe(log, T0 + 30)
    log.apply(decide(plan, log.state(), T0 + 30).events, T0 + 30)
    d = decide(plan, log.state(), T0 + 30)
    assert [t for t, _ in d.events] == ["step_completed", "step_started"]


def test_abort_in_canary_rolls_back_and_ends_aborted_with_exit_5(log: Log) -> None:
    plan = make_plan()
    to_canary(log).act("set_weight", T0 + 11, weight=5)
    log.add("abort_requested", T0 + 12, by="carol", reason="pager")
    d = decide(plan, log.state(), T0 + 12)
    assert dict(d.events)["phase_entered"]["kind"] == "abort"
    log.apply(d.events, T0 + 12)
    log.act("set_weight", T0 + 12, weight=0).act("rollback", T0 + 12)
    log.act("incident", T0 + 12, result={"files": [], "deliveries": []})
    d = decide(plan, log.state(), T0 + 12)
    finished = dict(d.events)["rollout_finished"]
    assert finished["outcome"] == "aborted" and finished["exit_code"] == ExitCode.ABORTED


def test_abort_before_anything_is_deployed_ends_failed_without_rollback(log: Log) -> None:
    plan = make_plan()
    log.add("phase_entered", T0, phase="preflight").add("abort_requested", T0, by="x", reason="")
    d = decide(plan, log.state(), T0)
    assert dict(d.events)["rollout_finished"]["exit_code"] == ExitCode.ABORTED
    assert dict(d.events)["phase_entered"]["phase"] == Phase.FAILED


def _provider_errors(log: Log, plan_kwargs: dict, n: int) -> Log:
    plan = make_plan(**plan_kwargs)
    to_canary(log).act("set_weight", T0 + 11, weight=5)
    for i in range(n):
        at = T0 + 12 + 2 * i
        _observe(log, at, error="connection refused")
        log.apply(decide(plan, log.state(), at).events, at)
    return log


def test_provider_errors_are_never_a_pass_and_roll_back_at_the_limit(log: Log) -> None:
    plan = make_plan()
    _provider_errors(log, {}, 3)
    d = decide(plan, log.state(), T0 + 30)
    assert d.action is not None and d.action.action == "observe"  # 3 < limit 4: keep trying
    log2 = _provider_errors(Log(), {}, 4)
    d = decide(plan, log2.state(), T0 + 30)
    assert dict(d.events)["phase_entered"]["kind"] == "provider_error"


def test_on_provider_error_pause_waits_without_moving_forward(log: Log) -> None:
    kwargs = {
        "analysis": {
            "interval": "2s",
            "window": "30s",
            "baseline": "10s",
            "min_samples": 20,
            "on_provider_error": "pause",
        }
    }
    plan = make_plan(**kwargs)
    _provider_errors(log, kwargs, 6)
    d = decide(plan, log.state(), T0 + 60)
    assert not d.events  # no rollback
    assert d.action is not None and d.action.action == "observe"
    log.act("observe", T0 + 60, purpose="analysis", result=observation(error="still down"))
    log.apply(decide(plan, log.state(), T0 + 60).events, T0 + 60)
    d = decide(plan, log.state(), T0 + 60.5)
    assert not d.events and d.action is None  # window over, but errors never roll forward


def test_an_action_that_keeps_failing_escalates_to_a_rollback(log: Log) -> None:
    plan = make_plan()
    to_canary(log)
    for _ in range(MAX_ATTEMPTS):
        log.act("set_weight", T0 + 12, ok=False, weight=5)
    d = decide(plan, log.state(), T0 + 13)
    assert dict(d.events)["phase_entered"]["kind"] == "action_failed"


def test_after_a_resume_the_backend_is_prepared_again_and_the_weight_reapplied(log: Log) -> None:
    plan = make_plan()
    to_canary(log).act("set_weight", T0 + 11, weight=5)
    log.add("action_started", T0 + 12, id="a99", action="observe", args={"purpose": "analysis"})
    log.add("resumed", T0 + 40, pid=1)
    log.add(
        "action_finished",
        T0 + 40,
        id="a99",
        action="observe",
        args={"purpose": "analysis"},
        ok=False,
        interrupted=True,
        error="stopped",
    )
    s = log.state()
    assert s.pending is None and not s.failures  # interrupted is not a failure
    d = decide(plan, s, T0 + 40)
    assert d.action is not None and d.action.action == "prepare"
    log.act("prepare", T0 + 40)
    d = decide(plan, log.state(), T0 + 40)
    assert d.action is not None and (d.action.action, d.action.args) == (
        "set_weight",
        {"weight": 5},
    )
    assert log.state().step == 0  # still the same step


def test_post_validation_runs_at_full_weight_then_promotes(log: Log) -> None:
    plan = make_plan(steps=[{"weight": 50, "observe": "2s"}], triggers=[], metrics={})
    log.add("phase_entered", T0, phase="post_validation").act("prepare", T0)
    d = decide(plan, log.state(), T0)
    assert d.action is not None and d.action.args == {"weight": 100}
    log.act("set_weight", T0, weight=100)
    d = decide(plan, log.state(), T0)
    assert d.action is not None and d.action.args == {"group": "post_validation"}
    log.act(
        "run_checks",
        T0,
        group="post_validation",
        result={"passed": True, "results": [], "finished_at": T0},
    )
    d = decide(plan, log.state(), T0)
    assert d.action is not None and d.action.action == "promote"
    log.act("promote", T0)
    d = decide(plan, log.state(), T0)
    assert d.events == [("phase_entered", {"phase": Phase.AWAITING_SIGNOFF})]
    log.apply(d.events, T0)
    d = decide(plan, log.state(), T0)
    assert dict(d.events)["rollout_finished"]["exit_code"] == ExitCode.COMPLETED


CHECKLIST = {
    "checklist": [
        {
            "name": "Canary smoke passed, no alert fired",
            "checks_passed": ["status"],
            "no_trigger_fired": True,
        },
        {"name": "Owners have signed off", "roles": ["sre", "migration_owner"]},
    ]
}


def test_completion_waits_for_every_checklist_item_and_role(log: Log) -> None:
    plan = make_plan(
        steps=[{"smoke": [{"name": "status", "kind": "http", "url": "http://x"}]}],
        signoff=CHECKLIST,
        on_complete=[{"kind": "webhook", "url": "http://tracker/T047"}],
    )
    log.add("phase_entered", T0, phase="awaiting_signoff")
    log.act(
        "run_checks",
        T0,
        group="steps[0].smoke",
        result={"passed": True, "results": [{"name": "status", "status": "passed"}]},
    )
    d = decide(plan, log.state(), T0)
    assert d.action is None and "sign-off by migration_owner, sre" in d.waiting
    log.add("signoff", T0, role="sre", by="bob")
    assert "migration_owner" in decide(plan, log.state(), T0).waiting
    log.add("signoff", T0, role="migration_owner", by="alice")
    d = decide(plan, log.state(), T0)
    assert d.action is not None and d.action.action == "complete"
    log.act("complete", T0, result={"results": []})
    d = decide(plan, log.state(), T0)
    assert "all 2 checklist items hold" in dict(d.events)["rollout_finished"]["reason"]


def test_a_computed_item_that_does_not_hold_blocks_completion(log: Log) -> None:
    plan = make_plan(
        steps=[{"smoke": [{"name": "status", "kind": "http", "url": "http://x"}]}],
        signoff=CHECKLIST,
    )
    log.add("phase_entered", T0, phase="awaiting_signoff")
    log.add("trigger_fired", T0, verdict={"trigger": "5xx"})
    log.add("signoff", T0, role="sre", by="bob").add("signoff", T0, role="migration_owner", by="a")
    d = decide(plan, log.state(), T0)
    assert not d.events and "'Canary smoke passed, no alert fired' does not hold" in d.waiting


@pytest.mark.parametrize(
    ("now_utc", "expected"),
    [
        ("2026-11-25T10:00", "preflight"),  # Wednesday 11:00 in Berlin: open
        ("2026-11-25T20:00", "wait"),  # Wednesday 21:00: closed, wait
        ("2026-11-28T10:00", "wait"),  # Saturday: closed
    ],
)
def test_a_rollout_starts_only_inside_its_maintenance_window(
    log: Log, now_utc: str, expected: str
) -> None:
    import datetime as dt

    window = {
        "days": ["mon", "tue", "wed", "thu", "fri"],
        "start": "09:00",
        "end": "17:00",
        "timezone": "Europe/Berlin",
    }
    plan = make_plan(window=window)
    now = dt.datetime.fromisoformat(now_utc).replace(tzinfo=dt.UTC).timestamp()
    d = decide(plan, log.state(), now)
    if expected == "preflight":
        assert d.events == [("phase_entered", {"phase": Phase.PREFLIGHT})]
    else:
        assert not d.events and "maintenance window" in d.waiting
        assert d.wake_at is not None and d.wake_at > now
    refusing = make_plan(window={**window, "outside": "refuse"})
    d = decide(refusing, log.state(), now)
    if expected == "wait":
        assert dict(d.events)["rollout_finished"]["exit_code"] == ExitCode.PREFLIGHT_FAILED


def test_a_failing_smoke_check_rolls_back(log: Log) -> None:
    plan = make_plan(
        steps=[{"smoke": [{"name": "status", "kind": "http", "url": "http://x"}]}],
        triggers=[],
        metrics={},
    )
    log.add("phase_entered", T0, phase="canary").add("step_started", T0, index=0, kind="smoke")
    log.act("prepare", T0)
    d = decide(plan, log.state(), T0)
    assert d.action is not None and d.action.args == {"group": "steps[0].smoke"}
    log.act(
        "run_checks",
        T0,
        group="steps[0].smoke",
        result={"passed": False, "results": [{"name": "status", "status": "failed"}]},
    )
    d = decide(plan, log.state(), T0)
    entered = dict(d.events)["phase_entered"]
    assert entered["kind"] == "check" and "status" in entered["reason"]


def test_metrics_that_do_not_answer_for_stable_stop_the_rollout_before_traffic(log: Log) -> None:
    plan = make_plan()
    log.add("phase_entered", T0, phase="baseline")
    log.act("prepare", T0)
    log.act(
        "observe",
        T0 + 10,
        purpose="baseline",
        since=T0,
        until=T0 + 10,
        result={
            "stable": {
                "errors": {"value": None, "samples": 0, "error": None},
                "p95": {"value": None, "samples": 0, "error": "HTTP 503"},
            }
        },
    )
    d = decide(plan, log.state(), T0 + 10)
    entered = dict(d.events)["phase_entered"]
    assert entered["kind"] == "preflight_metrics"
    assert (
        "errors: no data for stable" in entered["reason"] and "p95: HTTP 503" in entered["reason"]
    )
    log.apply(d.events, T0 + 10)
    log.act("rollback", T0 + 10)
    finished = dict(decide(plan, log.state(), T0 + 10).events)["rollout_finished"]
    assert finished["exit_code"] == ExitCode.PREFLIGHT_FAILED
