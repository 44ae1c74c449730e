"""The SQL event store (SQLAlchemy Core): SQLite by default, in WAL mode.

Appends take the next sequence number inside one transaction and rely on the
``(rollout_id, seq)`` primary key: when two writers race, one gets an IntegrityError and
retries with the new maximum, so the log stays dense and duplicate-free.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError

from rollguard.errors import RolloutNotFound, StoreError
from rollguard.store.base import Event, RolloutRow

metadata = sa.MetaData()

rollouts = sa.Table(
    "rollouts",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("plan_name", sa.String(200), nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("step", sa.Integer, nullable=True),
    sa.Column("weight", sa.Integer, nullable=True),
    sa.Column("outcome", sa.String(32), nullable=True),
)

events = sa.Table(
    "events",
    metadata,
    sa.Column("rollout_id", sa.String(64), sa.ForeignKey("rollouts.id"), primary_key=True),
    sa.Column("seq", sa.Integer, primary_key=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("type", sa.String(64), nullable=False),
    sa.Column("data", sa.Text, nullable=False),
)


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()


def url_for(path_or_url: str) -> str:
    """Turn a file path into a SQLite URL; leave URLs (``sqlite:///...``) as they are."""
    if "://" in path_or_url:
        return path_or_url
    return f"sqlite:///{Path(path_or_url).expanduser().resolve()}"


class SqlStore:
    """An event store on any SQLAlchemy URL (tested: SQLite)."""

    def __init__(self, url: str) -> None:
        self.url = url_for(url)
        if self.url.startswith("sqlite:///"):
            Path(self.url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.engine: Engine = sa.create_engine(self.url, future=True)
            if self.engine.dialect.name == "sqlite":
                sa_event.listen(self.engine, "connect", _sqlite_pragmas)
            metadata.create_all(self.engine)
        except (OperationalError, sa.exc.ArgumentError) as exc:
            raise StoreError(f"cannot open store {self.url}: {exc}") from exc

    def create(self, rollout_id: str, *, plan_name: str, at: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                rollouts.insert().values(
                    id=rollout_id,
                    plan_name=plan_name,
                    state="pending",
                    created_at=at,
                    updated_at=at,
                    step=None,
                    weight=None,
                    outcome=None,
                )
            )

    def append(self, rollout_id: str, type: str, data: dict[str, Any], *, at: float) -> Event:
        payload = json.dumps(data, sort_keys=True, default=str)
        for attempt in range(50):
            try:
                with self.engine.begin() as conn:
                    last = conn.execute(
                        sa.select(sa.func.max(events.c.seq)).where(
                            events.c.rollout_id == rollout_id
                        )
                    ).scalar()
                    seq = int(last or 0) + 1
                    conn.execute(
                        events.insert().values(
                            rollout_id=rollout_id, seq=seq, at=at, type=type, data=payload
                        )
                    )
                return Event(rollout_id, seq, at, type, json.loads(payload))
            except IntegrityError:
                time.sleep(0.005 * (attempt + 1))  # another writer took this seq: take the next
            except OperationalError as exc:
                if "locked" not in str(exc):
                    raise StoreError(f"cannot append to {rollout_id}: {exc}") from exc
                time.sleep(0.01 * (attempt + 1))
        raise StoreError(f"cannot append to {rollout_id}: too much contention")

    def events(self, rollout_id: str, *, after: int = 0) -> list[Event]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(events.c.seq, events.c.at, events.c.type, events.c.data)
                .where(events.c.rollout_id == rollout_id, events.c.seq > after)
                .order_by(events.c.seq)
            ).all()
        if not rows and after == 0:
            self.get(rollout_id)  # raises RolloutNotFound for an unknown id
        return [Event(rollout_id, r.seq, r.at, r.type, json.loads(r.data)) for r in rows]

    def update(
        self,
        rollout_id: str,
        *,
        state: str,
        step: int | None,
        weight: int | None,
        outcome: str | None,
        at: float,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                rollouts.update()
                .where(rollouts.c.id == rollout_id)
                .values(state=state, step=step, weight=weight, outcome=outcome, updated_at=at)
            )

    def get(self, rollout_id: str) -> RolloutRow:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(rollouts).where(rollouts.c.id.startswith(rollout_id, autoescape=True))
            ).all()
        exact = [r for r in rows if r.id == rollout_id]
        if exact:
            rows = exact
        if len(rows) != 1:
            what = "no rollout" if not rows else f"{len(rows)} rollouts"
            raise RolloutNotFound(f"{what} with id {rollout_id!r} in {self.url}")
        return _row(rows[0])

    def list(self, *, limit: int = 50) -> list[RolloutRow]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(rollouts).order_by(rollouts.c.created_at.desc()).limit(limit)
            ).all()
        return [_row(r) for r in rows]

    def close(self) -> None:
        self.engine.dispose()


def _row(r: Any) -> RolloutRow:
    return RolloutRow(
        id=r.id,
        plan_name=r.plan_name,
        state=r.state,
        created_at=r.created_at,
        updated_at=r.updated_at,
        step=r.step,
        weight=r.weight,
        outcome=r.outcome,
    )


def open_store(url: str) -> SqlStore:
    """Open the store at a path or SQLAlchemy URL."""
    return SqlStore(url)
