"""Read bench results out of a bench tool's output.

Every parser returns the results it found under the names of
:data:`rollguard.plan.model.BENCH_RESULTS` (latencies in milliseconds, ``rps`` per second,
``error_ratio`` a fraction). A result a tool does not report is simply absent; the check
turns a target on an absent result into an ``error``, never a pass.

- ``k6``: the JSON of ``k6 run --summary-export FILE`` (``metrics.http_req_duration`` with
  ``med``, ``p(90)``, ``p(95)``, ``avg``, ``max`` and ``p(99)`` when ``summaryTrendStats``
  asks for it; ``metrics.http_reqs.count``/``rate``; ``metrics.http_req_failed.value``). The
  ``handleSummary`` form (the same under ``values``) is read too.
- ``wrk``: its text. With ``--latency`` the ``Latency Distribution`` gives p50, p75, p90 and
  p99 (wrk prints no p95); ``Requests/sec:``; errors are the ``Non-2xx or 3xx responses``
  plus the ``Socket errors``.
- ``hey``: its text summary: ``Latency distribution:`` lines (``95% in 0.0123 secs``),
  ``Requests/sec:``, ``Status code distribution:`` and ``Error distribution:``.
- a regular expression with named groups, or a map of result names to JSON paths.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, TypeGuard

from rollguard import jsonpath
from rollguard.plan import model


class ParseError(ValueError):
    """The output is not what the parser reads (not JSON, no numbers where expected)."""


Results = dict[str, float]

_UNITS_MS = {"us": 0.001, "µs": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}
_K6_TREND = {
    "med": "p50_ms",
    "p(50)": "p50_ms",
    "p(90)": "p90_ms",
    "p(95)": "p95_ms",
    "p(99)": "p99_ms",
    "avg": "mean_ms",
    "max": "max_ms",
}


def parse_k6(text: str) -> Results:
    """Results of a k6 summary export (JSON)."""
    document = _json(text)
    metrics = document.get("metrics") if isinstance(document, dict) else None
    if not isinstance(metrics, dict):
        raise ParseError("no `metrics` object: not a k6 summary export")

    def stats(name: str) -> dict[str, Any]:
        found = metrics.get(name)
        if not isinstance(found, dict):
            return {}
        values = found.get("values")  # handleSummary() form
        return values if isinstance(values, dict) else found

    out: Results = {}
    for key, name in _K6_TREND.items():
        value = stats("http_req_duration").get(key)
        if _number(value):
            out[name] = float(value)
    requests = stats("http_reqs")
    if _number(requests.get("count")):
        out["requests"] = float(requests["count"])
    if _number(requests.get("rate")):
        out["rps"] = float(requests["rate"])
    failed = stats("http_req_failed")
    ratio = failed.get("value", failed.get("rate"))
    if _number(ratio):
        out["error_ratio"] = float(ratio)
        if "requests" in out:
            out["errors"] = round(out["error_ratio"] * out["requests"])
    if not out:
        raise ParseError("the k6 summary has no http_req_duration or http_reqs metrics")
    return out


def parse_wrk(text: str) -> Results:
    """Results of wrk's text output (run it with ``--latency`` for percentiles)."""
    out: Results = {}
    latency = re.search(r"^\s*Latency\s+(\S+)\s+\S+\s+(\S+)", text, re.MULTILINE)
    if latency:
        out["mean_ms"] = _duration_ms(latency.group(1))
        out["max_ms"] = _duration_ms(latency.group(2))
    at = text.find("Latency Distribution")
    for line in text[at:].splitlines()[1:] if at >= 0 else []:
        row = re.fullmatch(r"\s*(\d+(?:\.\d+)?)%\s+(\S+)\s*", line)
        if row is None:
            break
        name = f"p{float(row.group(1)):g}_ms"
        if name in model.BENCH_RESULTS:
            out[name] = _duration_ms(row.group(2))
    total = re.search(r"^\s*(\d+) requests in", text, re.MULTILINE)
    rps = re.search(r"^Requests/sec:\s*([\d.]+)", text, re.MULTILINE)
    if rps:
        out["rps"] = float(rps.group(1))
    if total:
        requests = int(total.group(1))
        errors = 0
        non_2xx = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
        if non_2xx:
            errors += int(non_2xx.group(1))
        sockets = re.search(r"Socket errors:([^\n]*)", text)
        if sockets:
            errors += sum(int(n) for n in re.findall(r"\d+", sockets.group(1)))
        out["requests"] = requests
        out["errors"] = errors
        out["error_ratio"] = errors / requests if requests else 0.0
    if "rps" not in out and "requests" not in out:
        raise ParseError("no `N requests in` or `Requests/sec:` line: not wrk output")
    return out


