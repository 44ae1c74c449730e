"""Plan models of the checks: ``command``, ``http``, ``query``, ``bench``, ``image``.

A check is chosen by its ``kind:`` (a discriminated union); every check has a ``name`` and a
``timeout`` and never passes by accident (see :mod:`rollguard.checks.base`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from rollguard.durations import parse_percent
from rollguard.plan.base import Duration, Model


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
