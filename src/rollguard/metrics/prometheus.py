"""The ``prometheus`` metric provider: one number per version from a PromQL query.

The query is sent to the Prometheus HTTP API (``/api/v1/query`` at the window's end, or
``/api/v1/query_range`` over the window) after its ``{{name}}`` templates are filled in:
``{{version}}`` (the plan's version label, e.g. ``go``), ``{{role}}`` (``stable`` or
``candidate``), ``{{window}}`` (the window in whole seconds, e.g. ``30s``) and any other label
the runner passes. The double-brace syntax keeps these apart from the plan's ``${...}``
templates, which are filled in once when the rollout starts (``${env.PROM_TOKEN}`` works in
``bearer_token``). Label values are escaped for a PromQL string literal.

How an answer becomes a :class:`~rollguard.metrics.base.Measurement` (never a silent pass):

- an empty result is *no data*: ``value=None, samples=0`` (inconclusive), never zero;
- an HTTP error, an unreachable server, ``status: error`` (bad PromQL), an infinite value or
  a NaN (unless ``on_nan: no_data``) is a provider *error*;
- several series are ambiguous and an error, unless ``reduce: sum`` adds them up;
- ``samples`` is the value of ``samples_query`` (several series summed, empty is 0) when one
  is given, else the number of points behind the value (1 for an instant query).

Connection errors and HTTP 5xx answers are retried ``retries`` times with a short backoff;
PromQL errors are not (the same query fails the same way).
"""

from __future__ import annotations

import asyncio
import math
import ssl
from collections.abc import Mapping
from typing import Any

import httpx

from rollguard.metrics import placeholders
from rollguard.metrics.base import Measurement
from rollguard.plan import model

RETRY_BACKOFF_S = 0.2
"""First pause before a retry; it doubles after each attempt."""

Series = tuple[dict[str, str], list[tuple[float, float]]]
"""One series of an answer: its labels and its (time, value) points."""


class PrometheusError(Exception):
    """Prometheus could not give a usable number; the message says why, for the evidence."""


