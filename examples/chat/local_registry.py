"""A local OCI registry holding the chat images, as CI would have pushed them.

The runbook's preflight asks that the Go image tag is pushed to a registry and that the
rollback (Node) image is available. ``rollguard demo`` uses this module to start Debian's
``docker-registry`` (the CNCF distribution registry) on 127.0.0.1 with storage in a scratch
folder and to push two small images, ``chat:node-1.8.2`` and ``chat:go-3f9c2e1``.

    python local_registry.py --port 5000 --dir /tmp/registry   # runs until Ctrl-C
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path

from rollguard.checks.registry_client import RegistryClient

IMAGES = {"node-1.8.2": b"chat built with node 1.8.2", "go-3f9c2e1": b"chat built with go 3f9c2e1"}
REPOSITORY = "chat"


def binary() -> str | None:
    """The registry binary, when Debian's ``docker-registry`` is installed."""
    return shutil.which("docker-registry") or (
        "/usr/bin/docker-registry" if Path("/usr/bin/docker-registry").exists() else None
    )


def start(folder: Path, *, port: int, timeout: float = 20.0) -> subprocess.Popen[bytes]:
    """Start the registry on 127.0.0.1:``port``; returns once ``/v2/`` answers."""
    exe = binary()
    if exe is None:
        raise RuntimeError(
            "the demo needs Debian's docker-registry for its image checks: "
            "apt-get install docker-registry (make demo installs it when run as root)"
        )
    folder.mkdir(parents=True, exist_ok=True)
    config = {
        "version": 0.1,
        "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(folder / "data")}},
        "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
    }
    (folder / "config.yml").write_text(json.dumps(config))  # JSON is YAML
    log = (folder / "registry.log").open("wb")
    proc = subprocess.Popen(
        [exe, "serve", str(folder / "config.yml")],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    log.close()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"docker-registry exited with {proc.returncode}: see {folder}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    proc.wait()
    raise RuntimeError(f"docker-registry did not answer on 127.0.0.1:{port}")


async def push_chat_images(host: str) -> dict[str, str]:
    """Push both chat builds; returns tag -> digest."""
    out = {}
    async with RegistryClient(host, insecure=True) as client:
        for tag, layer in IMAGES.items():
            config = json.dumps({"architecture": "amd64", "os": "linux", "tag": tag}).encode()
            out[tag] = await client.push_image(REPOSITORY, tag, config=config, layers=[layer])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=5000)
    parser.add_argument("--dir", type=Path, required=True)
    args = parser.parse_args()
    proc = start(args.dir, port=args.port)
    try:
        for tag, digest in asyncio.run(push_chat_images(f"127.0.0.1:{args.port}")).items():
            print(f"pushed 127.0.0.1:{args.port}/{REPOSITORY}:{tag} {digest}", flush=True)
        proc.wait()
    except KeyboardInterrupt:
        pass
    finally:
        proc.terminate()
        proc.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
