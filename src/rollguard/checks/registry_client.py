"""A small client of the OCI distribution API (Docker Registry HTTP API v2).

Enough for rollguard's needs: look a tag up (``HEAD``, else ``GET``, of
``/v2/<repository>/manifests/<reference>``), read a manifest, push blobs and a manifest (the
tests push a small image this way) and *retag* (put an existing manifest under another tag,
the promotion of an image: no blob moves).

Authentication follows the registry's challenge, one retry per request:

- no credentials and no challenge: anonymous;
- ``401`` with ``WWW-Authenticate: Basic``: the request again with basic auth;
- ``401`` with ``WWW-Authenticate: Bearer realm=...,service=...,scope=...``: ``GET realm``
  with ``service`` and ``scope`` (basic auth when credentials are given) returns a token
  (``token`` or ``access_token``), which is kept per scope and sent as
  ``Authorization: Bearer``.

Secrets (the password, tokens) are never part of an exception message or of :meth:`describe`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import httpx

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_TYPES = (OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST)
"""What a lookup accepts, in the ``Accept`` header (a registry converts nothing then)."""

DOCKER_HUB = "registry-1.docker.io"
_CHALLENGE_PARAM = re.compile(r'(\w+)="([^"]*)"')


class RegistryError(Exception):
    """The registry could not be reached, refused us, or answered something unexpected."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ImageRef:
    """``registry/repository:tag`` or ``registry/repository@sha256:...``, taken apart."""

    registry: str
    repository: str
    reference: str  # a tag or a digest

    def __str__(self) -> str:
        sep = "@" if self.reference.startswith("sha256:") else ":"
        return f"{self.registry}/{self.repository}{sep}{self.reference}"


def parse_image(text: str) -> ImageRef:
    """Split an image reference the way Docker does.

    The first component is a registry when it has a ``.`` or a ``:`` or is ``localhost``;
    otherwise the image is on Docker Hub (``library/`` added to one-part names). No tag means
    ``latest``.

    >>> parse_image("127.0.0.1:5000/chat:go-3f9c2e1")
    ImageRef(registry='127.0.0.1:5000', repository='chat', reference='go-3f9c2e1')
    >>> parse_image("redis").repository
    'library/redis'
    """
    rest = text.strip()
    if not rest or any(c.isspace() for c in rest):
        raise ValueError(f"not an image reference: {text!r}")
    first, slash, remainder = rest.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        registry, rest = first, remainder
    else:
        registry = DOCKER_HUB
    name, at, digest = rest.partition("@")
    if at:
        reference = digest
    else:
        colon = name.rfind(":")
        if colon > name.rfind("/"):
            name, reference = name[:colon], name[colon + 1 :]
        else:
            reference = "latest"
    if registry == DOCKER_HUB and "/" not in name:
        name = f"library/{name}"
    if not name or not reference:
        raise ValueError(f"not an image reference: {text!r}")
    return ImageRef(registry=registry, repository=name, reference=reference)


@dataclass(frozen=True)
class Manifest:
    """A manifest found in the registry."""

    digest: str
    media_type: str
    size: int | None = None
    content: bytes | None = None  # only when the body was read (GET)


