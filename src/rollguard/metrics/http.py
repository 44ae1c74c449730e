"""The ``http`` metric provider: a number at a path of a JSON document served over HTTP.

One ``GET`` per version and observation. ``{{name}}`` templates in the URL are filled in
(URL-encoded): ``{{version}}``, ``{{role}}``, ``{{window}}`` (e.g. ``30s``), ``{{since}}``
and ``{{until}}`` (Unix seconds), plus any label the runner passes; header values get the same
templates unencoded. A status other than 2xx, a body that is not JSON, a missing path or a
value that is not a finite number is a provider *error*, never a pass; JSON ``null`` at the
path is *no data*. ``samples`` is the number at ``samples_path`` when given, else 1 (a trigger
on such a metric usually wants ``min_samples: 1``).

Example spec (a service's own stats endpoint)::

    kind: http
    url: "${candidate.url}/stats?window={{window}}"
    path: error_ratio
    samples_path: requests
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

import httpx

from rollguard.metrics import placeholders, readings
from rollguard.metrics.base import Measurement
from rollguard.plan import model


class HttpMetricError(Exception):
    """The endpoint gave no usable number; the message says why."""


class HttpProvider:
    """Reads one number from a JSON endpoint for one version.

    Example::

        provider = HttpProvider(labels={"role": "candidate", "version": "go"})
        spec = HttpMetric(kind="http", url="http://stats/v/{{version}}", path="p95")
        (await provider.measure(spec, version="candidate", since=t0, until=t1)).value  # 0.031
    """

    def __init__(
        self,
        *,
        labels: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._labels = dict(labels or {})
        self._transport = transport

    async def measure(
        self, spec: model.HttpMetric, *, version: str, since: float, until: float
    ) -> Measurement:
        """``GET spec.url`` for ``version`` and read the number at ``spec.path``."""
        values = placeholders.window_values(self._labels, version=version, since=since, until=until)
        try:
            url = placeholders.fill(spec.url, values, quote=lambda v: quote(v, safe=""))
            headers = {k: placeholders.fill(v, values) for k, v in spec.headers.items()}
            doc = await self._get(url, headers=headers, timeout=spec.timeout)
            raw = readings.at_path(doc, spec.path, where="the answer")
            if raw is None:
                return Measurement(None, 0)
            samples = 1
            if spec.samples_path is not None:
                samples_raw = readings.at_path(doc, spec.samples_path, where="the answer")
                samples = round(readings.number(samples_raw))
            return Measurement(readings.number(raw), samples)
        except (HttpMetricError, placeholders.PlaceholderError, readings.ReadingError) as exc:
            return Measurement(None, 0, error=str(exc))

    async def _get(self, url: str, *, headers: dict[str, str], timeout: float) -> Any:
        try:
            async with httpx.AsyncClient(timeout=timeout, transport=self._transport) as client:
                response = await client.get(url, headers=headers)
        except httpx.HTTPError as exc:
            raise HttpMetricError(f"GET {url} failed: {type(exc).__name__}: {exc}") from None
        if not 200 <= response.status_code < 300:
            body = response.text[:200].strip()
            raise HttpMetricError(f"GET {url} answered HTTP {response.status_code}: {body}")
        try:
            return response.json()
        except ValueError:
            raise HttpMetricError(
                f"GET {url} did not answer JSON: {response.text[:200]!r}"
            ) from None


__all__ = ["HttpMetricError", "HttpProvider"]
