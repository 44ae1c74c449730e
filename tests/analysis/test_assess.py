"""Trigger evaluation over every combination of samples, bounds and baselines."""

from __future__ import annotations

import pytest

from rollguard.analysis.assess import evaluate, worst
from rollguard.plan.model import BuiltinMetric, Trigger

FIVE_XX = Trigger.model_validate(
    {
        "name": "5xx",
        "metric": "e",
        "any": [{"max": "0.5%"}, {"max_ratio_to_baseline": 5}],
        "min_baseline": "0.1%",
    }
)
P95 = Trigger.model_validate(
    {"name": "p95", "metric": "l", "any": [{"max": "250ms"}, {"max_ratio_to_baseline": 2}]}
)


def m(value: float | None, samples: int, error: str | None = None) -> dict[str, object]:
    return {"value": value, "samples": samples, "error": error}


@pytest.mark.parametrize(
    ("trigger", "query", "candidate", "stable", "baseline", "expected"),
    [
        # too few samples: inconclusive, whatever the value
        (FIVE_XX, "error_ratio", m(0.5, 10), m(0.0, 1000), None, "inconclusive"),
        (FIVE_XX, "error_ratio", m(None, 0), m(0.0, 1000), None, "inconclusive"),
        # provider error: error, never pass
        (FIVE_XX, "error_ratio", m(None, 0, "HTTP 500"), m(0.0, 1000), None, "error"),
        # absolute bound
        (FIVE_XX, "error_ratio", m(0.006, 500), m(0.0, 1000), None, "fail"),
        (FIVE_XX, "error_ratio", m(0.004, 500), m(0.001, 1000), None, "pass"),
        # relative bound with the floor: 5 x max(0.0001, 0.001) = 0.5%
        (FIVE_XX, "error_ratio", m(0.004, 500), m(0.0001, 1000), None, "pass"),
        # relative to stable over the same window: 5 x 0.0005 = 0.25% < 0.4%
        (P95, "p95", m(0.05, 500), m(0.02, 1000), None, "fail"),
        (P95, "p95", m(0.039, 500), m(0.02, 1000), None, "pass"),
        # stable has too few samples: the baseline snapshot is used
        (P95, "p95", m(0.05, 500), m(0.02, 3), m(0.02, 400), "fail"),
        (P95, "p95", m(0.03, 500), m(0.001, 3), m(0.02, 400), "pass"),
        # no usable baseline at all: the ratio bound is inconclusive, the absolute still fires
        (P95, "p95", m(0.05, 500), m(0.02, 3), None, "inconclusive"),
        (P95, "p95", m(0.3, 500), m(0.02, 3), None, "fail"),
    ],
)
def test_verdicts(trigger, query, candidate, stable, baseline, expected) -> None:  # type: ignore[no-untyped-def]
    v = evaluate(
        trigger,
        metric=BuiltinMetric(query=query),
        candidate=candidate,
        stable=stable,
        baseline=baseline,
        min_samples=50,
    )
    assert v.status == expected, v.reason


def test_a_firing_verdict_says_why_in_numbers() -> None:
    v = evaluate(
        FIVE_XX,
        metric=BuiltinMetric(query="error_ratio"),
        candidate=m(0.1, 400),
        stable=m(0.0, 4000),
        baseline=None,
        min_samples=50,
    )
    assert v.status == "fail"
    assert v.reason == "e 10.00% > max 0.50%"
    assert v.threshold == 0.005 and v.samples == 400


def test_worst_orders_pass_inconclusive_error_fail() -> None:
    assert worst([]) == "pass"
    assert worst(["pass", "inconclusive"]) == "inconclusive"
    assert worst(["inconclusive", "error"]) == "error"
    assert worst(["error", "fail", "pass"]) == "fail"
