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

import math
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from rollguard.metrics.base import Measurement
from rollguard.plan import model

_TEMPLATE = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")
_PATH_STEP = re.compile(r"([^.\[\]]+)|\[(-?\d+)\]")


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
        values = {
            "role": version,
            **self._labels,
            "window": f"{max(1, round(until - since))}s",
            "since": str(int(since)),
            "until": str(int(until)),
        }
        try:
            url = fill(spec.url, values, quote=lambda v: quote(v, safe=""))
            headers = {k: fill(v, values) for k, v in spec.headers.items()}
            doc = await self._get(url, headers=headers, timeout=spec.timeout)
            raw = at_path(doc, spec.path)
            if raw is None:
                return Measurement(None, 0)
            samples = 1
            if spec.samples_path is not None:
                samples = round(number(at_path(doc, spec.samples_path)))
            return Measurement(number(raw), samples)
        except HttpMetricError as exc:
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


def fill(text: str, values: Mapping[str, str], *, quote: Callable[[str], str] = str) -> str:
    """Fill in ``{{name}}`` templates, each value passed through ``quote``.

    >>> fill("http://s/v/{{version}}", {"version": "go 1"}, quote=lambda v: v.replace(" ", "+"))
    'http://s/v/go+1'
    """

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            known = ", ".join(sorted(values))
            raise HttpMetricError(f"unknown template {{{{{name}}}}} (known: {known})")
        return quote(values[name])

    return _TEMPLATE.sub(one, text)


def number(raw: Any) -> float:
    """A finite number from a JSON value (numbers, or text holding one).

    >>> number("0.5"), number(3)
    (0.5, 3.0)
    """
    if isinstance(raw, bool) or not isinstance(raw, int | float | str):
        raise HttpMetricError(f"not a number: {raw!r}")
    try:
        value = float(raw)
    except ValueError:
        raise HttpMetricError(f"not a number: {str(raw)[:200]!r}") from None
    if not math.isfinite(value):
        raise HttpMetricError(f"not a finite number: {raw!r}")
    return value


def at_path(doc: Any, path: str) -> Any:
    """The value at a dotted path (``data.items[0].rate``); an error when it is missing.

    >>> at_path({"data": {"rates": [0.1, 0.2]}}, "data.rates[-1]")
    0.2
    """
    node = doc
    for key, index in _PATH_STEP.findall(path.strip().removeprefix("$")):
        try:
            node = node[int(index)] if index else node[key]
        except (KeyError, IndexError, TypeError):
            raise HttpMetricError(f"nothing at {path!r} in the answer") from None
    return node


__all__ = ["HttpMetricError", "HttpProvider", "at_path", "fill", "number"]
