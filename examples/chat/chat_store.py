"""SQLite persistence for the example chat service.

The stable and the candidate build run as two processes over one database file, the way two
builds of a real service share one Mongo. WAL mode lets readers in one process proceed while
the other writes, and a busy timeout makes a writer wait for the other process's write lock
instead of failing at once.

Each process keeps a single connection guarded by a lock: every statement here is tiny, so
serialising them costs far less than the simulated work the service does around them.
Every write is one autocommitted statement, so a crash never leaves half a message behind.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from typing import Any

SCHEMA = """
CREATE TABLE IF NOT EXISTS threads (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    thread_id INTEGER NOT NULL REFERENCES threads(id),
    author TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_by_thread ON messages(thread_id, id);
"""

BUSY_TIMEOUT_MS = 5000


class ThreadNotFound(LookupError):
    """The thread a message was addressed to does not exist."""


class ChatStore:
    """Threads and messages in one SQLite file, safe to share between processes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        self._db.row_factory = sqlite3.Row
        with self._lock:
            self._db.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            self._db.execute("PRAGMA journal_mode = WAL")
            self._db.execute("PRAGMA synchronous = NORMAL")
            self._db.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def create_thread(self, title: str) -> dict[str, Any]:
        now = time.time()
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO threads (title, created_at) VALUES (?, ?)", (title, now)
            )
        return {"id": cur.lastrowid, "title": title, "created_at": now}

    def list_threads(self, limit: int) -> list[dict[str, Any]]:
        """The `limit` most recently created threads, newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, title, created_at FROM threads ORDER BY id DESC LIMIT ?", (limit,)
            ).fetchall()
        return [dict(row) for row in rows]

    def thread_exists(self, thread_id: int) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM threads WHERE id = ?", (thread_id,)).fetchone()
        return row is not None

    def add_message(self, thread_id: int, author: str, body: str) -> dict[str, Any]:
        """Store a message; raises ThreadNotFound when the thread does not exist.

        The existence check and the insert are one statement, so a concurrent writer in the
        other process cannot slip between them.
        """
        now = time.time()
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO messages (thread_id, author, body, created_at) "
                "SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM threads WHERE id = ?)",
                (thread_id, author, body, now, thread_id),
            )
        if cur.rowcount == 0:
            raise ThreadNotFound(thread_id)
        return {
            "id": cur.lastrowid,
            "thread_id": thread_id,
            "author": author,
            "body": body,
            "created_at": now,
        }

    def next_message_id(self) -> int:
        """The id the next stored message would plausibly get (used to fake a lost write)."""
        with self._lock:
            row = self._db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM messages").fetchone()
        return int(row[0])

    def list_messages(self, thread_id: int, limit: int) -> list[dict[str, Any]] | None:
        """The `limit` latest messages of a thread in posting order, or None if no thread."""
        with self._lock:
            if self._db.execute("SELECT 1 FROM threads WHERE id = ?", (thread_id,)).fetchone():
                rows = self._db.execute(
                    "SELECT id, thread_id, author, body, created_at FROM ("
                    "  SELECT * FROM messages WHERE thread_id = ? ORDER BY id DESC LIMIT ?"
                    ") ORDER BY id",
                    (thread_id, limit),
                ).fetchall()
            else:
                return None
        return [dict(row) for row in rows]
