"""Pydantic models of a plan file (``apiVersion: rollguard/v1``).

The plan is data: validated once at load time, never mutated (every model is frozen), and
every field documented where it is declared (``docs/plan-reference.md`` and the JSON Schema
are generated from these descriptions; a test fails when one is missing).

Units: durations are seconds (written ``30s``, ``10m``, ``250ms``), ratios are fractions
(written ``0.5%`` or ``0.005``). Strings may hold ``${...}`` templates that are filled in at
run time (see :mod:`rollguard.plan.templates`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from rollguard.durations import parse_duration, parse_percent
from rollguard.plan import gates

API_VERSION = "rollguard/v1"


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


# ---------------------------------------------------------------------------- versions


class VersionSpec(Model):
    """One version of the service (the stable or the candidate) and how to run it."""

    version: str = Field(description="Label of this version, e.g. `node-1.8.2` or `go-3f9c2e1`.")
    url: str = Field(
        description="Base URL where this version serves, e.g. `http://127.0.0.1:3010`. "
        "Available to templates as `${stable.url}` / `${candidate.url}`."
    )
    command: list[str] | None = Field(
        default=None,
        description="Argv that starts this version (local backend). One of `command`, `shell`.",
    )
    shell: str | None = Field(
        default=None, description="Shell command line that starts this version (local backend)."
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="Environment variables added for the process."
    )
    cwd: str | None = Field(
        default=None, description="Working directory, relative to the plan file's folder."
    )
    health: str = Field(
        default="/status",
        description="Path (joined to `url`) or full URL answering 2xx when the version is ready.",
    )
    start_timeout: Duration = Field(
        default=30.0, description="How long to wait for the health URL after starting."
    )
    image: str | None = Field(
        default=None,
        description="Image reference of this version (for image checks and promotion), "
        "e.g. `registry/chat:go-3f9c2e1`.",
    )

    @model_validator(mode="after")
    def _one_way_to_start(self) -> VersionSpec:
        if self.command is not None and self.shell is not None:
            raise ValueError("give either `command` (argv list) or `shell`, not both")
        if self.command is not None and not self.command:
            raise ValueError(
                "`command` is an empty list (expected an argv like [./server, --port, '3010'])"
            )
        return self


# ---------------------------------------------------------------------------- backends


class LocalBackendSpec(Model):
    """Local processes behind the built-in HTTP router (the embedded default)."""

    kind: Literal["local"] = Field(default="local", description="Backend kind: `local`.")
    listen: str = Field(
        default="127.0.0.1:8080",
        description="`host:port` where the built-in router accepts traffic. "
        "Available to templates as `${router.url}`.",
    )
    stop_timeout: Duration = Field(
        default=10.0, description="How long a stopped process gets between SIGTERM and SIGKILL."
    )

    @model_validator(mode="after")
    def _listen_is_host_port(self) -> LocalBackendSpec:
        if "${" in self.listen:
            return self  # filled in at run time
        host, sep, port = self.listen.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"listen must be host:port like 127.0.0.1:8080, not {self.listen!r}")
        return self


BackendSpec = LocalBackendSpec


# ---------------------------------------------------------------------------- checks


class JsonExpect(Model):
    """An assertion on one value inside a JSON document."""

    path: str = Field(
        description="Dotted path into the document, e.g. `summary.failed` or `items[0].id`."
    )
    equals: Any = Field(default=None, description="The value must equal this.")
    max: float | None = Field(default=None, description="The value must be a number <= this.")
    min: float | None = Field(default=None, description="The value must be a number >= this.")
    exists: bool | None = Field(
        default=None, description="The path must (true) or must not (false) exist."
    )


class Expect(Model):
    """One expectation of a check; exactly one of its assertion fields is set."""

    exit_code: int | None = Field(default=None, description="The command's exit code must be this.")
    no_line_matches: str | None = Field(
        default=None, description="No line of the source may match this regular expression."
    )
    contains: str | None = Field(default=None, description="The source must contain this text.")
    not_contains: str | None = Field(
        default=None, description="The source must not contain this text."
    )
    json_path: JsonExpect | None = Field(
        default=None, alias="json", description="The source parsed as JSON must satisfy this."
    )
    source: str = Field(
        default="output",
        alias="in",
        description="What to look at: `output` (stdout+stderr, or the HTTP body), `stdout`, "
        "`stderr`, `artifacts` (every collected artifact) or a glob of artifacts.",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Expect:
        given = [
            n
            for n in ("exit_code", "no_line_matches", "contains", "not_contains", "json_path")
            if getattr(self, n) is not None
        ]
        if len(given) != 1:
            raise ValueError(
                "each expectation has exactly one of exit_code, no_line_matches, contains, "
                f"not_contains, json (found {len(given)})"
            )
        return self


class CheckBase(Model):
    """Fields that every check has."""

    name: str = Field(description="Name shown in progress, evidence and the summary.")
    timeout: Duration = Field(
        default=60.0, description="The check fails (as an error, never a pass) after this long."
    )


class CommandCheck(CheckBase):
    """Run a command; pass when every expectation holds (default: exit code 0)."""

    kind: Literal["command"] = Field(description="Check kind: `command`.")
    command: list[str] | None = Field(
        default=None, description="Argv to run. One of `command`, `shell`."
    )
    shell: str | None = Field(default=None, description="Shell command line to run (`/bin/sh -c`).")
    env: dict[str, str] = Field(default_factory=dict, description="Environment variables added.")
    cwd: str | None = Field(
        default=None, description="Working directory, relative to the plan's folder."
    )
    artifacts: list[str] = Field(
        default_factory=list,
        description="Globs (relative to `cwd`) of files the command writes; copied into evidence.",
    )
    expect: list[Expect] = Field(
        default_factory=list,
        description="Expectations. Exit code 0 is expected too unless one names `exit_code`.",
    )

    @model_validator(mode="after")
    def _one_way_to_run(self) -> CommandCheck:
        if (self.command is None) == (self.shell is None):
            raise ValueError("give exactly one of `command` (argv list) or `shell`")
        if self.command is not None and not self.command:
            raise ValueError("`command` is an empty list")
        return self


class HttpCheck(CheckBase):
    """Send one HTTP request; pass when the status and every expectation hold."""

    kind: Literal["http"] = Field(description="Check kind: `http`.")
    url: str = Field(description="URL to request, e.g. `${candidate.url}/status`.")
    method: str = Field(default="GET", description="HTTP method.")
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers.")
    body: str | None = Field(default=None, description="Request body as text.")
    json_body: Any = Field(default=None, description="Request body as JSON (sets Content-Type).")
    status: list[int] = Field(
        default_factory=lambda: [200], description="Accepted status codes (a number or a list)."
    )
    expect: list[Expect] = Field(
        default_factory=list, description="Expectations on the response body."
    )

    @model_validator(mode="before")
    @classmethod
    def _status_as_list(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("status"), int):
            data = {**data, "status": [data["status"]]}
        return data


class QueryCheck(CheckBase):
    """Query persisted data (SQL through SQLAlchemy, or MongoDB); pass when the result holds.

    SQL: the first column of the first row is the result (`equals`, `min`, `max`), or every
    row when `rows` is given. MongoDB: `count_documents(filter)` is the result, or the
    documents found (with `projection`) when `rows` is given.
    """

    kind: Literal["query"] = Field(description="Check kind: `query`.")
    url: str = Field(
        description="Database URL: a SQLAlchemy URL (`sqlite:////data/chat.db`, "
        "`postgresql+psycopg://user@host:5432/db`) or `mongodb://host:27017/db`. "
        "Passwords in it are never written to evidence or logs."
    )
    sql: str | None = Field(default=None, description="SQL query to run (SQL URLs only).")
    params: dict[str, Any] = Field(
        default_factory=dict, description="Bound parameters of `sql` (`:name` in the query)."
    )
    database: str | None = Field(
        default=None, description="MongoDB database; default: the database named in `url`."
    )
    collection: str | None = Field(default=None, description="MongoDB collection to query.")
    filter: dict[str, Any] = Field(
        default_factory=dict, description="MongoDB filter document, e.g. `{thread_id: 7}`."
    )
    projection: dict[str, Any] | None = Field(
        default=None, description="MongoDB projection of the documents compared with `rows`."
    )
    equals: Any = Field(default=None, description="The result must equal this.")
    min: float | None = Field(default=None, description="The result must be a number >= this.")
    max: float | None = Field(default=None, description="The result must be a number <= this.")
    rows: list[Any] | None = Field(
        default=None,
        description="Expected rows, in order: lists of column values (SQL) or documents "
        "(MongoDB, compared after `projection`; `_id` is left out unless projected).",
    )
    limit: int = Field(
        default=1000, ge=1, description="Rows or documents read at most (kept in evidence)."
    )

    @model_validator(mode="after")
    def _one_language(self) -> QueryCheck:
        mongo = self.url.startswith(("mongodb://", "mongodb+srv://"))
        if mongo and self.sql is not None:
            raise ValueError("`sql` needs a SQL URL; a mongodb:// URL takes `collection`")
        if mongo and self.collection is None:
            raise ValueError("a mongodb:// URL needs `collection`")
        if not mongo and "${" not in self.url and self.sql is None:
            raise ValueError("a SQL URL needs `sql`")
        if not mongo and self.collection is not None:
            raise ValueError("`collection` needs a mongodb:// URL")
        if all(getattr(self, n) is None for n in ("equals", "min", "max", "rows")):
            raise ValueError("a query check needs an expectation: equals, min, max or rows")
        if self.rows is not None and any(
            getattr(self, n) is not None for n in ("equals", "min", "max")
        ):
            raise ValueError("`rows` compares every row; it does not go with equals/min/max")
        return self


class BenchRequest(Model):
    """One request template of the built-in load generator.

    Strings may hold `{{seq}}` (a counter over the whole run), `{{worker}}` (the worker's
    number) and `{{NAME}}` for a value captured from an earlier response of the same worker.
    """

    method: str = Field(default="GET", description="HTTP method.")
    path: str = Field(default="/", description="Path joined to the check's `url`.")
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers.")
    json_body: Any = Field(default=None, alias="json", description="JSON body (sets Content-Type).")
    weight: int = Field(
        default=1, ge=1, description="Share of the requests (`pick: weighted`) or repeats in turn."
    )
    once: bool = Field(
        default=False,
        description="Sent once by each worker before the others (e.g. create a thread).",
    )
    capture: dict[str, str] = Field(
        default_factory=dict,
        description="Values to keep from the JSON response: name -> dotted path, e.g. "
        "`{thread: id}`; later requests of the worker use them as `{{thread}}`.",
    )
    status: list[int] | None = Field(
        default=None, description="Statuses counted as success; default any 2xx or 3xx."
    )


class BenchTarget(Model):
    """A bound on one bench result, in its unit (ms for latencies); `1%` is 0.01."""

    max: float | None = Field(default=None, description="The value must be <= this.")
    min: float | None = Field(default=None, description="The value must be >= this.")

    @model_validator(mode="before")
    @classmethod
    def _percentages(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {
                k: parse_percent(v) if isinstance(v, str) and v.strip().endswith("%") else v
                for k, v in data.items()
            }
        return data

    @model_validator(mode="after")
    def _a_bound(self) -> BenchTarget:
        if self.max is None and self.min is None:
            raise ValueError("a target needs `max` or `min`")
        return self


BENCH_RESULTS = (
    "p50_ms",
    "p90_ms",
    "p95_ms",
    "p99_ms",
    "mean_ms",
    "max_ms",
    "rps",
    "error_ratio",
    "requests",
    "errors",
)
"""The results a bench reports; targets and parsers name these (`p95` means `p95_ms`)."""


def bench_result_name(name: str) -> str:
    """The canonical result name: ``p95`` -> ``p95_ms``; unknown names are returned as is."""
    return f"{name}_ms" if f"{name}_ms" in BENCH_RESULTS else name


class BenchCheck(CheckBase):
    """Run a benchmark and compare its results (p50/p95/p99, rps, error ratio) to targets.

    Either the built-in HTTP load generator (`url` + `requests`) or a `command`/`shell` whose
    output is parsed (`parser`, `regex` or `paths`).
    """

    kind: Literal["bench"] = Field(description="Check kind: `bench`.")
    targets: dict[str, BenchTarget] = Field(
        description="Bounds per result: `p50_ms`, `p90_ms`, `p95_ms`, `p99_ms`, `mean_ms`, "
        "`max_ms`, `rps`, `error_ratio`, `requests`, `errors`; e.g. `{p95_ms: {max: 50}}`."
    )
    url: str | None = Field(
        default=None, description="Built-in generator: base URL, e.g. `${candidate.url}`."
    )
    requests: list[BenchRequest] = Field(
        default_factory=list,
        description="Built-in generator: request templates; default one `GET /`.",
    )
    pick: Literal["round_robin", "weighted"] = Field(
        default="round_robin",
        description="How each worker picks the next template: in turn (each `weight` times) "
        "or at random by `weight` (seeded by `seed`).",
    )
    duration: Duration | None = Field(
        default=None, description="Built-in generator: how long to send requests."
    )
    count: int | None = Field(
        default=None, ge=1, description="Built-in generator: how many requests to send."
    )
    concurrency: int = Field(
        default=4, ge=1, description="Built-in generator: requests in flight at most."
    )
    rate: float | None = Field(
        default=None,
        gt=0,
        description="Built-in generator: requests per second, sent on a fixed schedule "
        "(open loop; latency counts from the scheduled time). Default: as fast as answered.",
    )
    request_timeout: Duration = Field(
        default=10.0, description="Built-in generator: timeout of one request (an error)."
    )
    seed: int = Field(default=0, description="Seed of the weighted pick.")
    command: list[str] | None = Field(
        default=None, description="Bench command argv. One of `url`, `command`, `shell`."
    )
    shell: str | None = Field(default=None, description="Bench command line (`/bin/sh -c`).")
    env: dict[str, str] = Field(default_factory=dict, description="Environment added.")
    cwd: str | None = Field(default=None, description="Working directory, relative to the plan.")
    output_file: str | None = Field(
        default=None,
        description="File the command writes its results to (relative to `cwd`), e.g. k6's "
        "`--summary-export`; default: its stdout.",
    )
    parser: Literal["k6", "wrk", "hey"] | None = Field(
        default=None,
        description="Ready-made parser: `k6` (`--summary-export` JSON), `wrk` (text, with "
        "`--latency` for percentiles) or `hey` (text summary).",
    )
    regex: str | None = Field(
        default=None,
        description="Regular expression with named groups (`p50`, `p95`, `p99`, `rps`, "
        "`error_ratio`, ... latencies in ms) searched in the output.",
    )
    paths: dict[str, str] = Field(
        default_factory=dict,
        description="Results read from the JSON output: result name -> dotted path, e.g. "
        "`{p95_ms: summary.p95}`.",
    )
    exit_codes: list[int] = Field(
        default_factory=lambda: [0], description="Exit codes of a finished bench command."
    )

    @model_validator(mode="after")
    def _one_source(self) -> BenchCheck:
        given = [n for n in ("url", "command", "shell") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of `url` (built-in generator), `command`, `shell`")
        if self.url is not None:
            if (self.duration is None) == (self.count is None):
                raise ValueError("the built-in generator needs exactly one of duration, count")
            if self.duration is not None and self.duration >= self.timeout:
                raise ValueError("`timeout` must be longer than `duration` (it bounds the bench)")
        else:
            ways = [self.parser, self.regex, self.paths or None]
            if sum(w is not None for w in ways) != 1:
                raise ValueError("a bench command needs exactly one of parser, regex, paths")
        if not self.targets:
            raise ValueError("`targets` names at least one bound, e.g. {p95_ms: {max: 50}}")
        names = [*self.targets, *self.paths]
        unknown = [n for n in names if bench_result_name(n) not in BENCH_RESULTS]
        if unknown:
            raise ValueError(
                f"unknown bench result {unknown[0]!r} (known: {', '.join(BENCH_RESULTS)})"
            )
        return self


class ImageCheck(CheckBase):
    """Ask an OCI/Docker registry (HTTP API v2) whether an image tag exists; record its digest."""

    kind: Literal["image"] = Field(description="Check kind: `image`.")
    image: str | None = Field(
        default=None,
        description="Image reference, e.g. `127.0.0.1:5000/chat:go-3f9c2e1` or "
        "`registry.example.com/team/chat@sha256:...`. Or give `registry` + `repository` + `tag`.",
    )
    registry: str | None = Field(default=None, description="Registry `host[:port]`.")
    repository: str | None = Field(default=None, description="Repository, e.g. `team/chat`.")
    tag: str | None = Field(default=None, description="Tag (or `sha256:` digest) to look up.")
    digest: str | None = Field(
        default=None, description="When set, the tag must point to this digest (`sha256:...`)."
    )
    insecure: bool = Field(default=False, description="Use plain HTTP instead of HTTPS.")
    username: str | None = Field(
        default=None, description="User for basic or token auth, e.g. `${env.REGISTRY_USER}`."
    )
    password: str | None = Field(
        default=None,
        description="Password or access token, e.g. `${env.REGISTRY_PASSWORD}`; never written "
        "to evidence.",
    )

    @model_validator(mode="after")
    def _one_reference(self) -> ImageCheck:
        parts = [self.registry, self.repository, self.tag]
        if self.image is not None and any(p is not None for p in parts):
            raise ValueError("give `image`, or `registry` + `repository` + `tag`, not both")
        if self.image is None and any(p is None for p in parts):
            raise ValueError("give `image`, or all of `registry`, `repository`, `tag`")
        if (self.username is None) != (self.password is None):
            raise ValueError("`username` and `password` go together")
        return self


AnyCheck = CommandCheck | HttpCheck | QueryCheck | BenchCheck | ImageCheck
"""Every check model (the members of :data:`Check`)."""

Check = Annotated[AnyCheck, Field(discriminator="kind")]
"""A check of any installed kind, chosen by its `kind:` field."""


# ---------------------------------------------------------------------------- metrics


class BuiltinMetric(Model):
    """A metric measured by the built-in router, per version, over a window."""

    kind: Literal["builtin"] = Field(default="builtin", description="Metric provider: `builtin`.")
    query: Literal["requests", "rate", "error_ratio", "p50", "p95", "p99"] = Field(
        description="`requests` (count), `rate` (per second), `error_ratio` (5xx / all), "
        "`p50`/`p95`/`p99` (latency in seconds)."
    )
    window: Duration | None = Field(
        default=None, description="Window the value covers; default `analysis.window`."
    )


_LABEL_TEMPLATES = (
    "`{{version}}` (the version label, e.g. `go`), `{{role}}` (`stable` or `candidate`) and "
    "`{{window}}` (the window as a Prometheus duration, e.g. `30s`)"
)


class PrometheusBasicAuth(Model):
    """HTTP basic credentials for a Prometheus server."""

    username: str = Field(description="User name, e.g. `${env.PROM_USER}`.")
    password: str = Field(description="Password, e.g. `${env.PROM_PASSWORD}`.")


class PrometheusTls(Model):
    """TLS settings for an `https://` Prometheus URL."""

    ca_file: str | None = Field(
        default=None, description="PEM file of the CA that signed the server's certificate."
    )
    cert_file: str | None = Field(
        default=None, description="PEM client certificate (mutual TLS); goes with `key_file`."
    )
    key_file: str | None = Field(default=None, description="PEM private key of `cert_file`.")
    insecure_skip_verify: bool = Field(
        default=False, description="Do not verify the server's certificate (tests only)."
    )

    @model_validator(mode="after")
    def _key_needs_cert(self) -> PrometheusTls:
        if self.key_file is not None and self.cert_file is None:
            raise ValueError("`key_file` goes with `cert_file`")
        return self


class PrometheusMetric(Model):
    """A PromQL query per version over the Prometheus HTTP API."""

    kind: Literal["prometheus"] = Field(description="Metric provider: `prometheus`.")
    url: str = Field(description="Prometheus base URL, e.g. `http://prometheus:9090`.")
    query: str = Field(
        description=f"PromQL giving one number. Templates: {_LABEL_TEMPLATES}. "
        "An empty result is no data (inconclusive), never 0."
    )
    mode: Literal["instant", "range"] = Field(
        default="instant",
        description="`instant` evaluates at the window's end; `range` evaluates over the "
        "window every `step` and reduces the points with `reduce`.",
    )
    step: Duration | None = Field(
        default=None, description="Resolution of a range query; default the window / 30, >= 1s."
    )
    reduce: Literal["last", "avg", "max", "min", "sum"] = Field(
        default="last",
        description="How points become one number: `last`, `avg`, `max`, `min` over a range "
        "query's points; `sum` adds several series (at each time, then takes the last). "
        "Several series without `sum` is an error.",
    )
    samples_query: str | None = Field(
        default=None,
        description="PromQL giving the request count behind the value (for `min_samples`), "
        'e.g. `sum(increase(http_requests_total{version="{{version}}"}[{{window}}]))`. '
        "Without it, samples is the number of points (1 for an instant query).",
    )
    on_nan: Literal["error", "no_data"] = Field(
        default="error",
        description="What a NaN result is: a provider `error`, or `no_data` (0/0 of a quiet "
        "version, when the query cannot avoid it).",
    )
    timeout: Duration = Field(default=5.0, gt=0, description="Timeout of each HTTP request.")
    retries: int = Field(
        default=2, ge=0, le=10, description="Retries after a connection error or an HTTP 5xx."
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Extra request headers.")
    basic: PrometheusBasicAuth | None = Field(default=None, description="HTTP basic auth.")
    bearer_token: str | None = Field(
        default=None, description="Sent as `Authorization: Bearer ...`, e.g. `${env.PROM_TOKEN}`."
    )
    tls: PrometheusTls | None = Field(default=None, description="TLS settings.")
    window: Duration | None = Field(
        default=None, description="Window the value covers; default `analysis.window`."
    )

    @model_validator(mode="after")
    def _one_auth(self) -> PrometheusMetric:
        if self.basic is not None and self.bearer_token is not None:
            raise ValueError("give either `basic` or `bearer_token`, not both")
        return self


class LogsMetric(Model):
    """The number of log lines matching a pattern, in files or in a command's output."""

    kind: Literal["logs"] = Field(description="Metric provider: `logs`.")
    pattern: str = Field(description="Regular expression searched in each line.")
    files: list[str] = Field(
        default_factory=list,
        description="Globs of log files, e.g. `${run.dir}/processes/{{role}}-{{version}}.log`. "
        f"Templates: {_LABEL_TEMPLATES}. One of `files`, `command`, `shell`.",
    )
    command: list[str] | None = Field(
        default=None, description="Argv whose output (stdout and stderr) is scanned."
    )
    shell: str | None = Field(
        default=None, description="Shell command line whose output is scanned."
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="Environment variables added for the command."
    )
    timestamp_regex: str | None = Field(
        default=None,
        description="Finds a line's time (the group `ts`, or the whole match); then only lines "
        "within the window count. Without it every line of the files counts.",
    )
    timestamp_format: str = Field(
        default="iso8601",
        description="`iso8601`, `epoch` (seconds) or a `strptime` format; times without a zone "
        "are UTC.",
    )
    timeout: Duration = Field(default=10.0, gt=0, description="Timeout of the command.")
    window: Duration | None = Field(
        default=None, description="Window the value covers; default `analysis.window`."
    )

    @model_validator(mode="after")
    def _one_source(self) -> LogsMetric:
        given = [n for n in ("files", "command", "shell") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError("give exactly one of `files`, `command` (argv list) or `shell`")
        return self

    @property
    def query(self) -> str:
        """How values read in progress and summaries (a count)."""
        return "count"


class CommandMetric(Model):
    """A number printed by a command."""

    kind: Literal["command"] = Field(description="Metric provider: `command`.")
    command: list[str] | None = Field(
        default=None, description=f"Argv to run. Templates: {_LABEL_TEMPLATES}."
    )
    shell: str | None = Field(default=None, description="Shell command line to run.")
    env: dict[str, str] = Field(default_factory=dict, description="Environment variables added.")
    cwd: str | None = Field(default=None, description="Working directory.")
    regex: str | None = Field(
        default=None,
        description="Regular expression with a group `value` (and optionally `samples`) "
        "searched in stdout. Default: the whole stdout is the number.",
    )
    path: str | None = Field(
        default=None, description="Dotted path to the number in stdout parsed as JSON."
    )
    samples_path: str | None = Field(
        default=None, description="Dotted path to the sample count in stdout as JSON; default 1."
    )
    timeout: Duration = Field(default=30.0, gt=0, description="Timeout of the command.")
    window: Duration | None = Field(
        default=None, description="Window the value covers; default `analysis.window`."
    )

    @model_validator(mode="after")
    def _one_way(self) -> CommandMetric:
        if (self.command is None) == (self.shell is None):
            raise ValueError("give exactly one of `command` (argv list) or `shell`")
        if self.command is not None and not self.command:
            raise ValueError("`command` is an empty list")
        if self.regex is not None and self.path is not None:
            raise ValueError("give either `regex` or `path`, not both")
        return self

    @property
    def query(self) -> str:
        """How values read in progress and summaries (a plain number)."""
        return ""


class HttpMetric(Model):
    """A number at a path of a JSON document served over HTTP."""

    kind: Literal["http"] = Field(description="Metric provider: `http`.")
    url: str = Field(description=f"URL to GET. Templates: {_LABEL_TEMPLATES}.")
    path: str = Field(description="Dotted path to the number, e.g. `data.error_ratio`.")
    samples_path: str | None = Field(
        default=None, description="Dotted path to the sample count; default 1."
    )
    headers: dict[str, str] = Field(default_factory=dict, description="Request headers.")
    timeout: Duration = Field(default=5.0, gt=0, description="Timeout of the request.")
    window: Duration | None = Field(
        default=None, description="Window the value covers; default `analysis.window`."
    )

    @property
    def query(self) -> str:
        """How values read in progress and summaries (a plain number)."""
        return ""


MetricSpec = Annotated[
    BuiltinMetric | PrometheusMetric | LogsMetric | CommandMetric | HttpMetric,
    Field(discriminator="kind"),
]
"""A metric of any installed provider, chosen by its `kind:` field (default `builtin`)."""


def _default_metric_kind(metrics: Any) -> Any:
    """``kind: builtin`` for a metric written without a kind (the plan format's default)."""
    if isinstance(metrics, dict):
        return {
            name: {"kind": "builtin", **spec}
            if isinstance(spec, dict) and "kind" not in spec
            else spec
            for name, spec in metrics.items()
        }
    return metrics


# ---------------------------------------------------------------------------- triggers


class Condition(Model):
    """One bound; the trigger fires when the candidate's value breaks it."""

    max: Threshold | None = Field(default=None, description="Fire when the value is above this.")
    min: Threshold | None = Field(default=None, description="Fire when the value is below this.")
    max_ratio_to_baseline: float | None = Field(
        default=None,
        gt=0,
        description="Fire when the value is above this many times the stable version's value "
        "over the same window (or the baseline phase's value when stable has too few samples).",
    )

    @model_validator(mode="after")
    def _exactly_one(self) -> Condition:
        given = [n for n in ("max", "min", "max_ratio_to_baseline") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a condition has exactly one of max, min, max_ratio_to_baseline (found {len(given)})"
            )
        return self


class Trigger(Model):
    """A rule that ends the rollout with a rollback when it fires.

    With the default ``judge: threshold``, write one bound directly (``max: 0.5%``) or several
    under ``any:``; the trigger fires when any bound is broken. Other judges (``sequential``,
    ``mann_whitney``) compare the candidate with stable statistically, interval by interval,
    with their own ``params``.
    """

    name: str = Field(description="Name shown when the trigger fires.")
    metric: str = Field(description="Name of an entry of `metrics:`.")
    judge: str = Field(
        default="threshold",
        description="Who decides: `threshold` (the bounds below), `sequential` (anytime-valid "
        "test, candidate vs stable) or `mann_whitney` (rank test), or an installed plugin.",
    )
    params: dict[str, Any] = Field(
        default_factory=dict,
        description="Parameters of a statistical judge, e.g. `{ratio: 5}` for `sequential` "
        "(tolerated candidate/stable ratio). See docs/judges.md.",
    )
    max: Threshold | None = Field(default=None, description="Shorthand for `any: [{max: ...}]`.")
    min: Threshold | None = Field(default=None, description="Shorthand for `any: [{min: ...}]`.")
    max_ratio_to_baseline: float | None = Field(
        default=None, gt=0, description="Shorthand for `any: [{max_ratio_to_baseline: ...}]`."
    )
    any: list[Condition] = Field(
        default_factory=list, description="Bounds; the trigger fires when any one is broken."
    )
    min_baseline: Threshold = Field(
        default=0.0,
        description="Floor under the baseline for ratio bounds, so that a near-zero baseline "
        "does not make every blip a regression.",
    )
    min_samples: int | None = Field(
        default=None,
        ge=1,
        description="Requests needed for a verdict; default `analysis.min_samples`.",
    )

    @model_validator(mode="after")
    def _has_a_bound(self) -> Trigger:
        if self.judge != "threshold":
            if self.conditions():
                raise ValueError(
                    f"bounds (max, min, max_ratio_to_baseline, any) belong to the threshold "
                    f"judge; judge {self.judge!r} takes its settings under `params:`"
                )
            return self
        if self.params:
            raise ValueError("`params` is for statistical judges; the threshold judge uses bounds")
        if not self.conditions():
            raise ValueError("a trigger needs a bound: max, min, max_ratio_to_baseline or any:")
        return self

    def conditions(self) -> list[Condition]:
        """Every bound of this trigger, the shorthand ones included."""
        out = list(self.any)
        if self.max is not None:
            out.append(Condition(max=self.max))
        if self.min is not None:
            out.append(Condition(min=self.min))
        if self.max_ratio_to_baseline is not None:
            out.append(Condition(max_ratio_to_baseline=self.max_ratio_to_baseline))
        return out


class Analysis(Model):
    """How often and over what the triggers are evaluated."""

    interval: Duration = Field(default=10.0, gt=0, description="Triggers are evaluated this often.")
    window: Duration = Field(default=60.0, gt=0, description="Default window of every metric.")
    baseline: Duration = Field(
        default=30.0,
        description="How long the stable version is measured before any canary traffic.",
    )
    min_samples: int = Field(
        default=50, ge=1, description="Requests a version needs in a window for a verdict."
    )
    consecutive_error_limit: int = Field(
        default=4, ge=1, description="Provider errors in a row before `on_provider_error` applies."
    )
    alpha: float = Field(
        default=0.01,
        gt=0,
        lt=1,
        description="False-alarm budget of the rollout for statistical judges, split evenly "
        "across the triggers that use one.",
    )
    on_provider_error: Literal["rollback", "pause"] = Field(
        default="rollback",
        description="What a failing metric provider leads to: `rollback`, or `pause` (wait, "
        "without moving forward, until the provider answers again).",
    )


# ---------------------------------------------------------------------------- steps


class Step(Model):
    """One entry of the canary schedule; exactly one of `weight`, `smoke`, `approve`."""

    name: str | None = Field(default=None, description="Optional label shown in progress.")
    weight: int | None = Field(
        default=None, ge=0, le=100, description="Percent of traffic sent to the candidate."
    )
    observe: Duration | None = Field(
        default=None,
        description="With `weight`: how long to watch before moving on (every trigger must "
        "pass with enough samples at the end).",
    )
    smoke: list[Check] | None = Field(
        default=None, description="Checks to run now (e.g. against `${candidate.url}`)."
    )
    approve: list[str] | None = Field(
        default=None, description="Roles (from `owners:`) that must approve before moving on."
    )

    @model_validator(mode="after")
    def _one_of(self) -> Step:
        given = [n for n in ("weight", "smoke", "approve") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                f"a step has exactly one of weight, smoke, approve (found {', '.join(given) or 'none'})"
            )
        if self.observe is not None and self.weight is None:
            raise ValueError("`observe` goes with `weight`")
        if self.approve is not None and not self.approve:
            raise ValueError("`approve` lists at least one role")
        return self

    @property
    def kind(self) -> str:
        """``weight``, ``smoke`` or ``approve``."""
        if self.weight is not None:
            return "weight"
        return "smoke" if self.smoke is not None else "approve"


class RollbackSpec(Model):
    """What happens after traffic is back on stable."""

    verify: list[Check] = Field(
        default_factory=list, description="Checks run against stable after a rollback."
    )


# ---------------------------------------------------------------------------- incidents


class SinkBase(Model):
    """Fields that every incident sink has."""

    name: str | None = Field(
        default=None, description="Label of this sink in results and events; default its kind."
    )
    timeout: Duration = Field(
        default=10.0, gt=0, description="How long one delivery attempt may take."
    )
    retries: int = Field(
        default=3,
        ge=0,
        description="Further attempts after a connection error, a timeout, a 5xx or a 429 "
        "(a 4xx other than 429 is not retried).",
    )
    backoff: Duration = Field(
        default=1.0, description="Wait before the first retry; it doubles after each attempt."
    )


class WebhookSink(SinkBase):
    """POST the incident as JSON: `{"event": "rollguard.incident", "incident": {...}}`."""

    kind: Literal["webhook"] = Field(description="Sink kind: `webhook`.")
    url: str = Field(
        description="URL that receives the POST, e.g. `${env.INCIDENT_WEBHOOK_URL}`. "
        "Never written to evidence or results."
    )
    headers: dict[str, str] = Field(
        default_factory=dict,
        description="Request headers, e.g. `Authorization: Bearer ${env.HOOK_TOKEN}`.",
    )


class GithubSink(SinkBase):
    """Open a GitHub issue whose body is the incident report (REST API)."""

    kind: Literal["github"] = Field(description="Sink kind: `github`.")
    repo: str = Field(description="Repository as `owner/name`, e.g. `acme/chat`.")
    token_env: str = Field(
        default="GITHUB_TOKEN",
        description="Name of the environment variable holding the token (issues: write). "
        "The token itself never appears in the plan, evidence or results.",
    )
    api_url: str = Field(
        default="https://api.github.com",
        description="Base URL of the REST API (GitHub Enterprise: `https://HOST/api/v3`).",
    )
    labels: list[str] = Field(default_factory=list, description="Labels of the new issue.")
    assignees: list[str] = Field(
        default_factory=list, description="Logins assigned to the new issue."
    )

    @model_validator(mode="after")
    def _repo_is_owner_name(self) -> GithubSink:
        owner, sep, name = self.repo.partition("/")
        if "${" not in self.repo and (not sep or not owner or not name or "/" in name):
            raise ValueError(f"repo must be owner/name like acme/chat, not {self.repo!r}")
        return self


class SlackSink(SinkBase):
    """Post a short message to a Slack incoming webhook."""

    kind: Literal["slack"] = Field(description="Sink kind: `slack`.")
    url: str = Field(
        description="Incoming webhook URL, usually `${env.SLACK_WEBHOOK_URL}` (it is a secret: "
        "never written to evidence or results)."
    )


AnySink = WebhookSink | GithubSink | SlackSink

Sink = Annotated[AnySink, Field(discriminator="kind")]
"""An incident sink, chosen by its `kind:` field."""


class IncidentSpec(Model):
    """Where the incident report of a rollback is sent (it is always written to evidence)."""

    sinks: list[Sink] = Field(
        default_factory=list,
        description="Sinks, tried concurrently; a failing sink never blocks the rollback.",
    )


# ---------------------------------------------------------------------------- the plan


class Plan(Model):
    """A rollout plan: how a service moves from its stable version to a candidate."""

    api_version: Literal["rollguard/v1"] = Field(
        alias="apiVersion", description="Plan format version: `rollguard/v1`."
    )
    name: str = Field(description="Name of this plan, e.g. `chat-node-to-go`.")
    description: str = Field(default="", description="Free text shown in the summary.")
    service: str = Field(default="", description="The service moved, e.g. `services/chat`.")
    stable: VersionSpec = Field(description="The version serving today (the rollback target).")
    candidate: VersionSpec = Field(description="The new version.")
    backend: BackendSpec = Field(
        default_factory=LocalBackendSpec, description="What moves traffic and versions."
    )
    analysis: Analysis = Field(default_factory=Analysis, description="Trigger evaluation settings.")
    metrics: dict[str, MetricSpec] = Field(
        default_factory=dict, description="Named metrics, read per version over a window."
    )
    triggers: list[Trigger] = Field(
        default_factory=list, description="Rules that roll back when they fire."
    )
    preflight: list[Check] = Field(
        default_factory=list, description="Checks that must pass before anything is deployed."
    )
    steps: list[Step] = Field(description="The canary schedule, in order.")
    post_validation: list[Check] = Field(
        default_factory=list, description="Checks run with the candidate at 100%."
    )
    rollback: RollbackSpec = Field(
        default_factory=RollbackSpec, description="What to verify after a rollback."
    )
    incident: IncidentSpec = Field(
        default_factory=IncidentSpec,
        description="Where the incident report of a rollback is sent (`incident.md` and "
        "`incident.json` are always written to evidence).",
    )
    window: gates.WindowSpec | None = Field(
        default=None, description="Maintenance window for moving traffic (none: any time)."
    )
    promotion: list[gates.PromotionAction] = Field(
        default_factory=list,
        description="Actions that make the candidate the stable version, after post-validation.",
    )
    signoff: gates.SignoffSpec = Field(
        default_factory=gates.SignoffSpec,
        description="The sign-off checklist; the rollout completes when every item holds.",
    )
    on_complete: list[gates.CompletionAction] = Field(
        default_factory=list,
        description="Actions after completion (e.g. mark the tracking task done).",
    )
    owners: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Roles and the people who may act for them, e.g. `sre: [bob]`.",
    )

    @field_validator("metrics", mode="before")
    @classmethod
    def _metric_kind_defaults_to_builtin(cls, value: Any) -> Any:
        return _default_metric_kind(value)

    @model_validator(mode="after")
    def _references(self) -> Plan:
        for i, trigger in enumerate(self.triggers):
            if trigger.metric not in self.metrics:
                known = ", ".join(sorted(self.metrics)) or "none defined"
                raise ValueError(
                    f"triggers[{i}].metric: unknown metric {trigger.metric!r} (metrics: {known})"
                )
        for i, step in enumerate(self.steps):
            for role in step.approve or []:
                if self.owners and role not in self.owners:
                    known = ", ".join(sorted(self.owners))
                    raise ValueError(f"steps[{i}].approve: unknown role {role!r} (owners: {known})")
        if not self.steps:
            raise ValueError("steps: at least one step is needed")
        check_names = {c.name for _group, c in self.all_checks()}
        for i, item in enumerate(self.signoff.checklist):
            for name in item.checks_passed:
                if name not in check_names:
                    raise ValueError(
                        f"signoff.checklist[{i}].checks_passed: no check named {name!r} "
                        f"(checks: {', '.join(sorted(check_names)) or 'none'})"
                    )
            for role in item.roles:
                if self.owners and role not in self.owners:
                    known = ", ".join(sorted(self.owners))
                    raise ValueError(
                        f"signoff.checklist[{i}].roles: unknown role {role!r} (owners: {known})"
                    )
        return self

    def all_checks(self) -> list[tuple[str, AnyCheck]]:
        """Every check of the plan with its group name (for validation and listings)."""
        out: list[tuple[str, AnyCheck]] = [("preflight", c) for c in self.preflight]
        for i, step in enumerate(self.steps):
            out += [(f"steps[{i}].smoke", c) for c in step.smoke or []]
        out += [("post_validation", c) for c in self.post_validation]
        out += [("rollback.verify", c) for c in self.rollback.verify]
        return out
