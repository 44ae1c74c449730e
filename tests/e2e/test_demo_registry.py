"""The registry ``rollguard demo`` starts for the example plan's image checks and retag."""

from __future__ import annotations

import os
from pathlib import Path

import httpx
import pytest

from rollguard.cli.demo import demo_registry
from tests.e2e.harness import EXAMPLE, require_registry

pytestmark = pytest.mark.e2e


def _tags(host: str) -> dict[str, int]:
    accept = "application/vnd.oci.image.manifest.v1+json"
    return {
        tag: httpx.head(
            f"http://{host}/v2/chat/manifests/{tag}", headers={"Accept": accept}, timeout=5
        ).status_code
        for tag in ("node-1.8.2", "go-3f9c2e1")
    }


def _answers(host: str) -> bool:
    try:
        httpx.get(f"http://{host}/v2/", timeout=2)
    except httpx.TransportError:
        return False
    return True


def test_the_demo_registry_holds_both_images_and_is_gone_afterwards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_registry()
    monkeypatch.delenv("CHAT_REGISTRY", raising=False)
    with demo_registry(EXAMPLE, tmp_path) as host:
        assert host is not None and os.environ["CHAT_REGISTRY"] == host
        assert _tags(host) == {"node-1.8.2": 200, "go-3f9c2e1": 200}
        assert list(tmp_path.glob("registry-*"))
    assert "CHAT_REGISTRY" not in os.environ
    assert not _answers(host)
    assert not list(tmp_path.glob("registry-*"))


def test_an_error_during_the_demo_still_stops_the_registry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    require_registry()
    monkeypatch.delenv("CHAT_REGISTRY", raising=False)
    seen: list[str] = []
    with pytest.raises(KeyboardInterrupt), demo_registry(EXAMPLE, tmp_path) as host:
        assert host is not None
        seen.append(host)
        raise KeyboardInterrupt
    assert not _answers(seen[0])
    assert not list(tmp_path.glob("registry-*"))


def test_a_registry_named_by_chat_registry_is_used_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CHAT_REGISTRY", "registry.example.com:5000")
    with demo_registry(EXAMPLE, tmp_path) as host:
        assert host is None
        assert os.environ["CHAT_REGISTRY"] == "registry.example.com:5000"
    assert not list(tmp_path.iterdir())
