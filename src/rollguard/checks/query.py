"""The ``query`` check: ask the database whether the data is there ("messages persist").

Two languages behind one interface, chosen by the URL:

- **SQL**, any SQLAlchemy URL (``sqlite:////data/chat.db``,
  ``postgresql+psycopg://user@host:5432/db``). The query runs in a transaction that is
  rolled back, so a check never changes data. The result is the first column of the first row,
  or every row (at most ``limit``) when the plan gives ``rows``. A relative SQLite path starts
  at the plan's folder, and a SQLite file that does not exist is an ``error`` (SQLite would
  otherwise create an empty database and the check would query nothing).
- **MongoDB** (``mongodb://`` and ``mongodb+srv://``), through pymongo, an optional extra
  imported only here: the result is ``count_documents(filter)``, or the documents found
  (``find(filter, projection)``) when the plan gives ``rows``. The filter may use MongoDB
  Extended JSON (``{"$oid": ...}``, ``{"$date": ...}``), decoded with ``bson.json_util``.

Both drivers are synchronous and run in a worker thread (``asyncio.to_thread``) so the event
loop keeps serving the rollout's timers while a database answers; the check's ``timeout`` is
given to the driver (connect timeout, server selection timeout), whose message then names the
cause; a guard :data:`GRACE` seconds later ends the wait if a driver overruns its own timeout.

Secrets: the URL's password and any ``password=`` parameter are replaced with ``***`` in
``query.json``, in summaries and in driver error messages, which often quote the URL.
"""

from __future__ import annotations

import asyncio
import datetime
import decimal
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from rollguard.checks import records
from rollguard.checks.base import CheckContext, CheckResult, CheckStatus
from rollguard.checks.json_values import json_equal, show_value
from rollguard.durations import format_duration
from rollguard.plan import model

MONGO_HINT = "MongoDB checks need pymongo: pip install 'rollguard[mongo]'"

GRACE = 2.0
"""Seconds past ``timeout`` after which the check stops waiting for a driver."""

_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)(.*)$", re.DOTALL)
_SECRET_PARAM = re.compile(r"(?i)([?&;](?:password|passwd|pwd|sslpassword)=)([^&;#]*)")


def _split_userinfo(url: str) -> tuple[str, str | None, str | None, str]:
    """``(scheme://, user, password, rest after the '@')``; user and password None if absent."""
    match = _SCHEME.match(url)
    if match is None:
        return "", None, None, url
    scheme, rest = match.groups()
    query_at = rest.find("?")
    at = rest.rfind("@", 0, query_at if query_at >= 0 else len(rest))
    if at < 0 or ":" not in rest[:at]:
        return scheme, None, None, rest
    user, password = rest[:at].split(":", 1)
    return scheme, user, password, rest[at + 1 :]


def redact_db_url(url: str) -> str:
    """``url`` with its password and ``password=`` parameters replaced by ``***``.

    >>> redact_db_url("postgresql+psycopg://app:s3cret@db:5432/chat?password=x&sslmode=require")
    'postgresql+psycopg://app:***@db:5432/chat?password=***&sslmode=require'
    """
    scheme, user, password, rest = _split_userinfo(url)
    if password is not None:
        rest = f"{user}:***@{rest}"
    return scheme + _SECRET_PARAM.sub(r"\1***", rest)


def url_secrets(url: str) -> list[str]:
    """The secret values in ``url`` (as written and URL-decoded), longest first."""
    found = [_split_userinfo(url)[2] or ""]
    found += [m.group(2) for m in _SECRET_PARAM.finditer(url)]
    values = {v for s in found if s for v in (s, unquote(s))}
    return sorted(values, key=len, reverse=True)


def scrub(text: str, url: str) -> str:
    """``text`` (e.g. a driver's error message) with every secret of ``url`` hidden."""
    for secret in url_secrets(url):
        text = text.replace(secret, "***")
    return text


def is_mongo_url(url: str) -> bool:
    """Whether ``url`` names a MongoDB server rather than a SQL database."""
    return url.startswith(("mongodb://", "mongodb+srv://"))


@dataclass(frozen=True)
class Answer:
    """What the database returned: a single value, or rows when rows were asked for."""

    value: Any = None
    rows: list[Any] | None = None
    truncated: bool = False  # more rows than ``limit`` existed
    query: dict[str, Any] = field(default_factory=dict)  # what was asked, for evidence


class QueryError(Exception):
    """The query could not be answered (unreachable server, bad SQL, missing driver)."""


