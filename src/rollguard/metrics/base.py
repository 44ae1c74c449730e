"""The ``MetricProvider`` extension point: a number for one version over a window.

A provider never turns a failure into a value: it returns a :class:`Measurement` with
``error`` set (or raises, and the runner records the error). ``value=None`` means *no data*,
which is inconclusive, never zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from rollguard.plan import model


@dataclass(frozen=True)
class Measurement:
    """One metric value for one version over one window."""

    value: float | None  # None: no data (inconclusive)
    samples: int  # requests (or points) behind the value
    error: str | None = None  # the provider failed; value is then None

    def to_dict(self) -> dict[str, object]:
        return {"value": self.value, "samples": self.samples, "error": self.error}


class MetricProvider(Protocol):
    """Reads a metric for a version over a window."""

    async def measure(
        self, spec: model.MetricSpec, *, version: str, since: float, until: float
    ) -> Measurement:
        """The value of ``spec`` for ``version`` (``stable``/``candidate``) in [since, until]."""
        ...
