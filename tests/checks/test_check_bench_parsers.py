"""The bench output parsers on outputs shaped like the real tools' (k6, wrk, hey)."""

from __future__ import annotations

import json

import pytest

from rollguard.checks import bench_parsers
from rollguard.checks.bench_parsers import ParseError, parse_hey, parse_k6, parse_wrk

K6_SUMMARY_EXPORT = {
    "root_group": {"name": "", "path": "", "id": "d41d8cd98f00b204e9800998ecf8427e"},
    "options": {
        "summaryTrendStats": ["avg", "min", "med", "max", "p(90)", "p(95)", "p(99)"],
        "summaryTimeUnit": "",
        "noColor": False,
    },
    "state": {"isStdOutTTY": False, "isStdErrTTY": False, "testRunDurationMs": 30012.5},
    "metrics": {
        "http_req_duration": {
            "avg": 12.31,
            "min": 1.02,
            "med": 9.8,
            "max": 140.2,
            "p(90)": 21.4,
            "p(95)": 33.7,
            "p(99)": 80.05,
            "thresholds": {"p(95)<250": False},
        },
        "http_reqs": {"count": 24012, "rate": 800.07},
        "http_req_failed": {"passes": 12, "fails": 24000, "value": 0.0004997501},
        "vus": {"value": 10, "min": 10, "max": 10},
        "iterations": {"count": 12006, "rate": 400.03},
    },
}

K6_HANDLE_SUMMARY = {
    "metrics": {
        "http_req_duration": {
            "type": "trend",
            "contains": "time",
            "values": {"avg": 5.5, "med": 4.0, "max": 30.0, "p(90)": 9.0, "p(95)": 12.0},
        },
        "http_reqs": {
            "type": "counter",
            "contains": "default",
            "values": {"count": 500, "rate": 50.0},
        },
        "http_req_failed": {
            "type": "rate",
            "contains": "default",
            "values": {"rate": 0.0, "passes": 0},
        },
    }
}

WRK_LATENCY = """\
Running 10s test @ http://127.0.0.1:3011/threads
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     2.31ms    1.12ms  27.43ms   87.65%
    Req/Sec     3.52k   312.44     4.10k    71.50%
  Latency Distribution
     50%    2.05ms
     75%    2.71ms
     90%    3.60ms
     99%    6.12ms
  70123 requests in 10.00s, 11.24MB read
  Non-2xx or 3xx responses: 35
Requests/sec:   7011.83
Transfer/sec:      1.12MB
"""

WRK_PLAIN_WITH_SOCKET_ERRORS = """\
Running 30s test @ http://10.0.0.7:8080/status
  4 threads and 100 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   850.12us  210.50us   1.20s    95.10%
    Req/Sec    28.01k     2.11k   33.90k    68.25%
  3342011 requests in 30.10s, 401.22MB read
  Socket errors: connect 0, read 12, write 0, timeout 3
Requests/sec: 111029.93
Transfer/sec:     13.33MB
"""

HEY_SUMMARY = """
Summary:
  Total:\t5.0213 secs
  Slowest:\t0.1203 secs
  Fastest:\t0.0009 secs
  Average:\t0.0124 secs
  Requests/sec:\t3983.0102

  Total data:\t1992000 bytes
  Size/request:\t99 bytes

Response time histogram:
  0.001 [1]\t|
  0.013 [15231]\t|\u25a0\u25a0\u25a0\u25a0\u25a0\u25a0\u25a0\u25a0\u25a0\u25a0
  0.025 [3890]\t|\u25a0\u25a0\u25a0
  0.037 [702]\t|\u25a0
  0.120 [176]\t|


Latency distribution:
  10% in 0.0043 secs
  25% in 0.0071 secs
  50% in 0.0105 secs
  75% in 0.0149 secs
  90% in 0.0203 secs
  95% in 0.0251 secs
  99% in 0.0432 secs

Details (average, fastest, slowest):
  DNS+dialup:\t0.0001 secs, 0.0009 secs, 0.1203 secs
  DNS-lookup:\t0.0000 secs, 0.0000 secs, 0.0000 secs
  req write:\t0.0000 secs, 0.0000 secs, 0.0012 secs
  resp wait:\t0.0121 secs, 0.0008 secs, 0.1190 secs
  resp read:\t0.0001 secs, 0.0000 secs, 0.0021 secs

Status code distribution:
  [200]\t19950 responses
  [500]\t40 responses

Error distribution:
  [10]\tPost "http://127.0.0.1:3011/threads": dial tcp 127.0.0.1:3011: connect: connection refused
"""