class PrometheusProvider:
    """Evaluates PromQL for one version.

    Example::

        provider = PrometheusProvider(labels={"role": "candidate", "version": "go"})
        spec = PrometheusMetric(kind="prometheus", url="http://127.0.0.1:9090",
                                query='sum(rate(reqs{version="{{version}}"}[{{window}}]))')
        m = await provider.measure(spec, version="candidate", since=now - 30, until=now)
        m.value, m.samples, m.error  # (12.5, 1, None); (None, 0, None) when nothing matched
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
        self, spec: model.PrometheusMetric, *, version: str, since: float, until: float
    ) -> Measurement:
        """The value of ``spec.query`` for ``version`` over ``[since, until]``."""
        values = {
            "role": version,
            **{k: promql_escape(v) for k, v in self._labels.items()},
            "window": prom_duration(until - since),
        }
        try:
            query = render_query(spec.query, values)
            samples_query = render_query(spec.samples_query, values) if spec.samples_query else None
            async with self._client(spec) as client:
                series = await self._evaluate(client, spec, query=query, since=since, until=until)
                value, points = reduce_series(series, spec)
                if value is None:
                    return Measurement(None, 0)
                samples = points
                if samples_query is not None:
                    counted = await self._instant(client, spec, query=samples_query, at=until)
                    samples = count_samples(counted)
        except PrometheusError as exc:
            return Measurement(None, 0, error=str(exc))
        except (OSError, ssl.SSLError) as exc:  # unreadable CA/cert files
            return Measurement(None, 0, error=f"TLS setup failed: {exc}")
        return Measurement(value, samples)

    # ------------------------------------------------------------------ HTTP

    def _client(self, spec: model.PrometheusMetric) -> httpx.AsyncClient:
        headers = dict(spec.headers)
        if spec.bearer_token is not None:
            headers["Authorization"] = f"Bearer {spec.bearer_token}"
        auth = httpx.BasicAuth(spec.basic.username, spec.basic.password) if spec.basic else None
        return httpx.AsyncClient(
            base_url=spec.url.rstrip("/") + "/",
            headers=headers,
            auth=auth,
            timeout=spec.timeout,
            verify=_verify(spec.tls),
            transport=self._transport,
        )

    async def _evaluate(
        self,
        client: httpx.AsyncClient,
        spec: model.PrometheusMetric,
        *,
        query: str,
        since: float,
        until: float,
    ) -> list[Series]:
        if spec.mode == "instant":
            return await self._instant(client, spec, query=query, at=until)
        step = spec.step or max(1.0, (until - since) / 30)
        params = {
            "query": query,
            "start": f"{since:.3f}",
            "end": f"{until:.3f}",
            "step": f"{step:g}",
            "timeout": f"{max(1, round(spec.timeout * 1000))}ms",
        }
        return parse_result(await self._get(client, spec, path="api/v1/query_range", params=params))

    async def _instant(
        self, client: httpx.AsyncClient, spec: model.PrometheusMetric, *, query: str, at: float
    ) -> list[Series]:
        params = {
            "query": query,
            "time": f"{at:.3f}",
            "timeout": f"{max(1, round(spec.timeout * 1000))}ms",
        }
        return parse_result(await self._get(client, spec, path="api/v1/query", params=params))

    async def _get(
        self,
        client: httpx.AsyncClient,
        spec: model.PrometheusMetric,
        *,
        path: str,
        params: dict[str, str],
    ) -> dict[str, Any]:
        where = f"{spec.url.rstrip('/')}/{path}"
        for attempt in range(spec.retries + 1):
            last = attempt == spec.retries
            try:
                response = await client.get(path, params=params)
            except httpx.ReadTimeout as exc:
                raise PrometheusError(f"no answer from {where} within {spec.timeout:g}s") from exc
            except httpx.TransportError as exc:
                if last:
                    raise PrometheusError(
                        f"cannot reach Prometheus at {where}: {type(exc).__name__}: {exc}"
                    ) from exc
            else:
                if response.status_code < 500 or last:
                    return _answer(response, where)
            await asyncio.sleep(RETRY_BACKOFF_S * 2**attempt)
        raise AssertionError("unreachable: the last attempt returns or raises")


def _answer(response: httpx.Response, where: str) -> dict[str, Any]:
    """The ``data`` of a successful API answer; a :class:`PrometheusError` otherwise."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("status") == "error":
        kind = body.get("errorType") or "error"
        raise PrometheusError(f"PromQL {kind} (HTTP {response.status_code}): {body.get('error')}")
    if response.status_code >= 300:
        raise PrometheusError(
            f"HTTP {response.status_code} from {where}: {response.text[:200].strip()}"
        )
    if not isinstance(body, dict) or body.get("status") != "success":
        raise PrometheusError(f"not a Prometheus API answer from {where}: {response.text[:200]}")
    data = body.get("data")
    if not isinstance(data, dict):
        raise PrometheusError(f"answer from {where} has no data")
    return data


def _verify(tls: model.PrometheusTls | None) -> ssl.SSLContext | bool:
    if tls is None:
        return True
    context = ssl.create_default_context(cafile=tls.ca_file)
    if tls.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if tls.cert_file is not None:
        context.load_cert_chain(tls.cert_file, tls.key_file)
    return context


# ---------------------------------------------------------------------- pure helpers


def prom_duration(seconds: float) -> str:
    """A window as a Prometheus duration in whole seconds, at least ``1s``.

    >>> prom_duration(29.6), prom_duration(0.2)
    ('30s', '1s')
    """
    return f"{max(1, round(seconds))}s"


def promql_escape(value: str) -> str:
    r"""``value`` made safe inside a double-quoted PromQL string.

    >>> promql_escape('a"b\\c')
    'a\\"b\\\\c'
    """
    return value.replace("\\", "\\\\").replace('"', '\\"')


