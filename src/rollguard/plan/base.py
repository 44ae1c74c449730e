"""The building blocks every plan model uses: the frozen base model and the plan's units.

Units: durations are seconds (written ``30s``, ``10m``, ``250ms``), ratios are fractions
(written ``0.5%`` or ``0.005``); a trigger bound may be either (``0.5%``, ``250ms``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from rollguard.durations import parse_duration, parse_percent


def _threshold(value: Any) -> Any:
    """A trigger bound: a number, a percentage (``0.5%``) or a duration (``250ms``, seconds)."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith("%"):
            return parse_percent(text)
        if text and text[-1].isalpha():
            return parse_duration(text)
    return value


def _duration(value: Any) -> Any:
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return parse_duration(value)
    return value


def _percent(value: Any) -> Any:
    if isinstance(value, str):
        return parse_percent(value)
    return value


Duration = Annotated[float, BeforeValidator(_duration), Field(ge=0)]
"""Seconds; written ``30s``, ``10m``, ``1h``, ``250ms`` or a number of seconds."""

Threshold = Annotated[float, BeforeValidator(_threshold)]
"""A number; ``0.5%`` is 0.005 and ``250ms`` is 0.25 (seconds)."""

Fraction = Annotated[float, BeforeValidator(_percent), Field(ge=0, le=1)]


class Model(BaseModel):
    """Base of every plan model: unknown keys are errors and nothing is mutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
