"""The ``image`` check against a real registry (Debian's ``docker-registry``) on 127.0.0.1.

Images are pushed over the registry API itself (blobs, then an OCI manifest) with
:class:`RegistryClient`, anonymously and through the token (bearer) flow.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from rollguard.checks.base import CheckContext, CheckResult
from rollguard.checks.image import ImageCheckRunner
from rollguard.checks.registry_client import (
    OCI_MANIFEST,
    ImageRef,
    RegistryClient,
    RegistryError,
    parse_image,
)
from rollguard.plan import model
from tests.conftest import free_port, require
from tests.registry_server import RegistryServer, TokenIssuer, registry_binary, start_registry

CONFIG = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers"}})
LAYER = b"\x1f\x8b\x08\x00" + b"chat-go-binary" * 64  # content only; never unpacked


async def check(ctx: CheckContext, **fields: Any) -> CheckResult:
    spec = model.ImageCheck.model_validate({"name": "image", "kind": "image", **fields})
    return await ImageCheckRunner().run(spec, ctx)


def evidence(ctx: CheckContext) -> dict[str, Any]:
    value = json.loads((ctx.evidence_dir / "image.json").read_text())
    assert isinstance(value, dict)
    return value


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[RegistryServer]:
    require(registry_binary() is not None, "docker-registry is not installed")
    server = start_registry(tmp_path / "registry", port=free_port())
    yield server
    server.stop()


async def push(server: RegistryServer, repository: str, tag: str, **auth: str) -> str:
    async with RegistryClient(server.host, insecure=True, **auth) as client:
        return await client.push_image(repository, tag, config=CONFIG.encode(), layers=[LAYER])


async def test_pushed_tag_passes_with_its_digest(
    ctx: CheckContext, registry: RegistryServer
) -> None:
    digest = await push(registry, "chat", "go-3f9c2e1")
    result = await check(ctx, image=f"{registry.host}/chat:go-3f9c2e1", insecure=True)
    assert result.status == "passed", (result, registry.log())
    assert result.summary == f"{registry.host}/chat:go-3f9c2e1: found, digest {digest}"
    record = evidence(ctx)
    assert record["digest"] == digest
    assert record["media_type"] == OCI_MANIFEST
    assert record["auth"] == "anonymous"
    assert record["url"] == registry.url

    pinned = await check(
        ctx, image=f"{registry.host}/chat:go-3f9c2e1", insecure=True, digest=digest
    )
    assert pinned.passed
    by_parts = await check(
        ctx, registry=registry.host, repository="chat", tag="go-3f9c2e1", insecure=True
    )
    assert by_parts.passed
    by_digest = await check(ctx, image=f"{registry.host}/chat@{digest}", insecure=True)
    assert by_digest.passed, by_digest


async def test_missing_tag_fails(ctx: CheckContext, registry: RegistryServer) -> None:
    await push(registry, "chat", "node-1.8.2")
    result = await check(ctx, image=f"{registry.host}/chat:go-0000000", insecure=True)
    assert result.status == "failed"
    assert result.summary == f"{registry.host}/chat:go-0000000: tag not found"
    assert evidence(ctx)["found"] is False
    unknown_repo = await check(ctx, image=f"{registry.host}/nothing:here", insecure=True)
    assert unknown_repo.status == "failed"


async def test_other_digest_fails(ctx: CheckContext, registry: RegistryServer) -> None:
    await push(registry, "chat", "go-3f9c2e1")
    wrong = "sha256:" + "0" * 64
    result = await check(ctx, image=f"{registry.host}/chat:go-3f9c2e1", insecure=True, digest=wrong)
    assert result.status == "failed"
    assert f"expected {wrong}" in result.summary


async def test_retag_points_a_new_tag_at_the_same_manifest(
    ctx: CheckContext, registry: RegistryServer
) -> None:
    digest = await push(registry, "team/chat", "go-3f9c2e1")
    async with RegistryClient(registry.host, insecure=True) as client:
        assert await client.retag("team/chat", "go-3f9c2e1", "stable") == digest
    result = await check(ctx, image=f"{registry.host}/team/chat:stable", insecure=True)
    assert result.passed
    assert evidence(ctx)["digest"] == digest


async def test_registry_down_is_an_error(ctx: CheckContext, registry: RegistryServer) -> None:
    registry.stop()
    result = await check(ctx, image=f"{registry.host}/chat:go-3f9c2e1", insecure=True, timeout=5)
    assert result.status == "error"
    assert "HEAD /v2/chat/manifests/go-3f9c2e1" in result.summary


# ---------------------------------------------------------------------------- token auth


@pytest.fixture
def token_registry(tmp_path: Path) -> Iterator[RegistryServer]:
    require(registry_binary() is not None, "docker-registry is not installed")
    pytest.importorskip("cryptography")
    folder = tmp_path / "token-registry"
    folder.mkdir()
    issuer = TokenIssuer(folder, users={"ci": "s3cret-pw"})
    server = start_registry(folder, port=free_port(), token=issuer)
    yield server
    server.stop()


async def test_bearer_flow_against_a_token_registry(
    ctx: CheckContext, token_registry: RegistryServer
) -> None:
    digest = await push(token_registry, "chat", "go-3f9c2e1", username="ci", password="s3cret-pw")
    result = await check(
        ctx,
        image=f"{token_registry.host}/chat:go-3f9c2e1",
        insecure=True,
        username="ci",
        password="s3cret-pw",
    )
    assert result.passed, (result, token_registry.log())
    record = evidence(ctx)
    assert record["auth"] == "bearer" and record["digest"] == digest
    assert "s3cret-pw" not in (ctx.evidence_dir / "image.json").read_text()
    assert token_registry.token is not None
    asked = token_registry.token.requests
    assert {
        "service": "rollguard-test-registry",
        "scope": ["repository:chat:pull"],
        "user": "ci",
    } in asked
    # the registry names the actions of a push scope in no fixed order
    pushes = [
        r for r in asked if r["scope"][0].startswith("repository:chat:") and "push" in r["scope"][0]
    ]
    assert pushes and all(
        set(r["scope"][0].rpartition(":")[2].split(",")) == {"pull", "push"} for r in pushes
    )


async def test_token_registry_refuses_anonymous_and_wrong_password(
    ctx: CheckContext, token_registry: RegistryServer
) -> None:
    await push(token_registry, "chat", "go-3f9c2e1", username="ci", password="s3cret-pw")
    anonymous = await check(ctx, image=f"{token_registry.host}/chat:go-3f9c2e1", insecure=True)
    assert anonymous.status == "error"
    assert "access denied" in anonymous.summary
    wrong = await check(
        ctx,
        image=f"{token_registry.host}/chat:go-3f9c2e1",
        insecure=True,
        username="ci",
        password="nope",
    )
    assert wrong.status == "error"
    assert "nope" not in wrong.summary


# ---------------------------------------------------------------------------- without a server


def _transport(handler: Any) -> httpx.MockTransport:
    return httpx.MockTransport(handler)


async def test_server_error_is_an_error(ctx: CheckContext) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, json={"errors": [{"code": "UNAVAILABLE", "message": "down"}]})

    spec = model.ImageCheck(name="image", kind="image", image="registry.example/chat:go-1")
    result = await ImageCheckRunner(transport=_transport(handler)).run(spec, ctx)
    assert result.status == "error"
    assert "registry error" in result.summary and "status 503" in result.summary
    assert evidence(ctx)["url"] == "https://registry.example"


async def test_head_not_allowed_falls_back_to_get(ctx: CheckContext) -> None:
    body = b'{"schemaVersion":2}'
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.method)
        if request.method == "HEAD":
            return httpx.Response(405)
        return httpx.Response(200, content=body, headers={"Content-Type": OCI_MANIFEST})

    spec = model.ImageCheck(name="image", kind="image", image="registry.example/chat:go-1")
    result = await ImageCheckRunner(transport=_transport(handler)).run(spec, ctx)
    assert result.passed, result
    assert seen == ["HEAD", "GET"]
    assert evidence(ctx)["digest"].startswith("sha256:")


async def test_registry_error_carries_no_secret() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with RegistryClient(
        "registry.example", username="u", password="pw-xyz", transport=_transport(handler)
    ) as client:
        with pytest.raises(RegistryError) as caught:
            await client.find_manifest("chat", "go-1")
    assert "pw-xyz" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "ref"),
    [
        ("127.0.0.1:5000/chat:go-3f9c2e1", ImageRef("127.0.0.1:5000", "chat", "go-3f9c2e1")),
        ("localhost/team/chat", ImageRef("localhost", "team/chat", "latest")),
        ("ghcr.io/org/chat@sha256:abc", ImageRef("ghcr.io", "org/chat", "sha256:abc")),
        ("chat:node-1", ImageRef("registry-1.docker.io", "library/chat", "node-1")),
        ("registry/chat:go-1", ImageRef("registry-1.docker.io", "registry/chat", "go-1")),
    ],
)
def test_parse_image(text: str, ref: ImageRef) -> None:
    assert parse_image(text) == ref
