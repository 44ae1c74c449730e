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
