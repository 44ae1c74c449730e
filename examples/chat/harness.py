"""Run the contract or the bench against a throwaway instance of a chat build.

This is the example's ``scripts/contract/run_chat_contract.sh`` (``NO_DOCKER=1``): it starts
the build named by ``--version`` on a free port with a scratch database, waits for
``/status``, runs ``contract.py`` (with the database check: "messages persist") or
``bench.py`` against it, stops it, and exits with the tool's exit code. Its output and
artifacts are the tool's.

    python harness.py contract --artifact-dir ci/chat-contract [--db-path ci/contract.db]
    python harness.py bench --requests 300 --p95-target-ms 50

``--db-path`` keeps the instance's database at that path after the run (instead of a scratch
file that is removed), so a later check can query what the contract persisted.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent


def start(version: str, db: Path) -> tuple[subprocess.Popen[str], str]:
    """Start the service on a free port; return the process and its URL."""
    proc = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "chat_service.py"),
            "--port",
            "0",
            "--version",
            version,
            "--db",
            str(db),
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 20
    for line in proc.stderr:
        if "listening on " in line:
            url = line.split("listening on ", 1)[1].split()[0]
            break
        if time.monotonic() > deadline:
            break
    else:
        raise SystemExit(f"harness: the {version} build exited before listening")
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/status", timeout=1) as resp:
                if resp.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"harness: the {version} build did not answer {url}/status")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tool", choices=["contract", "bench"])
    parser.add_argument("--version", default="go", help="build label to start (default go)")
    parser.add_argument(
        "--db-path", type=Path, help="database file to use and keep (default: a scratch file)"
    )
    args, rest = parser.parse_known_args()
    with tempfile.TemporaryDirectory(prefix="chat-harness-") as scratch:
        db = args.db_path or Path(scratch) / "chat.db"
        db.parent.mkdir(parents=True, exist_ok=True)
        proc, url = start(args.version, db)
        try:
            cmd = [sys.executable, str(HERE / f"{args.tool}.py"), "--url", url, *rest]
            if args.tool == "contract":
                cmd += ["--db", str(db)]
            print(f"harness: {args.tool} against the {args.version} build at {url}", flush=True)
            return subprocess.call(cmd)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stderr is not None:
                proc.stderr.close()


if __name__ == "__main__":
    os.environ.setdefault("CHAT_WORK_MS", "5")
    sys.exit(main())
