"""Metric charts of the canary steps, as hand-written inline SVG.

One chart per metric that a trigger uses: the stable and candidate values of every analysis
snapshot over time, the triggers' absolute bounds as horizontal lines, the canary steps as
shaded bands labelled with their weight, and the moment of the rollback (if any) as a
vertical line.

:func:`chart_data` gathers the numbers (plain data, kept in the report); :func:`render_svg`
draws one chart. The snapshots are read from ``metrics/*-analysis.json`` in the rollout's
folder; when the folder has none (a store read far from its evidence), the ``observe``
results in the event log, which hold the same data, are used instead.
"""

from __future__ import annotations

import json
import math
from html import escape
from pathlib import Path
from typing import Any

from rollguard.metric_format import format_value
from rollguard.plan import model
from rollguard.store.base import Event

WIDTH, HEIGHT = 1000, 290
LEFT, RIGHT, TOP, BOTTOM = 78, 150, 30, 36
STABLE_COLOUR, CANDIDATE_COLOUR = "#2563eb", "#ea580c"
BOUND_COLOUR, ROLLBACK_COLOUR = "#b91c1c", "#7f1d1d"


def metric_query(plan: model.Plan, metric: str) -> str:
    """The query name of a metric (``error_ratio``, ``p95``...), which decides its unit."""
    spec = plan.metrics.get(metric)
    return str(getattr(spec, "query", "")) if spec is not None else ""


def load_snapshots(run_dir: Path, events: list[Event]) -> list[dict[str, Any]]:
    """Every analysis snapshot of the rollout, oldest first."""
    snapshots = []
    for path in sorted((run_dir / "metrics").glob("*-analysis.json")):
        try:
            snapshots.append(json.loads(path.read_text()))
        except (OSError, ValueError):
            continue  # a snapshot cut short by a crash is not evidence
    if not snapshots:
        snapshots = [
            e.data.get("result") or {}
            for e in events
            if e.type == "action_finished"
            and e.data.get("action") == "observe"
            and e.data.get("ok")
            and e.data.get("args", {}).get("purpose") != "baseline"
        ]
    good = [s for s in snapshots if "until" in s and isinstance(s.get("metrics"), dict)]
    return sorted(good, key=lambda s: float(s["until"]))


def chart_data(plan: model.Plan, events: list[Event], *, run_dir: Path) -> list[dict[str, Any]]:
    """The data of one chart per metric used by a trigger (in the plan's trigger order)."""
    snapshots = load_snapshots(run_dir, events)
    weights = [
        {"t": e.at, "weight": int(e.data["args"]["weight"])}
        for e in events
        if e.type == "action_finished" and e.data.get("action") == "set_weight" and e.data.get("ok")
    ]
    rollback_at = next(
        (
            e.at
            for e in events
            if e.type == "phase_entered" and e.data.get("phase") == "rolling_back"
        ),
        None,
    )
    times = [float(s["until"]) for s in snapshots] + [w["t"] for w in weights]
    times += [rollback_at] if rollback_at is not None else []
    charts = []
    for metric in dict.fromkeys(t.metric for t in plan.triggers):
        query = metric_query(plan, metric)
        triggers = [t for t in plan.triggers if t.metric == metric]
        bounds, relative = [], []
        for trigger in triggers:
            for c in trigger.conditions():
                for kind in ("max", "min"):
                    value = getattr(c, kind)
                    if value is not None:
                        bounds.append(
                            {
                                "trigger": trigger.name,
                                "kind": kind,
                                "value": value,
                                "text": f"{kind} {format_value(query, value)}",
                            }
                        )
                if c.max_ratio_to_baseline is not None:
                    relative.append(f"{trigger.name}: max {c.max_ratio_to_baseline:g}x stable")
        points = []
        for s in snapshots:
            m = s["metrics"].get(metric) or {}
            points.append(
                {
                    "t": float(s["until"]),
                    "weight": s.get("weight"),
                    **{v: (m.get(v) or {}).get("value") for v in ("stable", "candidate")},
                    **{
                        f"{v}_samples": (m.get(v) or {}).get("samples", 0)
                        for v in ("stable", "candidate")
                    },
                }
            )
        charts.append(
            {
                "metric": metric,
                "query": query,
                "triggers": [t.name for t in triggers],
                "bounds": bounds,
                "relative_bounds": relative,
                "points": points,
                "weights": weights,
                "start": min(times) if times else 0.0,
                "end": max(times) if times else 0.0,
                "rollback_at": rollback_at,
            }
        )
    return charts


def _offset(seconds: float, *, span: float) -> str:
    """An x-axis label: time since the chart's start, to a tenth of a second on short spans."""
    if span < 10:
        return f"+{seconds:.1f}s"
    s = int(round(seconds))
    if s < 120:
        return f"+{s}s"
    if s < 7200:
        return f"+{s // 60}m{s % 60:02d}s"
    return f"+{s // 3600}h{s % 3600 // 60:02d}m"


def _scale(values: list[float]) -> tuple[float, float, float]:
    """Bottom, top and tick step of the y axis: round numbers (1, 2, 2.5 or 5 times a power
    of ten) with a little room above the highest value."""
    low, high = min(0.0, *values) if values else 0.0, max(values, default=0.0) * 1.1
    if high - low <= 0:
        return 0.0, 1.0, 0.25
    raw = (high - low) / 4
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    return math.floor(low / step) * step, math.ceil(high / step) * step, step


