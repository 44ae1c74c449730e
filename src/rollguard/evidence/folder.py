"""The evidence folder of one rollout: ``<state dir>/runs/<id>/``.

Layout::

    events.jsonl              every event, one JSON object a line (rewritten from the store
                              at the end, so it always equals the authoritative log)
    plan.yaml                 the plan text the rollout ran
    checks/<group>/<nn>-<name>/   each check run: stdout.txt, stderr.txt, artifacts/, result.json
    metrics/<seq>-<purpose>.json  the metric snapshot behind each decision
    processes/*.log           output of the processes the local backend started
    summary.md                what happened, when, and why
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from rollguard.store.base import Event

_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


def slug(text: str) -> str:
    """A file-name-safe version of ``text``."""
    return _SLUG.sub("-", text).strip("-")[:60] or "item"


class RunFolder:
    """Writes the evidence of one rollout."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.mkdir(parents=True, exist_ok=True)

    def write_plan(self, text: str) -> None:
        (self.path / "plan.yaml").write_text(text)

    def append_event(self, event: Event) -> None:
        with (self.path / "events.jsonl").open("a") as fh:
            fh.write(json.dumps(event.to_dict(), sort_keys=True, default=str) + "\n")

    def rewrite_events(self, events: list[Event]) -> None:
        tmp = self.path / "events.jsonl.tmp"
        with tmp.open("w") as fh:
            for ev in events:
                fh.write(json.dumps(ev.to_dict(), sort_keys=True, default=str) + "\n")
        tmp.replace(self.path / "events.jsonl")

    def check_dir(self, group: str, index: int, name: str, *, attempt: int) -> Path:
        """A fresh folder for one check run (a re-run gets its own ``-runN`` suffix)."""
        base = self.path / "checks" / slug(group) / f"{index + 1:02d}-{slug(name)}"
        path = base if attempt == 0 else base.with_name(f"{base.name}-run{attempt + 1}")
        path.mkdir(parents=True, exist_ok=True)
        return path

    def write_json(self, relative: str, data: Any) -> Path:
        path = self.path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
        return path

    def write_text(self, relative: str, text: str) -> Path:
        path = self.path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        return path

    def relative(self, path: Path) -> str:
        try:
            return str(path.relative_to(self.path))
        except ValueError:
            return str(path)