def parse_hey(text: str) -> Results:
    """Results of hey's text summary."""
    out: Results = {}
    for pct, seconds in re.findall(r"^\s*(\d+(?:\.\d+)?)% in ([\d.]+) secs", text, re.MULTILINE):
        name = f"p{float(pct):g}_ms"
        if name in model.BENCH_RESULTS:
            out[name] = float(seconds) * 1000.0
    for label, name in (("Average", "mean_ms"), ("Slowest", "max_ms")):
        found = re.search(rf"^\s*{label}:\s*([\d.]+) secs", text, re.MULTILINE)
        if found:
            out[name] = float(found.group(1)) * 1000.0
    rps = re.search(r"^\s*Requests/sec:\s*([\d.]+)", text, re.MULTILINE)
    if rps:
        out["rps"] = float(rps.group(1))
    statuses = _section(text, "Status code distribution:")
    failures = _section(text, "Error distribution:")
    answered = bad = 0
    for code, count in re.findall(r"\[(\d+)\]\s+(\d+) responses", statuses):
        answered += int(count)
        if not 200 <= int(code) < 400:
            bad += int(count)
    unanswered = sum(int(n) for n in re.findall(r"^\s*\[(\d+)\]", failures, re.MULTILINE))
    if answered or unanswered:
        out["requests"] = answered + unanswered
        out["errors"] = bad + unanswered
        out["error_ratio"] = out["errors"] / out["requests"]
    if "rps" not in out and "p50_ms" not in out:
        raise ParseError("no `Requests/sec:` or `Latency distribution:` lines: not hey output")
    return out


def parse_regex(text: str, pattern: str) -> Results:
    """Named groups of the first match of ``pattern`` (``p95`` is read as ``p95_ms``)."""
    try:
        regex = re.compile(pattern, re.MULTILINE)
    except re.error as exc:
        raise ParseError(f"invalid regular expression: {exc}") from None
    match = regex.search(text)
    if match is None:
        raise ParseError(f"the output has no match for /{pattern}/")
    out: Results = {}
    for group, value in match.groupdict().items():
        if value is None:
            continue
        try:
            out[model.bench_result_name(group)] = float(value)
        except ValueError:
            raise ParseError(f"group {group!r} matched {value!r}, not a number") from None
    return out


def parse_paths(text: str, paths: dict[str, str]) -> Results:
    """Numbers at ``paths`` (result name -> dotted path) in the JSON output."""
    document = _json(text)
    out: Results = {}
    for name, path in paths.items():
        value = jsonpath.resolve(document, path)
        if _number(value):
            out[model.bench_result_name(name)] = float(value)
        elif value is not jsonpath.MISSING:
            raise ParseError(f"{path} is {json.dumps(value, default=str)[:60]}, not a number")
    return out


PARSERS: dict[str, Callable[[str], Results]] = {"k6": parse_k6, "wrk": parse_wrk, "hey": parse_hey}
"""The ready-made parsers by the name a plan uses in ``parser:``."""


def parse(spec: model.BenchCheck, text: str) -> Results:
    """The results of ``text`` read the way ``spec`` says (parser, regex or paths)."""
    if spec.parser is not None:
        return PARSERS[spec.parser](text)
    if spec.regex is not None:
        return parse_regex(text, spec.regex)
    return parse_paths(text, spec.paths)


def _json(text: str) -> Any:
    """The whole text as JSON, else its last line that is a JSON object."""
    try:
        return json.loads(text)
    except ValueError:
        pass
    for line in reversed(text.splitlines()):
        if line.strip().startswith("{"):
            try:
                return json.loads(line)
            except ValueError:
                continue
    raise ParseError("the output holds no JSON document")


def _section(text: str, title: str) -> str:
    """The indented lines under ``title`` (up to the next blank line)."""
    at = text.find(title)
    if at < 0:
        return ""
    lines = []
    for line in text[at + len(title) :].splitlines()[1:]:
        if not line.strip():
            break
        lines.append(line)
    return "\n".join(lines)


def _duration_ms(text: str) -> float:
    found = re.fullmatch(r"([\d.]+)(us|µs|ms|s|m|h)", text.strip())
    if found is None:
        raise ParseError(f"not a duration: {text!r}")
    return float(found.group(1)) * _UNITS_MS[found.group(2)]


def _number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


__all__ = [
    "PARSERS",
    "ParseError",
    "Results",
    "parse",
    "parse_hey",
    "parse_k6",
    "parse_paths",
    "parse_regex",
    "parse_wrk",
]
