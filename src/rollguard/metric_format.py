"""How metric values read in progress, summaries and verdicts: ratios as percentages,
latencies in milliseconds, rates per second."""

from __future__ import annotations


def format_value(query: str, value: float | None) -> str:
    """Render a metric value for people.

    >>> format_value("error_ratio", 0.0123)
    '1.23%'
    >>> format_value("p95", 0.25)
    '250.0ms'
    """
    if value is None:
        return "n/a"
    if query == "error_ratio":
        return f"{value * 100:.2f}%"
    if query in {"p50", "p95", "p99"}:
        return f"{value * 1000:.1f}ms"
    if query == "rate":
        return f"{value:.1f}/s"
    if float(value).is_integer():
        return str(int(value))
    return f"{value:.4g}"


def verdict_value(verdict: dict[str, object], key: str, *, query: str) -> str:
    """A verdict's ``value``/``baseline``/``threshold`` for people.

    A verdict may say how its numbers read (``unit``): a statistical judge's values are
    shares of requests (percentages) whatever the metric, and its threshold is a log
    likelihood ratio. ``query`` is the metric's query, used otherwise.

    >>> verdict_value({"value": 0.7, "unit": "error_ratio"}, "value", query="p95")
    '70.00%'
    """
    value = verdict.get(key)
    unit = verdict.get("unit")
    if unit == "error_ratio" and key == "threshold":
        return "n/a" if value is None else f"log LR {float(value):.2f}"  # type: ignore[arg-type]
    return format_value(str(unit or query), value)  # type: ignore[arg-type]