def digest_of(data: bytes) -> str:
    """The content digest of ``data``: ``sha256:<hex>``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def basic_auth(user: str, password: str) -> str:
    """The ``Authorization`` value of HTTP basic auth."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    """``Bearer realm="...",service="..."`` -> ``("bearer", {"realm": ..., ...})``."""
    scheme, _, params = header.strip().partition(" ")
    return scheme.lower(), dict(_CHALLENGE_PARAM.findall(params))


class RegistryClient:
    """Talks to one registry; use ``async with RegistryClient(...) as client``.

    ``transport`` replaces the network in tests (e.g. :class:`httpx.MockTransport`).
    """

    def __init__(
        self,
        registry: str,
        *,
        insecure: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 30.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.base_url = f"{'http' if insecure else 'https'}://{registry}"
        self._credentials = (username, password) if username is not None else None
        self._tokens: dict[str, str] = {}
        self.auth_used = "anonymous"  # "basic" or "bearer" once a challenge was answered
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # ------------------------------------------------------------------------ lookups

    async def find_manifest(self, repository: str, reference: str) -> Manifest | None:
        """The manifest under ``reference`` (a tag or digest), or None when there is none.

        ``HEAD`` first; ``GET`` when the registry does not allow ``HEAD`` or does not name
        the digest (then the digest is the sha256 of the body).
        """
        path = f"/v2/{repository}/manifests/{reference}"
        headers = {"Accept": ", ".join(MANIFEST_TYPES)}
        scope = f"repository:{repository}:pull"
        head = await self.request("HEAD", path, scope=scope, headers=headers)
        if head.status_code == 404:
            return None
        if head.status_code == 200 and head.headers.get("Docker-Content-Digest"):
            return Manifest(
                digest=head.headers["Docker-Content-Digest"],
                media_type=head.headers.get("Content-Type", ""),
                size=_int(head.headers.get("Content-Length")),
            )
        if head.status_code not in (200, 405, 501):
            raise _unexpected("HEAD", path, head)
        got = await self.request("GET", path, scope=scope, headers=headers)
        if got.status_code == 404:
            return None
        if got.status_code != 200:
            raise _unexpected("GET", path, got)
        return Manifest(
            digest=got.headers.get("Docker-Content-Digest") or digest_of(got.content),
            media_type=got.headers.get("Content-Type", ""),
            size=len(got.content),
            content=got.content,
        )

    async def get_manifest(self, repository: str, reference: str) -> Manifest:
        """The manifest with its body; :class:`RegistryError` (status 404) when missing."""
        path = f"/v2/{repository}/manifests/{reference}"
        headers = {"Accept": ", ".join(MANIFEST_TYPES)}
        got = await self.request(
            "GET", path, scope=f"repository:{repository}:pull", headers=headers
        )
        if got.status_code != 200:
            raise _unexpected("GET", path, got)
        return Manifest(
            digest=digest_of(got.content),
            media_type=got.headers.get("Content-Type", ""),
            size=len(got.content),
            content=got.content,
        )

    # ------------------------------------------------------------------------ pushes

    async def push_blob(self, repository: str, data: bytes) -> str:
        """Upload ``data`` as a blob (monolithic: POST then one PUT); returns its digest."""
        digest = digest_of(data)
        scope = f"repository:{repository}:pull,push"
        path = f"/v2/{repository}/blobs/uploads/"
        started = await self.request("POST", path, scope=scope)
        if started.status_code != 202 or "Location" not in started.headers:
            raise _unexpected("POST", path, started)
        location = httpx.URL(self.base_url).join(started.headers["Location"])
        target = location.copy_merge_params({"digest": digest})
        done = await self.request(
            "PUT",
            str(target),
            scope=scope,
            headers={"Content-Type": "application/octet-stream"},
            content=data,
        )
        if done.status_code != 201:
            raise _unexpected("PUT", location.path, done)
        return digest

    async def push_manifest(
        self, repository: str, reference: str, content: bytes, *, media_type: str
    ) -> str:
        """Put ``content`` under ``reference`` (a tag); returns the manifest's digest."""
        path = f"/v2/{repository}/manifests/{reference}"
        put = await self.request(
            "PUT",
            path,
            scope=f"repository:{repository}:pull,push",
            headers={"Content-Type": media_type},
            content=content,
        )
        if put.status_code != 201:
            raise _unexpected("PUT", path, put)
        return put.headers.get("Docker-Content-Digest") or digest_of(content)

    async def retag(self, repository: str, source: str, tag: str) -> str:
        """Point ``tag`` at the manifest of ``source`` (a tag or digest); returns its digest."""
        manifest = await self.get_manifest(repository, source)
        assert manifest.content is not None
        return await self.push_manifest(
            repository, tag, manifest.content, media_type=manifest.media_type
        )

    async def push_image(
        self, repository: str, tag: str, *, config: bytes, layers: list[bytes]
    ) -> str:
        """Push a whole (small) image: its blobs, then an OCI manifest naming them."""
        config_digest = await self.push_blob(repository, config)
        manifest: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
            "layers": [],
        }
        for layer in layers:
            digest = await self.push_blob(repository, layer)
            manifest["layers"].append(
                {"mediaType": OCI_LAYER, "digest": digest, "size": len(layer)}
            )
        body = json.dumps(manifest, separators=(",", ":")).encode()
        return await self.push_manifest(repository, tag, body, media_type=OCI_MANIFEST)

    # ------------------------------------------------------------------------ transport

    async def request(
        self,
        method: str,
        path: str,
        *,
        scope: str,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
    ) -> httpx.Response:
        """Send a request, answering one auth challenge; network errors are RegistryError."""
        url = path if "://" in path else self.base_url + path
        sent = dict(headers or {})
        if scope in self._tokens:
            sent["Authorization"] = f"Bearer {self._tokens[scope]}"
        response = await self._send(method, url, headers=sent, content=content)
        if response.status_code != 401:
            return response
        scheme, params = parse_challenge(response.headers.get("WWW-Authenticate", ""))
        if scheme == "bearer" and "realm" in params:
            token = await self._fetch_token(params, scope=scope)
            self._tokens[scope] = token
            sent["Authorization"] = f"Bearer {token}"
            self.auth_used = "bearer"
        elif scheme == "basic" and self._credentials is not None:
            sent.pop("Authorization", None)
            user, password = self._credentials
            sent["Authorization"] = basic_auth(user or "", password or "")
            self.auth_used = "basic"
        else:
            return response
        return await self._send(method, url, headers=sent, content=content)

    async def _fetch_token(self, challenge: dict[str, str], *, scope: str) -> str:
        params = {"service": challenge.get("service", "")}
        params["scope"] = challenge.get("scope") or scope
        auth = None
        if self._credentials is not None:
            auth = httpx.BasicAuth(self._credentials[0] or "", self._credentials[1] or "")
        realm = challenge["realm"]
        try:
            response = await self._http.get(realm, params=params, auth=auth)
        except httpx.HTTPError as exc:
            raise RegistryError(f"token service {realm}: {_cause(exc)}") from None
        if response.status_code != 200:
            raise RegistryError(
                f"token service {realm} answered {response.status_code}",
                status=response.status_code,
            )
        try:
            body = response.json()
            token = body.get("token") or body.get("access_token")
        except (ValueError, AttributeError):
            token = None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"token service {realm} returned no token")
        return token

    async def _send(
        self, method: str, url: str, *, headers: dict[str, str], content: bytes | None
    ) -> httpx.Response:
        try:
            return await self._http.request(method, url, headers=headers, content=content)
        except httpx.TimeoutException:
            raise RegistryError(f"{method} {_path(url)}: timed out") from None
        except httpx.HTTPError as exc:
            raise RegistryError(f"{method} {_path(url)}: {_cause(exc)}") from None


def _unexpected(method: str, path: str, response: httpx.Response) -> RegistryError:
    detail = ""
    try:
        errors = response.json().get("errors") or []
        detail = "; ".join(f"{e.get('code')}: {e.get('message')}" for e in errors)
    except (ValueError, AttributeError):
        pass
    text = f"{method} {path}: status {response.status_code}" + (f" ({detail})" if detail else "")
    return RegistryError(text, status=response.status_code)


def _path(url: str) -> str:
    return httpx.URL(url).path


def _int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _cause(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


__all__ = [
    "DOCKER_HUB",
    "DOCKER_LIST",
    "DOCKER_MANIFEST",
    "MANIFEST_TYPES",
    "OCI_CONFIG",
    "OCI_INDEX",
    "OCI_LAYER",
    "OCI_MANIFEST",
    "ImageRef",
    "Manifest",
    "RegistryClient",
    "RegistryError",
    "basic_auth",
    "digest_of",
    "parse_challenge",
    "parse_image",
]