def render_query(text: str, values: Mapping[str, str]) -> str:
    """Fill in the ``{{name}}`` templates of a query.

    >>> render_query('up{version="{{ version }}"}[{{window}}]', {"version": "go", "window": "30s"})
    'up{version="go"}[30s]'
    """

    try:
        return placeholders.fill(text, values, where="query")
    except placeholders.PlaceholderError as exc:
        raise PrometheusError(str(exc)) from None


def _number(raw: Any) -> float:
    try:
        return float(raw)
    except (TypeError, ValueError):
        raise PrometheusError(f"not a number in the answer: {raw!r}") from None


def parse_result(data: Mapping[str, Any]) -> list[Series]:
    """The series of a ``query`` or ``query_range`` answer, whatever its result type.

    >>> parse_result({"resultType": "vector",
    ...               "result": [{"metric": {"v": "go"}, "value": [10, "0.5"]}]})
    [({'v': 'go'}, [(10.0, 0.5)])]
    """
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return [({}, [(_number(result[0]), _number(result[1]))])]
    if kind not in ("vector", "matrix") or not isinstance(result, list):
        raise PrometheusError(f"unsupported result type {kind!r} (expected a number)")
    out: list[Series] = []
    for item in result:
        labels = {str(k): str(v) for k, v in (item.get("metric") or {}).items()}
        raw = [item["value"]] if kind == "vector" else item.get("values") or []
        out.append((labels, [(_number(t), _number(v)) for t, v in raw]))
    return out


def _describe(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def reduce_series(series: list[Series], spec: model.PrometheusMetric) -> tuple[float | None, int]:
    """One value and the number of points behind it; ``(None, 0)`` for an empty result.

    Raises :class:`PrometheusError` for several series (unless ``reduce: sum``), NaN (unless
    ``on_nan: no_data``) and infinities.
    """
    series = [(labels, points) for labels, points in series if points]
    if not series:
        return None, 0
    if len(series) > 1 and spec.reduce != "sum":
        shown = ", ".join(_describe(labels) for labels, _ in series[:3])
        more = f" and {len(series) - 3} more" if len(series) > 3 else ""
        raise PrometheusError(
            f"ambiguous: the query returned {len(series)} series ({shown}{more}); "
            "aggregate them in PromQL (e.g. sum(...)) or set reduce: sum"
        )
    if spec.reduce == "sum":
        totals: dict[float, float] = {}
        for _, points in series:
            for t, v in points:
                totals[t] = totals.get(t, 0.0) + v
        points = sorted(totals.items())
        used = [points[-1][1]]
    else:
        points = series[0][1]
        used = [points[-1][1]] if spec.reduce == "last" else [v for _, v in points]
    if any(math.isinf(v) for v in used):
        raise PrometheusError("the query gave an infinite value (a division by zero?)")
    if any(math.isnan(v) for v in used):
        if spec.on_nan == "no_data":
            return None, 0
        raise PrometheusError("the query gave NaN (0/0: no requests in the window?)")
    if spec.reduce in ("last", "sum"):
        value = used[-1]
    elif spec.reduce == "avg":
        value = sum(used) / len(used)
    else:
        value = max(used) if spec.reduce == "max" else min(used)
    return value, len(points)


def count_samples(series: list[Series]) -> int:
    """The sample count from a ``samples_query`` answer: series summed, empty is 0."""
    total = 0.0
    for _, points in series:
        if points:
            value = points[-1][1]
            if not math.isfinite(value):
                raise PrometheusError(f"samples_query gave {value}, not a count")
            total += value
    return round(total)


__all__ = [
    "PrometheusError",
    "PrometheusProvider",
    "count_samples",
    "parse_result",
    "prom_duration",
    "promql_escape",
    "reduce_series",
    "render_query",
]
