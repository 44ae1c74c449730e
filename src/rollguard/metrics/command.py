"""The ``command`` metric provider: a number printed by a command.

The command runs once per version and observation, as an argv (``command``) or a shell line
(``shell``), with ``{{name}}`` templates filled in: ``{{version}}``, ``{{role}}``,
``{{window}}`` (e.g. ``30s``), ``{{since}}`` and ``{{until}}`` (Unix seconds), plus any label
the runner passes (shell-quoted in ``shell``). The same values are in its environment as
``ROLLGUARD_ROLE``, ``ROLLGUARD_VERSION``, ``ROLLGUARD_WINDOW``, ``ROLLGUARD_SINCE`` and
``ROLLGUARD_UNTIL``.

The number is read from stdout: the whole of it (``0.004``), the group ``value`` of ``regex``,
or the value at ``path`` when stdout is JSON. ``samples`` is the group ``samples`` of
``regex`` or the value at ``samples_path`` when given, else 1 (a trigger on such a metric
usually wants ``min_samples: 1``).

A non-zero exit, a timeout, or stdout without a number (NaN and infinities included) is a
provider *error*, never a pass. JSON ``null`` at ``path`` is *no data*.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from rollguard.metrics import placeholders, readings, subprocesses
from rollguard.metrics.base import Measurement
from rollguard.plan import model


class CommandMetricError(Exception):
    """The command gave no usable number; the message says why."""


class CommandProvider:
    """Runs a command for one version and parses a number from its output.

    Example::

        provider = CommandProvider(labels={"role": "candidate", "version": "go"})
        spec = CommandMetric(kind="command", shell="./error-rate.sh {{version}} {{window}}")
        m = await provider.measure(spec, version="candidate", since=t0, until=t1)
        m.value  # 0.004
    """

    def __init__(self, *, labels: Mapping[str, str] | None = None) -> None:
        self._labels = dict(labels or {})

    async def measure(
        self, spec: model.CommandMetric, *, version: str, since: float, until: float
    ) -> Measurement:
        """Run ``spec``'s command for ``version`` and read its number."""
        values = placeholders.window_values(self._labels, version=version, since=since, until=until)
        try:
            stdout = await _run(spec, values)
            return parse_output(stdout, spec)
        except (
            CommandMetricError,
            subprocesses.CommandError,
            placeholders.PlaceholderError,
            readings.ReadingError,
        ) as exc:
            return Measurement(None, 0, error=str(exc))


async def _run(spec: model.CommandMetric, values: Mapping[str, str]) -> str:
    command = placeholders.fill_command(values, argv=spec.command, shell=spec.shell)
    env = {
        **spec.env,
        **{f"ROLLGUARD_{k.upper()}": v for k, v in values.items() if k.isidentifier()},
    }
    return await subprocesses.output(
        command, what="the metric command", env=env, timeout=spec.timeout, cwd=spec.cwd
    )


def parse_output(stdout: str, spec: model.CommandMetric) -> Measurement:
    """The measurement in a command's stdout, as ``spec`` says to read it.

    >>> spec = model.CommandMetric(kind="command", shell="x", regex=r"p95=(?P<value>\\S+)")
    >>> parse_output("count=10 p95=0.25\\n", spec)
    Measurement(value=0.25, samples=1, error=None)
    """
    if spec.regex is not None:
        try:
            match = re.search(spec.regex, stdout)
        except re.error as exc:
            raise CommandMetricError(f"bad regex {spec.regex!r}: {exc}") from None
        if match is None or "value" not in match.re.groupindex:
            raise CommandMetricError(f"no group 'value' of {spec.regex!r} in: {stdout[:200]!r}")
        found = match.groupdict()
        samples = found.get("samples")
        value = readings.number(found["value"])
        return Measurement(value, 1 if samples is None else round(readings.number(samples)))
    if spec.path is None:
        return Measurement(readings.number(stdout.strip()), 1)
    try:
        doc = json.loads(stdout)
    except ValueError:
        raise CommandMetricError(f"stdout is not JSON: {stdout[:200]!r}") from None
    raw = readings.at_path(doc, spec.path, where="the output")
    if raw is None:
        return Measurement(None, 0)
    samples = 1
    if spec.samples_path is not None:
        samples = round(
            readings.number(readings.at_path(doc, spec.samples_path, where="the output"))
        )
    return Measurement(readings.number(raw), samples)


__all__ = ["CommandMetricError", "CommandProvider", "parse_output"]
