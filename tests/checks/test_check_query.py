"""The ``query`` check against real SQLite files and the PostgreSQL server on 127.0.0.1.

MongoDB has no server here: only the parts that need none are tested (see
``test_check_query_mongo.py``).
"""

from __future__ import annotations

import json
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rollguard.checks.base import CheckContext, CheckResult
from rollguard.checks.query import QueryCheckRunner, redact_db_url, row_matches, scrub
from rollguard.plan import model
from tests.conftest import free_port, require

PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


async def run(ctx: CheckContext, **fields: Any) -> CheckResult:
    spec = model.QueryCheck.model_validate({"name": "persisted", "kind": "query", **fields})
    return await QueryCheckRunner().run(spec, ctx)


def evidence(ctx: CheckContext) -> dict[str, Any]:
    value = json.loads((ctx.evidence_dir / "query.json").read_text())
    assert isinstance(value, dict)
    return value


@pytest.fixture
def chat_db(ctx: CheckContext) -> Path:
    """A SQLite file in the plan's folder with 3 messages in thread 1 and 1 in thread 2."""
    path = ctx.base_dir / "chat.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, thread_id INT, body TEXT)")
        db.executemany(
            "INSERT INTO messages (thread_id, body) VALUES (?, ?)",
            [(1, "hello"), (1, "how are you"), (1, "bye"), (2, "other")],
        )
    db.close()
    return path


@pytest.mark.parametrize(
    ("expectation", "status"),
    [
        ({"equals": 3}, "passed"),
        ({"equals": 4}, "failed"),
        ({"min": 1}, "passed"),
        ({"min": 1, "max": 2}, "failed"),
        ({"max": 3}, "passed"),
    ],
)
async def test_sqlite_count_against_expectations(
    ctx: CheckContext, chat_db: Path, expectation: dict[str, Any], status: str
) -> None:
    sql = "SELECT count(*) FROM messages WHERE thread_id = :thread"
    result = await run(
        ctx, url=f"sqlite:///{chat_db}", sql=sql, params={"thread": 1}, **expectation
    )
    assert result.status == status, result
    record = evidence(ctx)
    assert record["result"] == 3
    assert record["query"] == {"sql": sql, "params": {"thread": 1}}
    assert record["language"] == "sql"
    assert result.evidence == ["query.json"]


async def test_sqlite_rows_and_relative_path(ctx: CheckContext, chat_db: Path) -> None:
    sql = "SELECT thread_id, body FROM messages ORDER BY id"
    expected = [[1, "hello"], [1, "how are you"], [1, "bye"], [2, "other"]]
    result = await run(ctx, url="sqlite:///chat.db", sql=sql, rows=expected)
    assert result.passed, result
    assert evidence(ctx)["rows"] == expected

    wrong = await run(ctx, url="sqlite:///chat.db", sql=sql, rows=expected[:3])
    assert wrong.status == "failed"
    assert "4 rows, expected 3" in wrong.summary

    cut = await run(ctx, url="sqlite:///chat.db", sql=sql, rows=expected[:2], limit=2)
    assert cut.status == "failed"
    assert "more than limit=2 rows" in cut.summary


async def test_no_rows_is_a_failure_not_a_pass(ctx: CheckContext, chat_db: Path) -> None:
    sql = "SELECT body FROM messages WHERE thread_id = 99"
    result = await run(ctx, url="sqlite:///chat.db", sql=sql, min=0)
    assert result.status == "failed"
    assert "not a number" in result.summary


async def test_missing_sqlite_file_is_an_error_and_not_created(ctx: CheckContext) -> None:
    result = await run(ctx, url="sqlite:///nowhere.db", sql="SELECT 1", equals=1)
    assert result.status == "error"
    assert "SQLite database file not found" in result.summary
    assert not (ctx.base_dir / "nowhere.db").exists()


async def test_bad_sql_is_an_error(ctx: CheckContext, chat_db: Path) -> None:
    result = await run(ctx, url="sqlite:///chat.db", sql="SELECT * FROM nope", equals=1)
    assert result.status == "error"
    assert "no such table: nope" in result.summary


async def test_a_check_never_changes_data(ctx: CheckContext, chat_db: Path) -> None:
    sql = "DELETE FROM messages RETURNING id"
    result = await run(ctx, url="sqlite:///chat.db", sql=sql, min=1)
    assert result.passed, result
    with sqlite3.connect(chat_db) as db:
        assert db.execute("SELECT count(*) FROM messages").fetchone() == (4,)
    db.close()


