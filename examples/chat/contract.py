"""Contract test of the chat API: do posted messages come back, and did they persist?

The runbook's `run_chat_contract.sh` as one script. Against a service or a router:

    python examples/chat/contract.py --url http://127.0.0.1:3011 --db /tmp/chat.db \\
        --artifact-dir ci/chat-contract

It creates a thread, posts --messages messages, reads them back through the API and, with
--db, straight from the SQLite file (the runbook's "verify messages persist in Mongo"),
and checks ids, bodies, authors and order. Each assertion is one line, `PASS ...` or
`ERROR ...`, printed and written to `<artifact-dir>/contract-run-<UTC timestamp>.out`.
The last stdout line is JSON: {"passed": n, "failed": m, "artifact": path-or-null}.

Exit status: 0 when every assertion passed, 1 otherwise, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chat_client import ChatClient, TransportError


class Contract:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.passed = 0
        self.failed = 0

    def check(self, ok: bool, what: str, why: str = "") -> bool:
        if ok:
            self.passed += 1
            line = f"PASS {what}"
        else:
            self.failed += 1
            line = f"ERROR {what}" + (f": {why}" if why else "")
        self.lines.append(line)
        print(line, flush=True)
        return ok


def run(contract: Contract, client: ChatClient, *, db: str | None, count: int, run_id: str) -> None:
    status = client.request("GET", "/status")
    version = status.data.get("version") if isinstance(status.data, dict) else None
    contract.check(
        status.status == 200,
        f"GET /status answered 200 (version={version})",
        f"got {status.status}",
    )

    created = client.request("POST", "/threads", {"title": f"contract {run_id}"})
    thread_id = created.data.get("id") if isinstance(created.data, dict) else None
    if not contract.check(
        created.status == 201 and isinstance(thread_id, int),
        f"POST /threads created a thread (id={thread_id})",
        f"status {created.status}, body {created.data!r}",
    ):
        return

    author = f"contract-{run_id}"
    sent: list[tuple[int, str]] = []  # (id, body) in posting order
    for index in range(1, count + 1):
        body = f"contract {run_id} message {index}"
        answer = client.request(
            "POST", f"/threads/{thread_id}/messages", {"author": author, "body": body}
        )
        data = answer.data if isinstance(answer.data, dict) else {}
        message_id = data.get("id")
        if contract.check(
            answer.status == 201
            and isinstance(message_id, int)
            and data.get("thread_id") == thread_id,
            f"POST message {index} acknowledged (id={message_id}, thread={thread_id})",
            f"status {answer.status}, body {answer.data!r}",
        ):
            sent.append((message_id, body))

    acknowledged = [message_id for message_id, _ in sent]
    contract.check(
        len(set(acknowledged)) == len(acknowledged),
        "acknowledged message ids are distinct",
        f"ids {acknowledged}",
    )

    listing = client.request("GET", f"/threads/{thread_id}/messages?limit={max(count, 100)}")
    if contract.check(
        listing.status == 200 and isinstance(listing.data, list),
        f"GET /threads/{thread_id}/messages answered a list",
        f"status {listing.status}, body {listing.data!r}",
    ):
        found = [
            (m["id"], m.get("body"), m.get("author"))
            for m in listing.data
            if isinstance(m, dict) and isinstance(m.get("id"), int)
        ]
        _compare(
            contract, "api", sent, found, author=author, where=f"GET /threads/{thread_id}/messages"
        )

    if db is not None:
        stored = _read_db(contract, db, thread_id)
        if stored is not None:
            _compare(
                contract, "db", sent, stored, author=author, where=f"the messages table of {db}"
            )


def _compare(
    contract: Contract,
    source: str,
    sent: list[tuple[int, str]],
    found: list[tuple[int, str, str]],
    *,
    author: str,
    where: str,
) -> None:
    by_id = {message_id: (body, who) for message_id, body, who in found}
    for index, (message_id, body) in enumerate(sent, start=1):
        got = by_id.get(message_id)
        if got is None:
            contract.check(
                False,
                f"{source}: message {index} (id={message_id}) not persisted",
                f"missing from {where}",
            )
            continue
        contract.check(
            got == (body, author),
            f"{source}: message {index} (id={message_id}) persisted with its body and author",
            f"found body={got[0]!r} author={got[1]!r}",
        )
    found_ids = [message_id for message_id, _, _ in found]
    contract.check(
        found_ids == sorted(found_ids) and len(found_ids) == len(sent),
        f"{source}: thread holds exactly the {len(sent)} messages, in posting order",
        f"found ids {found_ids}, acknowledged ids {[message_id for message_id, _ in sent]}",
    )


def _read_db(contract: Contract, db: str, thread_id: int) -> list[tuple[int, str, str]] | None:
    if not contract.check(Path(db).is_file(), f"db: {db} exists", "no such file"):
        return None
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
        try:
            thread = conn.execute("SELECT id FROM threads WHERE id = ?", (thread_id,)).fetchone()
            rows = conn.execute(
                "SELECT id, body, author FROM messages WHERE thread_id = ? ORDER BY id",
                (thread_id,),
            ).fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        contract.check(False, f"db: read thread {thread_id}", f"{type(exc).__name__}: {exc}")
        return None
    contract.check(thread is not None, f"db: thread {thread_id} persisted", "not persisted")
    return [(int(row[0]), str(row[1]), str(row[2])) for row in rows]


def _artifact_path(directory: str) -> Path:
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = folder / f"contract-run-{stamp}.out"
    suffix = 1
    while path.exists():
        path = folder / f"contract-run-{stamp}-{suffix}.out"
        suffix += 1
    return path


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Contract test of the chat API: post messages, read them back through "
        "the API and (with --db) from the database.",
        epilog="Exit status: 0 all assertions passed, 1 some failed, 2 bad usage.",
    )
    parser.add_argument("--url", required=True, help="service or router base URL")
    parser.add_argument("--db", help="SQLite file to verify persistence in (optional)")
    parser.add_argument(
        "--artifact-dir",
        default=os.environ.get("ARTIFACT_DIR"),
        help="write contract-run-<UTC timestamp>.out here (env ARTIFACT_DIR)",
    )
    parser.add_argument("--messages", type=int, default=5, help="messages to post (default 5)")
    parser.add_argument("--timeout", type=float, default=5.0, help="per request, seconds")
    args = parser.parse_args(argv)
    if args.messages < 1:
        parser.error("--messages must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    contract = Contract()
    run_id = uuid.uuid4().hex[:12]
    client = ChatClient(args.url, timeout=args.timeout)
    try:
        run(contract, client, db=args.db, count=args.messages, run_id=run_id)
    except TransportError as exc:
        contract.check(False, f"request to {args.url}", str(exc))
    finally:
        client.close()
    artifact: Path | None = None
    if args.artifact_dir:
        artifact = _artifact_path(args.artifact_dir)
        artifact.write_text("\n".join(contract.lines) + "\n")
    summary: dict[str, Any] = {
        "passed": contract.passed,
        "failed": contract.failed,
        "artifact": str(artifact) if artifact else None,
    }
    print(json.dumps(summary), flush=True)
    return 0 if contract.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
