"""The human units of a plan: durations and percentages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollguard.durations import format_duration, parse_duration, parse_percent


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("10m", 600.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("1m30s", 90.0),
        ("250ms", 0.25),
        ("1.5s", 1.5),
        ("2d", 172800.0),
        (" 10 m ", 600.0),
        (45, 45.0),
        (0.5, 0.5),
        (0, 0.0),
    ],
)
def test_parse_duration(text: str | float, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "text", ["ten seconds", "10", "10x", "", "s", "-5s", "1h-30m", "5 minutes"]
)
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="a duration like 30s"):
        parse_duration(text)


@pytest.mark.parametrize("value", [-1, -0.5, True])
def test_parse_duration_rejects_negative_numbers_and_booleans(value: float) -> None:
    with pytest.raises(ValueError, match="a duration"):
        parse_duration(value)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0ms"),
        (0.25, "250ms"),
        (1, "1s"),
        (60, "1m"),
        (90, "1m30s"),
        (3600, "1h"),
        (3661, "1h1m1s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


@given(st.integers(min_value=0, max_value=10 * 86400))
def test_whole_seconds_round_trip(seconds: int) -> None:
    assert parse_duration(format_duration(seconds)) == seconds


@given(st.integers(min_value=1, max_value=999))
def test_milliseconds_round_trip(millis: int) -> None:
    assert parse_duration(format_duration(millis / 1000)) == pytest.approx(millis / 1000)


@pytest.mark.parametrize(
    ("text", "fraction"),
    [("0.5%", 0.005), ("25%", 0.25), ("100%", 1.0), (" 5 %", 0.05), ("0.005", 0.005), (0.1, 0.1)],
)
def test_parse_percent(text: str | float, fraction: float) -> None:
    assert parse_percent(text) == pytest.approx(fraction)


@pytest.mark.parametrize("text", ["lots%", "lots", "%", True])
def test_parse_percent_rejects(text: str | bool) -> None:
    with pytest.raises(ValueError, match="a percentage like 0.5%"):
        parse_percent(text)
