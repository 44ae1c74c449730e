"""The judge registry and the public surface of ``rollguard.analysis.judges``."""

from __future__ import annotations

import json

import pytest

from rollguard import plugin
from rollguard.analysis import judges
from rollguard.analysis.judges import base, registry


def test_the_three_builtins_are_registered() -> None:
    assert {"threshold", "mann_whitney", "sequential"} <= set(registry.judges.kinds())


@pytest.mark.parametrize(
    ("kind", "params"),
    [
        ("threshold", {"max": 0.005, "failure_limit": 2}),
        ("mann_whitney", {"metric": "latency", "tolerance": 0.1}),
        ("sequential", {"metric": "errors", "alpha": 0.01, "tests": 2}),
    ],
)
def test_build_gives_a_judge_with_a_json_state(kind: str, params: dict[str, object]) -> None:
    judge = registry.build(kind, params)
    assert judge.name == kind
    state = judge.initial_state()
    assert json.loads(json.dumps(state)) == state
    state, verdict = judge.update(state, base.IntervalData())
    assert verdict.status == "inconclusive"
    assert json.loads(json.dumps(state)) == state
    json.dumps(verdict.to_dict())


def test_unknown_kind_lists_the_installed_ones() -> None:
    with pytest.raises(plugin.UnknownKind, match="installed: .*sequential"):
        registry.build("magic", {})


def test_unknown_parameter_is_a_type_error() -> None:
    with pytest.raises(TypeError):
        registry.build("sequential", {"alfa": 0.01})


def test_public_names_are_sorted_and_complete() -> None:
    assert judges.__all__ == sorted(judges.__all__)
    for name in judges.__all__:
        assert hasattr(judges, name)
