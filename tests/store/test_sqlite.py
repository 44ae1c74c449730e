"""The SQLite event store: dense sequence numbers, also with several writing processes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from rollguard.errors import RolloutNotFound
from rollguard.store.sqlite import open_store


def test_append_assigns_dense_sequence_numbers_and_reads_back_in_order(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "rg.db"))
    store.create("r1", plan_name="chat", at=1.0)
    for i in range(5):
        store.append("r1", "e", {"i": i}, at=float(i))
    events = store.events("r1")
    assert [e.seq for e in events] == [1, 2, 3, 4, 5]
    assert [e.data["i"] for e in events] == [0, 1, 2, 3, 4]
    assert [e.seq for e in store.events("r1", after=3)] == [4, 5]
    store.close()


def test_wal_mode_is_on(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "rg.db"))
    with store.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    store.close()


def test_unknown_and_ambiguous_ids_are_refused_and_prefixes_work(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "rg.db"))
    store.create("20261127-aaaa", plan_name="p", at=1.0)
    store.create("20261127-aabb", plan_name="p", at=2.0)
    assert store.get("20261127-aab").id == "20261127-aabb"
    with pytest.raises(RolloutNotFound, match="2 rollouts"):
        store.get("20261127-aa")
    with pytest.raises(RolloutNotFound, match="no rollout"):
        store.events("nope")
    assert [r.id for r in store.list()] == ["20261127-aabb", "20261127-aaaa"]
    store.close()


WRITER = """
import sys
from rollguard.store.sqlite import open_store
s = open_store(sys.argv[1])
for i in range(int(sys.argv[3])):
    s.append("r1", "w", {"writer": sys.argv[2], "i": i}, at=0.0)
"""


def test_concurrent_writers_in_separate_processes_leave_no_gap_or_duplicate(tmp_path: Path) -> None:
    db = str(tmp_path / "rg.db")
    store = open_store(db)
    store.create("r1", plan_name="p", at=0.0)
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, db, str(w), "40"]) for w in range(3)]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    events = store.events("r1")
    assert [e.seq for e in events] == list(range(1, 121))
    per_writer = {w: [e.data["i"] for e in events if e.data["writer"] == str(w)] for w in range(3)}
    assert all(v == list(range(40)) for v in per_writer.values())
    store.close()
