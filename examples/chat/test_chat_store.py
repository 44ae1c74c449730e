"""Unit tests of the chat store (the example's ``go test ./...``): ``python -m unittest``."""

from __future__ import annotations

import tempfile
import unittest
from pathlib import Path

from chat_store import ChatStore


class ChatStoreTest(unittest.TestCase):
    def setUp(self) -> None:
        self.dir = tempfile.TemporaryDirectory()
        self.store = ChatStore(str(Path(self.dir.name) / "chat.db"))

    def tearDown(self) -> None:
        self.store.close()
        self.dir.cleanup()

    def test_messages_come_back_in_posting_order(self) -> None:
        thread = self.store.create_thread("release")
        for body in ("one", "two", "three"):
            self.store.add_message(thread["id"], "ana", body)
        messages = self.store.list_messages(thread["id"], 10) or []
        self.assertEqual([m["body"] for m in messages], ["one", "two", "three"])

    def test_an_unknown_thread_has_no_messages(self) -> None:
        self.assertIsNone(self.store.list_messages(999, 10))
        self.assertFalse(self.store.thread_exists(999))

    def test_threads_are_listed(self) -> None:
        self.store.create_thread("a")
        self.store.create_thread("b")
        self.assertEqual(len(self.store.list_threads(10)), 2)


if __name__ == "__main__":
    unittest.main()