def test_redaction_of_urls_and_messages() -> None:
    url = "postgresql+psycopg://app:p%40ss@db.internal:5432/chat?password=two&sslmode=require"
    assert redact_db_url(url) == (
        "postgresql+psycopg://app:***@db.internal:5432/chat?password=***&sslmode=require"
    )
    assert redact_db_url("mongodb://u:pw@h1:27017,h2:27017/chat?replicaSet=rs") == (
        "mongodb://u:***@h1:27017,h2:27017/chat?replicaSet=rs"
    )
    assert redact_db_url("sqlite:////data/chat.db") == "sqlite:////data/chat.db"
    assert redact_db_url("mongodb://nobody@h/chat") == "mongodb://nobody@h/chat"
    message = 'connection to "app:p@ss@db" failed: password "two" rejected'
    assert scrub(message, url) == 'connection to "app:***@db" failed: password "***" rejected'


def test_rows_match_scalars_lists_and_subsets() -> None:
    assert row_matches([3], 3)
    assert row_matches([1, "a"], [1, "a"])
    assert not row_matches([1, "a"], [1, "b"])
    assert row_matches({"author": "ann", "body": "hi"}, {"author": "ann"})
    assert not row_matches({"author": "ann"}, {"body": "hi"})
    assert not row_matches([1], True)


# ---------------------------------------------------------------------------- PostgreSQL


def _postgres_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def pg_table() -> Iterator[str]:
    """A table of its own in the ``test`` database, dropped afterwards."""
    require(_postgres_up(), "PostgreSQL is not listening on 127.0.0.1:5432")
    psycopg = pytest.importorskip("psycopg")
    name = f"rg_messages_{uuid.uuid4().hex[:12]}"
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test") as conn:
        conn.execute(f"CREATE TABLE {name} (id serial PRIMARY KEY, thread int, body text)")
        conn.execute(
            f"INSERT INTO {name} (thread, body) VALUES (7, 'one'), (7, 'two'), (8, 'three')"
        )
    try:
        yield name
    finally:
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test") as conn:
            conn.execute(f"DROP TABLE IF EXISTS {name}")


async def test_postgres_count_and_rows(ctx: CheckContext, pg_table: str) -> None:
    result = await run(
        ctx,
        url=PG_URL,
        sql=f"SELECT count(*) FROM {pg_table} WHERE thread = :t",
        params={"t": 7},
        equals=2,
    )
    assert result.passed, result
    assert evidence(ctx)["result"] == 2

    rows = await run(
        ctx,
        url=PG_URL,
        sql=f"SELECT thread, body FROM {pg_table} ORDER BY id",
        rows=[[7, "one"], [7, "two"], [8, "three"]],
    )
    assert rows.passed, rows


async def test_postgres_failed_expectation(ctx: CheckContext, pg_table: str) -> None:
    result = await run(ctx, url=PG_URL, sql=f"SELECT count(*) FROM {pg_table}", min=10)
    assert result.status == "failed"
    assert result.summary == "result >= 10 failed: result is 3"


async def test_postgres_password_never_reaches_evidence(ctx: CheckContext, pg_table: str) -> None:
    # trust auth ignores the password, so the query runs with a URL that carries one
    url = "postgresql+psycopg://postgres:hunter2@127.0.0.1:5432/test?password=hunter3"
    result = await run(ctx, url=url, sql=f"SELECT count(*) FROM {pg_table}", equals=3)
    assert result.passed, result
    text = (ctx.evidence_dir / "query.json").read_text()
    assert "hunter2" not in text and "hunter3" not in text
    assert evidence(ctx)["url"].startswith("postgresql+psycopg://postgres:***@127.0.0.1")


async def test_postgres_unreachable_is_an_error_without_secrets(ctx: CheckContext) -> None:
    port = free_port()
    url = f"postgresql+psycopg://postgres:hunter2@127.0.0.1:{port}/test"
    result = await run(ctx, url=url, sql="SELECT 1", equals=1, timeout=5)
    assert result.status == "error"
    assert "hunter2" not in result.summary
    assert "hunter2" not in (ctx.evidence_dir / "query.json").read_text()
