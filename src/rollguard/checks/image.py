"""The ``image`` check: is this image tag in the registry, and what digest does it name?

"Image tag pushed to a registry; rollback image available": the check asks the registry
(OCI distribution API, see :mod:`rollguard.checks.registry_client`) for the manifest of the
tag, accepting OCI indexes and manifests and Docker v2 manifest lists and manifests.

Verdicts:

- ``passed``: the registry answered 200; the digest (``Docker-Content-Digest``, else the
  sha256 of the manifest) is recorded, and must equal ``digest`` when the plan gives one;
- ``failed``: 404 (tag not found), or the tag names another digest than ``digest``;
- ``error``: the registry is unreachable, slow past ``timeout``, answers 5xx, or refuses us
  (401/403 after answering its challenge): nothing is known about the tag then.

Evidence ``image.json``: the reference, the registry's base URL, the auth used (anonymous,
basic or bearer; never the password or a token), the digest, media type and size.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from rollguard.checks import records
from rollguard.checks.base import CheckContext, CheckResult, CheckStatus
from rollguard.checks.registry_client import ImageRef, RegistryClient, RegistryError, parse_image
from rollguard.durations import format_duration
from rollguard.plan import model


def image_ref(spec: model.ImageCheck) -> ImageRef:
    """The reference a spec names (``image``, or ``registry`` + ``repository`` + ``tag``).

    >>> spec = model.ImageCheck(name="n", kind="image", image="127.0.0.1:5000/chat:go-1")
    >>> str(image_ref(spec))
    '127.0.0.1:5000/chat:go-1'
    """
    if spec.image is not None:
        return parse_image(spec.image)
    assert spec.registry and spec.repository and spec.tag  # the model guarantees it
    return ImageRef(registry=spec.registry, repository=spec.repository, reference=spec.tag)


class ImageCheckRunner:
    """Runs ``kind: image`` checks (see the module docstring for the exact behaviour).

    ``transport`` replaces the network in tests.
    """

    def __init__(self, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._transport = transport

    async def run(self, spec: model.ImageCheck, ctx: CheckContext) -> CheckResult:
        """Look the image of ``spec`` up and report; evidence in ``ctx.evidence_dir``."""
        started = time.monotonic()
        ctx.evidence_dir.mkdir(parents=True, exist_ok=True)
        record: dict[str, Any] = {"image": spec.image}

        def finish(status: CheckStatus, summary: str, details: list[str]) -> CheckResult:
            return records.finish(
                spec,
                record,
                path=ctx.evidence_dir / "image.json",
                started=started,
                status=status,
                summary=summary,
                details=details,
            )

        try:
            ref = image_ref(spec)
        except ValueError as exc:
            record["error"] = str(exc)
            return finish("error", str(exc), [])
        record.update(
            image=str(ref),
            registry=ref.registry,
            repository=ref.repository,
            reference=ref.reference,
        )
        client = RegistryClient(
            ref.registry,
            insecure=spec.insecure,
            username=spec.username,
            password=spec.password,
            timeout=spec.timeout,
            transport=self._transport,
        )
        record["url"] = client.base_url
        try:
            async with client, asyncio.timeout(spec.timeout):
                manifest = await client.find_manifest(ref.repository, ref.reference)
        except TimeoutError:
            record["error"] = f"timed out after {format_duration(spec.timeout)}"
            return finish("error", f"{ref}: {record['error']}", [])
        except RegistryError as exc:
            record["error"] = str(exc)
            record["http_status"] = exc.status
            return finish("error", f"{ref}: {_why(exc)}", [])
        finally:
            record["auth"] = client.auth_used

        if manifest is None:
            record["found"] = False
            return finish("failed", f"{ref}: tag not found", [f"FAILED: {ref} exists (404)"])
        record.update(
            found=True,
            digest=manifest.digest,
            media_type=manifest.media_type,
            size=manifest.size,
        )
        details = [f"ok: {ref} exists ({manifest.media_type or 'unknown media type'})"]
        if spec.digest is not None:
            record["expected_digest"] = spec.digest
            if manifest.digest != spec.digest:
                details.append(f"FAILED: digest is {manifest.digest}, expected {spec.digest}")
                return finish(
                    "failed", f"{ref}: digest {manifest.digest}, expected {spec.digest}", details
                )
            details.append(f"ok: digest {manifest.digest}")
        return finish("passed", f"{ref}: found, digest {manifest.digest}", details)


def _why(exc: RegistryError) -> str:
    if exc.status in (401, 403):
        return f"access denied ({exc})"
    if exc.status is not None and exc.status >= 500:
        return f"registry error ({exc})"
    return str(exc)


__all__ = ["ImageCheckRunner", "image_ref"]