class QueryCheckRunner:
    """Runs ``kind: query`` checks (see the module docstring for the exact behaviour)."""

    async def run(self, spec: model.QueryCheck, ctx: CheckContext) -> CheckResult:
        """Run the query of ``spec`` and judge its result; evidence in ``ctx.evidence_dir``."""
        started = time.monotonic()
        ctx.evidence_dir.mkdir(parents=True, exist_ok=True)
        mongo = is_mongo_url(spec.url)
        record: dict[str, Any] = {
            "url": redact_db_url(spec.url),
            "language": "mongodb" if mongo else "sql",
        }

        def finish(status: CheckStatus, summary: str, details: list[str]) -> CheckResult:
            return records.finish(
                spec,
                record,
                path=ctx.evidence_dir / "query.json",
                started=started,
                status=status,
                summary=summary,
                details=details,
                default=str,
            )

        record["query"] = describe_query(spec)
        try:
            # A sync driver in a worker thread; the timeout also reaches the driver itself.
            work = _run_mongo(spec) if mongo else _run_sql(spec, base_dir=ctx.base_dir)
            async with asyncio.timeout(spec.timeout + GRACE):
                answer = await work
        except TimeoutError:
            record["error"] = f"no answer after {format_duration(spec.timeout + GRACE)}"
            return finish("error", f"query on {record['url']}: {record['error']}", [])
        except QueryError as exc:
            record["error"] = scrub(str(exc), spec.url)
            return finish("error", f"query on {record['url']}: {record['error']}", [])

        record["query"] = answer.query or record["query"]
        if answer.rows is not None:
            record["rows"] = answer.rows
            record["truncated"] = answer.truncated
        else:
            record["result"] = answer.value
        verdicts = judge(spec, answer)
        record["expectations"] = [
            {"expectation": e, "ok": ok, "reason": r} for e, ok, r in verdicts
        ]
        details = [
            f"{'ok' if ok else 'FAILED'}: {e}" + (f" ({r})" if r else "") for e, ok, r in verdicts
        ]
        shown = show_value(answer.value) if answer.rows is None else f"{len(answer.rows)} rows"
        failed = next(((e, r) for e, ok, r in verdicts if not ok), None)
        if failed is not None:
            return finish("failed", f"{failed[0]} failed: {failed[1]}", details)
        return finish("passed", f"result {shown}: {len(verdicts)} expectations held", details)


def describe_query(spec: model.QueryCheck) -> dict[str, Any]:
    """The query as recorded in evidence (never the URL's secrets)."""
    if is_mongo_url(spec.url):
        return {
            "database": spec.database,
            "collection": spec.collection,
            "filter": spec.filter,
            "projection": spec.projection,
            "operation": "find" if spec.rows is not None else "count_documents",
        }
    return {"sql": spec.sql, "params": spec.params}


def judge(spec: model.QueryCheck, answer: Answer) -> list[tuple[str, bool, str]]:
    """One ``(expectation, ok, reason)`` per expectation of ``spec``.

    >>> spec = model.QueryCheck(name="n", kind="query", url="sqlite://", sql="x", min=1)
    >>> judge(spec, Answer(value=3))
    [('result >= 1', True, '')]
    """
    if spec.rows is not None:
        rows = answer.rows or []
        label = f"rows == {show_value(spec.rows)}"
        if answer.truncated:
            return [(label, False, f"more than limit={spec.limit} rows")]
        if len(rows) != len(spec.rows):
            return [(label, False, f"{len(rows)} rows, expected {len(spec.rows)}")]
        for index, (got, wanted) in enumerate(zip(rows, spec.rows, strict=True)):
            if not row_matches(got, wanted):
                return [(label, False, f"row {index} is {show_value(got)}")]
        return [(label, True, "")]
    value = answer.value
    out: list[tuple[str, bool, str]] = []
    if spec.equals is not None:
        ok = json_equal(value, spec.equals)
        out.append(
            (
                f"result == {show_value(spec.equals)}",
                ok,
                "" if ok else f"result is {show_value(value)}",
            )
        )
    for bound, label in ((spec.min, ">="), (spec.max, "<=")):
        if bound is None:
            continue
        name = f"result {label} {show_value(bound)}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            out.append((name, False, f"result is {show_value(value)}, not a number"))
        elif (value < bound) if label == ">=" else (value > bound):
            out.append((name, False, f"result is {show_value(value)}"))
        else:
            out.append((name, True, ""))
    return out


def row_matches(got: Any, wanted: Any) -> bool:
    """Whether a row (a list of column values, or a document) is the expected one.

    An expected scalar matches a one-column row; an expected mapping names the columns (or
    fields) it cares about and ignores the others.

    >>> row_matches([7, "hi"], [7, "hi"]), row_matches([3], 3)
    (True, True)
    >>> row_matches({"a": 1, "b": 2}, {"a": 1})
    True
    """
    if isinstance(wanted, dict):
        return isinstance(got, dict) and all(
            k in got and json_equal(got[k], v) for k, v in wanted.items()
        )
    if isinstance(got, list) and not isinstance(wanted, list):
        return len(got) == 1 and json_equal(got[0], wanted)
    return json_equal(got, wanted)


