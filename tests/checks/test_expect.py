"""Expectation evaluation as pure functions over texts, files and parsed JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from rollguard.checks import expect
from rollguard.plan import model


def exp(**fields: Any) -> model.Expect:
    return model.Expect.model_validate(fields)


def body(text: str, *, complete: bool = True) -> expect.Subject:
    part = expect.Text("body", content=text, complete=complete)
    return expect.Subject(kind="http", streams={"output": [part]})


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("*.log", "run.log", True),
        ("*.log", "a/run.log", False),
        ("**/*.log", "run.log", True),
        ("**/*.log", "a/b/run.log", True),
        ("logs/**", "logs/a/b.txt", True),
        ("logs/**/x.json", "logs/x.json", True),
        ("./logs/?.txt", "logs/a.txt", True),
        ("logs/?.txt", "logs/ab.txt", False),
        ("a+b.log", "a+b.log", True),
    ],
)
def test_glob_match(pattern: str, path: str, matches: bool) -> None:
    assert expect.glob_match(pattern, path) is matches


def test_find_in_a_file_across_chunk_boundaries(tmp_path: Path) -> None:
    path = tmp_path / "big.log"
    filler = ("y" * 99 + "\n") * 10_486  # just over 1 MiB, so the needle straddles a chunk
    path.write_text(filler[: (1 << 20) - 3] + "NEEDLE\nafter\n")
    text = expect.Text("big.log", path=path)
    assert text.find("NEEDLE") == (1 << 20) // 100 + 1
    assert text.find("absent") is None


def test_tail_of_a_large_file_drops_the_partial_line(tmp_path: Path) -> None:
    path = tmp_path / "out.txt"
    path.write_text("x" * 50 + "\n" + '{"ok": true}\n')
    tail, whole = expect.Text("out", path=path).tail(cap=20)
    assert (tail, whole) == ('{"ok": true}\n', False)


def test_json_prefers_the_whole_document_then_the_last_json_line() -> None:
    pretty = '{\n  "a": 1\n}\n'
    assert expect.evaluate_one(exp(json={"path": "a", "equals": 1}), body(pretty)).ok
    logs = 'log\n{"a": 1}\n[1, 2]\n{"a": 2}\nnot json {\n'
    outcome = expect.evaluate_one(exp(json={"path": "a", "equals": 1}), body(logs))
    assert not outcome.ok
    assert outcome.reason == "body:4: a is 2, expected 1"


@pytest.mark.parametrize(
    ("document", "rule", "ok"),
    [
        ('{"v": true}', {"path": "v", "equals": True}, True),
        ('{"v": 1}', {"path": "v", "equals": True}, False),  # JSON true is not 1
        ('{"v": true}', {"path": "v", "max": 5}, False),  # a bool is not a number
        ('{"v": "3"}', {"path": "v", "max": 5}, False),
        ('{"v": 3}', {"path": "v", "min": 3, "max": 3}, True),
        ('{"v": [1, {"k": "x"}]}', {"path": "v", "equals": [1, {"k": "x"}]}, True),
        ('{"v": null}', {"path": "v"}, True),  # no rule: the path must exist
        ('{"v": null}', {"path": "w"}, False),
        ('{"v": null}', {"path": "v", "exists": False}, False),
    ],
)
def test_json_rules(document: str, rule: dict[str, Any], ok: bool) -> None:
    assert expect.evaluate_one(exp(json=rule), body(document)).ok is ok


def test_invalid_json_path_and_regex_fail_with_a_reason() -> None:
    path = expect.evaluate_one(exp(json={"path": "a..b"}), body("{}"))
    assert not path.ok and "invalid JSON path" in path.reason
    regex = expect.evaluate_one(exp(no_line_matches="("), body("x"))
    assert not regex.ok and "invalid regular expression" in regex.reason


def test_a_cut_body_cannot_pass_negative_assertions() -> None:
    cut = body("all good\n", complete=False)
    assert expect.evaluate_one(exp(contains="good"), cut).ok
    assert not expect.evaluate_one(exp(not_contains="bad"), cut).ok
    assert not expect.evaluate_one(exp(no_line_matches="bad"), cut).ok


def test_contains_must_hold_in_every_artifact(tmp_path: Path) -> None:
    artifacts = []
    for name, text in [("a.log", "PASS\n"), ("b.log", "FAIL\n")]:
        (tmp_path / name).write_text(text)
        artifacts.append(expect.Artifact(name, tmp_path / name, tmp_path / name))
    subject = expect.Subject(kind="command", artifacts=artifacts)
    outcome = expect.evaluate_one(exp(contains="PASS", **{"in": "artifacts"}), subject)
    assert (outcome.ok, outcome.reason) == (False, "not found in b.log")
    assert expect.evaluate_one(exp(contains="PASS", **{"in": "a.*"}), subject).ok
    found = expect.evaluate_one(exp(not_contains="FAIL", **{"in": "*.log"}), subject)
    assert (found.ok, found.quotes) == (False, ("b.log:1",))


def test_artifact_sources_fail_when_nothing_was_collected() -> None:
    subject = expect.Subject(kind="command")
    outcome = expect.evaluate_one(exp(no_line_matches="x", **{"in": "artifacts"}), subject)
    assert (outcome.ok, outcome.reason) == (False, "no artifacts were collected")


def test_exit_code_needs_one() -> None:
    outcome = expect.evaluate_one(exp(exit_code=0), body(""))
    assert (outcome.ok, outcome.reason) == (False, "no exit code in this http check")


def test_no_line_matches_quotes_at_most_a_few_lines() -> None:
    outcome = expect.evaluate_one(exp(no_line_matches="E"), body("E\n" * 12))
    assert outcome.reason == "12 lines match"
    assert len(outcome.quotes) == expect.SHOWN_LINES
    assert outcome.detail_lines()[:2] == [
        "FAILED: no_line_matches /E/ (12 lines match)",
        "  body:1: E",
    ]


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({"exit_code": 2}, "exit_code == 2"),
        ({"contains": "ok", "in": "stderr"}, "contains 'ok' in stderr"),
        ({"json": {"path": "p95", "max": 0.25, "min": 0}}, "json p95 >= 0 and <= 0.25"),
        ({"json": {"path": "x", "exists": False}}, "json x is missing"),
    ],
)
def test_describe(fields: dict[str, Any], text: str) -> None:
    assert expect.describe(exp(**fields)) == text
