"""The example's issue tracker: tasks in a JSON file, so "mark T047 completed" can run here.

    python tracker.py done T047 --file tracker.json --note "rollout 20261127-..."

A real plan would use a ``webhook`` completion action against its tracker's API instead.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description="Mark a task done in a JSON task file.")
    parser.add_argument("action", choices=["done"])
    parser.add_argument("task")
    parser.add_argument("--file", required=True, type=Path)
    parser.add_argument("--note", default="")
    args = parser.parse_args()
    tasks = json.loads(args.file.read_text()) if args.file.exists() else {}
    tasks[args.task] = {"status": "completed", "at": time.time(), "note": args.note}
    args.file.parent.mkdir(parents=True, exist_ok=True)
    args.file.write_text(json.dumps(tasks, indent=2, sort_keys=True) + "\n")
    print(f"{args.task}: completed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