def mongo_filter(document: dict[str, Any]) -> Any:
    """The plan's filter as pymongo wants it: Extended JSON (``$oid``, ``$date``) decoded.

    Raises :class:`QueryError` with the install hint when pymongo is missing.
    """
    try:
        from bson import json_util
    except ImportError:
        raise QueryError(MONGO_HINT) from None
    return json_util.loads(json.dumps(document))


# ---------------------------------------------------------------------------- SQL


async def _run_sql(spec: model.QueryCheck, *, base_dir: Path) -> Answer:
    return await asyncio.to_thread(_sql_blocking, spec, base_dir)


def _sql_blocking(spec: model.QueryCheck, base_dir: Path) -> Answer:
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    try:
        url = sqlalchemy.make_url(spec.url)
    except sqlalchemy.exc.ArgumentError as exc:
        raise QueryError(f"not a database URL: {exc}") from None
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if database and database != ":memory:" and not database.startswith("file:"):
            path = base_dir / database
            if not path.is_file():
                raise QueryError(f"SQLite database file not found: {path}")
            url = url.set(database=str(path))
        connect_args["timeout"] = spec.timeout
    elif url.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = max(1, int(spec.timeout))
    try:
        engine = sqlalchemy.create_engine(url, poolclass=NullPool, connect_args=connect_args)
    except (ImportError, sqlalchemy.exc.ArgumentError) as exc:
        raise QueryError(f"no driver for {url.drivername}: {exc}") from None
    try:
        with engine.connect() as conn:  # closed without commit: rolled back
            result = conn.execute(sqlalchemy.text(spec.sql or ""), spec.params)
            if not result.returns_rows:
                raise QueryError("the query returned no result set (use a SELECT)")
            if spec.rows is not None:
                fetched = result.fetchmany(spec.limit + 1)
                rows = [[_jsonable(v) for v in row] for row in fetched[: spec.limit]]
                return Answer(rows=rows, truncated=len(fetched) > spec.limit)
            first = result.first()
            return Answer(value=None if first is None else _jsonable(first[0]))
    except sqlalchemy.exc.SQLAlchemyError as exc:
        message = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise QueryError(f"{type(exc).__name__}: {message}") from None
    finally:
        engine.dispose()


# ---------------------------------------------------------------------------- MongoDB


async def _run_mongo(spec: model.QueryCheck) -> Answer:
    query = mongo_filter(spec.filter)  # raises the install hint before any thread starts
    return await asyncio.to_thread(_mongo_blocking, spec, query)


def _mongo_blocking(spec: model.QueryCheck, query: Any) -> Answer:
    try:
        import pymongo
        from pymongo import errors
    except ImportError:
        raise QueryError(MONGO_HINT) from None
    timeout_ms = max(1, int(spec.timeout * 1000))
    client: Any = None
    try:
        client = pymongo.MongoClient(
            spec.url,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            socketTimeoutMS=timeout_ms,
            appname="rollguard",
        )
        db = client[spec.database] if spec.database else client.get_default_database()
        collection = db[spec.collection or ""]
        asked = {**describe_query(spec), "database": db.name}
        if spec.rows is None:
            return Answer(value=collection.count_documents(query), query=asked)
        cursor = collection.find(query, spec.projection, limit=spec.limit + 1)
        keep_id = bool(spec.projection and spec.projection.get("_id"))
        docs = [_jsonable({k: v for k, v in d.items() if keep_id or k != "_id"}) for d in cursor]
        return Answer(rows=docs[: spec.limit], truncated=len(docs) > spec.limit, query=asked)
    except errors.ConfigurationError as exc:
        hint = " (set `database` or name it in the URL)" if spec.database is None else ""
        raise QueryError(f"MongoDB configuration: {exc}{hint}") from None
    except errors.ServerSelectionTimeoutError:
        raise QueryError(f"no MongoDB server answered within {timeout_ms} ms") from None
    except errors.PyMongoError as exc:
        raise QueryError(f"{type(exc).__name__}: {exc}") from None
    finally:
        if client is not None:
            client.close()


# ---------------------------------------------------------------------------- values


def _jsonable(value: Any) -> Any:
    """Database values as JSON values: Decimal -> int/float, dates -> ISO text, bytes -> hex."""
    if isinstance(value, decimal.Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)  # UUID, ObjectId and other driver types


__all__ = [
    "GRACE",
    "MONGO_HINT",
    "Answer",
    "QueryCheckRunner",
    "QueryError",
    "describe_query",
    "is_mongo_url",
    "judge",
    "mongo_filter",
    "redact_db_url",
    "row_matches",
    "scrub",
    "url_secrets",
]