def _series(
    points: list[dict[str, Any]], key: str, x: Any, y: Any, colour: str, query: str
) -> list[str]:
    width = 3.5 if key == "stable" else 2  # drawn first and wider: shows under an equal candidate
    """Polylines (broken where a value is missing) and a dot with a tooltip per value."""
    out: list[str] = []
    run: list[str] = []
    for p in points + [{"t": None, key: None}]:
        value = p.get(key)
        if value is None:
            if len(run) > 1:
                out.append(
                    f'<polyline fill="none" stroke="{colour}" stroke-width="{width}" '
                    f'points="{" ".join(run)}"/>'
                )
            run = []
            continue
        px, py = x(p["t"]), y(float(value))
        run.append(f"{px:.1f},{py:.1f}")
        tip = f"{key} {format_value(query, value)} ({p.get(key + '_samples', 0)} requests)"
        out.append(
            f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.6" fill="{colour}">'
            f"<title>{escape(tip)}</title></circle>"
        )
    return out


def render_svg(chart: dict[str, Any]) -> str:
    """One chart as an ``<svg>`` element (no scripts, no external references)."""
    query, points = chart["query"], chart["points"]
    start = float(chart["start"])
    span = max(float(chart["end"]) - start, 1.0) * 1.03  # room to the right of the last mark
    end = start + span
    values = [float(p[k]) for p in points for k in ("stable", "candidate") if p[k] is not None]
    values += [float(b["value"]) for b in chart["bounds"]]
    low, top, step = _scale(values)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + (t - start) / span * plot_w

    def y(v: float) -> float:
        return TOP + plot_h - (v - low) / (top - low) * plot_h

    label = f"{chart['metric']}: candidate and stable over time"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
        f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#ffffff" '
        'stroke="#cbd5e1"/>',
    ]
    weights = chart["weights"]
    for i, w in enumerate(weights):
        x0 = x(max(float(w["t"]), start))
        x1 = x(float(weights[i + 1]["t"])) if i + 1 < len(weights) else x(end)
        if w["weight"] > 0 and x1 > x0:
            shade = "#f1f5f9" if i % 2 == 0 else "#e2e8f0"
            parts.append(
                f'<rect class="step" x="{x0:.1f}" y="{TOP}" width="{x1 - x0:.1f}" '
                f'height="{plot_h}" fill="{shade}"/>'
            )
        parts.append(
            f'<line x1="{x0:.1f}" y1="{TOP}" x2="{x0:.1f}" y2="{TOP + plot_h}" '
            'stroke="#94a3b8" stroke-dasharray="2,3"/>'
        )
        if x1 - x0 > 24:
            parts.append(
                f'<text x="{x0 + 3:.1f}" y="{TOP + 12}" font-size="11" fill="#475569">'
                f"{w['weight']}%</text>"
            )
    for i in range(round((top - low) / step) + 1):
        v = low + step * i
        parts.append(
            f'<line x1="{LEFT}" y1="{y(v):.1f}" x2="{LEFT + plot_w}" y2="{y(v):.1f}" '
            'stroke="#e5e7eb" stroke-width="0.8"/>'
            f'<text x="{LEFT - 6}" y="{y(v) + 4:.1f}" font-size="11" text-anchor="end" '
            f'fill="#334155">{escape(format_value(query, v))}</text>'
        )
    for i in range(5):
        t = start + span * i / 4
        parts.append(
            f'<text x="{x(t):.1f}" y="{TOP + plot_h + 16}" font-size="11" '
            f'text-anchor="middle" fill="#334155">{_offset(t - start, span=span)}</text>'
        )
    for b in chart["bounds"]:
        by = y(float(b["value"]))
        parts.append(
            f'<line class="bound" x1="{LEFT}" y1="{by:.1f}" x2="{LEFT + plot_w}" y2="{by:.1f}" '
            f'stroke="{BOUND_COLOUR}" stroke-width="1.5" stroke-dasharray="6,4">'
            f"<title>{escape(b['trigger'])}: {escape(b['text'])}</title></line>"
            f'<text x="{LEFT + plot_w + 6}" y="{by + 4:.1f}" font-size="11" '
            f'fill="{BOUND_COLOUR}">{escape(b["text"])}</text>'
        )
    if chart["rollback_at"] is not None:
        rx = x(float(chart["rollback_at"]))
        parts.append(
            f'<line class="rollback" x1="{rx:.1f}" y1="{TOP}" x2="{rx:.1f}" '
            f'y2="{TOP + plot_h}" stroke="{ROLLBACK_COLOUR}" stroke-width="2"/>'
            f'<text x="{rx - 4:.1f}" y="{TOP - 4}" font-size="11" text-anchor="end" '
            f'font-weight="bold" fill="{ROLLBACK_COLOUR}">rollback</text>'
        )
    parts += _series(points, "stable", x, y, STABLE_COLOUR, query)
    parts += _series(points, "candidate", x, y, CANDIDATE_COLOUR, query)
    legend = [("stable", STABLE_COLOUR), ("candidate", CANDIDATE_COLOUR)]
    for i, (name, colour) in enumerate(legend):
        lx = LEFT + i * 100
        parts.append(
            f'<rect x="{lx}" y="{TOP - 20}" width="12" height="4" fill="{colour}"/>'
            f'<text x="{lx + 16}" y="{TOP - 14}" font-size="12" fill="#0f172a">{name}</text>'
        )
    parts.append(
        f'<text x="{LEFT + 200}" y="{TOP - 14}" font-size="12" fill="#475569">'
        f"{escape(chart['metric'])} ({escape(query or 'value')}); bands: canary steps"
        "</text></svg>"
    )
    return "\n".join(parts)
