"""The MongoDB side of the ``query`` check, without a MongoDB server.

There is no MongoDB server on these machines and none is faked: these tests cover what needs
no server (validation, filter decoding, judging documents, redaction, the install hint) and
that an unreachable server is an ``error`` within the check's timeout.
"""

from __future__ import annotations

import datetime
import json
import sys
from typing import Any

import pydantic
import pytest

from rollguard.checks.base import CheckContext
from rollguard.checks.query import (
    MONGO_HINT,
    Answer,
    QueryCheckRunner,
    describe_query,
    judge,
    mongo_filter,
)
from rollguard.plan import model
from tests.conftest import free_port


def spec(**fields: Any) -> model.QueryCheck:
    base = {"name": "messages persisted", "kind": "query", "url": "mongodb://db/chat_test"}
    return model.QueryCheck.model_validate({**base, **fields})


def test_mongo_spec_validation() -> None:
    ok = spec(collection="messages", filter={"thread_id": 7}, min=1)
    assert describe_query(ok) == {
        "database": None,
        "collection": "messages",
        "filter": {"thread_id": 7},
        "projection": None,
        "operation": "count_documents",
    }
    with pytest.raises(pydantic.ValidationError, match="needs `collection`"):
        spec(min=1)
    with pytest.raises(pydantic.ValidationError, match="`sql` needs a SQL URL"):
        spec(collection="messages", sql="SELECT 1", min=1)
    with pytest.raises(pydantic.ValidationError, match="needs an expectation"):
        spec(collection="messages")


def test_filter_extended_json_is_decoded() -> None:
    bson = pytest.importorskip("bson")
    decoded = mongo_filter(
        {
            "_id": {"$oid": "65a1b2c3d4e5f60718293a4b"},
            "created_at": {"$gte": {"$date": "2024-01-01T00:00:00Z"}},
            "author": {"$in": ["ann", "bob"]},
        }
    )
    assert decoded["_id"] == bson.ObjectId("65a1b2c3d4e5f60718293a4b")
    assert decoded["created_at"]["$gte"] == datetime.datetime(2024, 1, 1)  # UTC, naive
    assert decoded["author"] == {"$in": ["ann", "bob"]}


def test_count_and_document_expectations() -> None:
    count = spec(collection="messages", filter={"thread_id": 7}, min=3, max=5)
    assert [ok for _, ok, _ in judge(count, Answer(value=4))] == [True, True]
    assert judge(count, Answer(value=2))[0] == ("result >= 3", False, "result is 2")
    docs = spec(
        collection="messages",
        projection={"body": 1, "author": 1},
        rows=[{"body": "hello"}, {"body": "bye", "author": "ann"}],
    )
    assert describe_query(docs)["operation"] == "find"
    found = [{"body": "hello", "author": "bob"}, {"body": "bye", "author": "ann"}]
    assert [ok for _, ok, _ in judge(docs, Answer(rows=found))] == [True]
    lost = judge(docs, Answer(rows=found[:1]))
    assert lost[0][1] is False and lost[0][2] == "1 rows, expected 2"


async def test_unreachable_server_is_an_error_within_the_timeout(ctx: CheckContext) -> None:
    pytest.importorskip("pymongo")
    url = f"mongodb://chat:s3cret@127.0.0.1:{free_port()}/chat_test?directConnection=true"
    check = spec(url=url, collection="messages", filter={"thread_id": 7}, min=1, timeout=1)
    result = await QueryCheckRunner().run(check, ctx)
    assert result.status == "error"
    assert "no MongoDB server answered within 1000 ms" in result.summary
    text = (ctx.evidence_dir / "query.json").read_text()
    assert "s3cret" not in text and "s3cret" not in result.summary
    record = json.loads(text)
    assert record["url"].startswith("mongodb://chat:***@127.0.0.1:")
    assert record["language"] == "mongodb"


async def test_missing_pymongo_gives_the_install_hint(
    ctx: CheckContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    # None in sys.modules makes the import fail as if the package were not installed.
    for name in ("pymongo", "pymongo.errors", "bson", "bson.json_util"):
        monkeypatch.setitem(sys.modules, name, None)
    check = spec(collection="messages", min=1)
    result = await QueryCheckRunner().run(check, ctx)
    assert result.status == "error"
    assert MONGO_HINT in result.summary
    assert "pip install 'rollguard[mongo]'" in result.summary