def test_k6_summary_export() -> None:
    results = parse_k6(json.dumps(K6_SUMMARY_EXPORT, indent=2))
    assert results == {
        "p50_ms": 9.8,
        "p90_ms": 21.4,
        "p95_ms": 33.7,
        "p99_ms": 80.05,
        "mean_ms": 12.31,
        "max_ms": 140.2,
        "requests": 24012,
        "rps": 800.07,
        "error_ratio": 0.0004997501,
        "errors": 12,
    }


def test_k6_handle_summary_form() -> None:
    results = parse_k6(json.dumps(K6_HANDLE_SUMMARY))
    assert results["p95_ms"] == 12.0 and results["p50_ms"] == 4.0
    assert results["rps"] == 50.0 and results["error_ratio"] == 0.0
    assert "p99_ms" not in results  # not in the default trend stats: absent, never guessed


def test_k6_rejects_other_json() -> None:
    with pytest.raises(ParseError, match="not a k6 summary"):
        parse_k6('{"p95": 3}')
    with pytest.raises(ParseError, match="no JSON"):
        parse_k6("k6 crashed")


def test_wrk_with_latency_distribution() -> None:
    results = parse_wrk(WRK_LATENCY)
    assert results == {
        "mean_ms": 2.31,
        "max_ms": 27.43,
        "p50_ms": 2.05,
        "p90_ms": 3.6,
        "p99_ms": 6.12,
        "rps": 7011.83,
        "requests": 70123,
        "errors": 35,
        "error_ratio": 35 / 70123,
    }
    assert "p95_ms" not in results  # wrk prints no p95


def test_wrk_units_and_socket_errors() -> None:
    results = parse_wrk(WRK_PLAIN_WITH_SOCKET_ERRORS)
    assert results["mean_ms"] == pytest.approx(0.85012)
    assert results["max_ms"] == 1200.0
    assert results["errors"] == 15 and results["requests"] == 3342011
    assert results["rps"] == 111029.93
    assert "p50_ms" not in results
    with pytest.raises(ParseError, match="not wrk output"):
        parse_wrk("Usage: wrk <options> <url>")


def test_hey_summary() -> None:
    results = parse_hey(HEY_SUMMARY)
    assert results["p50_ms"] == pytest.approx(10.5)
    assert results["p90_ms"] == pytest.approx(20.3)
    assert results["p95_ms"] == pytest.approx(25.1)
    assert results["p99_ms"] == pytest.approx(43.2)
    assert results["mean_ms"] == pytest.approx(12.4)
    assert results["max_ms"] == pytest.approx(120.3)
    assert results["rps"] == pytest.approx(3983.0102)
    assert results["requests"] == 20000
    assert results["errors"] == 50
    assert results["error_ratio"] == pytest.approx(0.0025)
    with pytest.raises(ParseError, match="not hey output"):
        parse_hey("flag provided but not defined: -x")


def test_regex_and_paths() -> None:
    text = "run 3: p95=41.5 p99=88 throughput 120/s\n"
    assert bench_parsers.parse_regex(text, r"p95=(?P<p95>[\d.]+) p99=(?P<p99_ms>[\d.]+)") == {
        "p95_ms": 41.5,
        "p99_ms": 88.0,
    }
    with pytest.raises(ParseError, match="no match"):
        bench_parsers.parse_regex(text, r"p50=(?P<p50>\d+)")
    with pytest.raises(ParseError, match="not a number"):
        bench_parsers.parse_regex(text, r"(?P<p95>p95=\S+)")
    log = 'starting\n{"latency": {"p95": 12.5}, "rps": 300, "name": "threads"}\n'
    assert bench_parsers.parse_paths(log, {"p95": "latency.p95", "rps": "rps"}) == {
        "p95_ms": 12.5,
        "rps": 300.0,
    }
    assert bench_parsers.parse_paths(log, {"p99": "latency.p99"}) == {}
    with pytest.raises(ParseError, match="not a number"):
        bench_parsers.parse_paths(log, {"rps": "name"})
