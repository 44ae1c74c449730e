"""Metric providers by ``kind:``, and one call that measures any metric spec."""

from __future__ import annotations

from typing import Any

from rollguard.backends.base import TrafficStats
from rollguard.metrics.base import Measurement
from rollguard.plan import model
from rollguard.plugin import Registry

providers: Registry[Any] = Registry("rollguard.metrics")


async def measure(
    spec: model.MetricSpec,
    *,
    version: str,
    since: float,
    until: float,
    traffic: TrafficStats | None,
    labels: dict[str, str] | None = None,
) -> Measurement:
    """Measure ``spec`` for ``version`` over [since, until] with the provider of its kind.

    ``labels`` describe the version for providers that query by label: ``role`` (``stable``
    or ``candidate``) and ``version`` (the plan's version label, e.g. ``go``).

    How providers are built: ``builtin`` gets the router's ``traffic``; every other kind is
    built with the keyword ``labels`` (the values of its ``{{name}}`` templates; ``role``
    defaults to ``version``), so one provider instance serves one version's measurement.
    """
    factory = providers.get(spec.kind)
    if spec.kind == "builtin":
        if traffic is None:
            return Measurement(None, 0, error="built-in metrics need a backend with a router")
        provider = factory(traffic)
    else:
        provider = factory(labels={"role": version, **(labels or {})})
    result: Measurement = await provider.measure(spec, version=version, since=since, until=until)
    return result
