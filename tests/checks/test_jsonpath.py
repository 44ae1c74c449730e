"""The dotted-path resolver used by ``json:`` expectations."""

from __future__ import annotations

from typing import Any

import pytest

from rollguard import jsonpath

DOC = {"summary": {"failed": 0, "p95": 0.21}, "items": [{"id": 7, "tags": ["a", "b"]}], "n": None}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("summary.failed", 0),
        ("summary.p95", 0.21),
        ("items[0].id", 7),
        ("items[0].tags[1]", "b"),
        ("items[-1].tags[-2]", "a"),
        ("$.summary.failed", 0),
        ("n", None),
        ("$", DOC),
        ("", DOC),
    ],
)
def test_resolves(path: str, value: Any) -> None:
    assert jsonpath.resolve(DOC, path) == value


@pytest.mark.parametrize(
    "path",
    ["summary.passed", "items[1].id", "items[0].id.x", "summary[0]", "items.id", "n.x"],
)
def test_missing_is_the_sentinel(path: str) -> None:
    assert jsonpath.resolve(DOC, path) is jsonpath.MISSING


def test_a_top_level_array() -> None:
    assert jsonpath.resolve([[1, 2], [3]], "[1][0]") == 3


@pytest.mark.parametrize("path", ["a..b", "a[x]", "a.", "a]b"])
def test_bad_paths_raise(path: str) -> None:
    with pytest.raises(jsonpath.PathError):
        jsonpath.parse(path)


def test_missing_is_falsy_and_printable() -> None:
    assert not jsonpath.MISSING
    assert repr(jsonpath.MISSING) == "<missing>"
