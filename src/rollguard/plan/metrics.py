"""Plan models of the metrics: ``builtin``, ``prometheus``, ``logs``, ``command``, ``http``.

A metric is chosen by its ``kind:``; without one it is ``builtin`` (the router's counters).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from rollguard.plan.base import Duration, Model


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
