"""Promotion and completion actions, each leaving evidence under ``promotion/`` or
``completion/`` in the rollout's folder.

- ``rewrite``: replace a reference in files (the image in a compose file, the binary in a
  runit script). Idempotent: a file that already holds the new text is left as it is. The
  diff and the original files are kept, so the change can be reviewed and reversed.
- ``command``: run a command through the ``command`` check (same evidence, same timeouts);
  exit code 0 is required.
- ``webhook``: POST JSON (the plan's body plus the rollout id) and require a 2xx answer.
"""

from __future__ import annotations

import difflib
import glob
import json
import shutil
from pathlib import Path
from typing import Any

import httpx

from rollguard.checks import registry_client
from rollguard.checks.base import CheckContext
from rollguard.checks.registry import run_check
from rollguard.errors import PermanentError
from rollguard.evidence.folder import RunFolder, slug
from rollguard.plan import gates, model


async def run_action(
    action: gates.RewriteAction | gates.RetagAction | gates.CommandAction | gates.WebhookAction,
    *,
    folder: RunFolder,
    base_dir: Path,
    group: str,
    index: int,
    rollout_id: str,
) -> dict[str, Any]:
    """Carry out one action; return its result (``ok``, ``detail``, ``evidence``)."""
    where = folder.path / group / f"{index + 1:02d}-{slug(action.name)}"
    where.mkdir(parents=True, exist_ok=True)
    if isinstance(action, gates.RewriteAction):
        return _rewrite(action, where=where, base_dir=base_dir, folder=folder)
    if isinstance(action, gates.RetagAction):
        return await _retag(action, where=where, folder=folder)
    if isinstance(action, gates.CommandAction):
        check = model.CommandCheck(
            kind="command",
            name=action.name,
            command=action.command,
            shell=action.shell,
            env=action.env,
            timeout=action.timeout,
        )
        result = await run_check(check, CheckContext(evidence_dir=where, base_dir=base_dir))
        return {
            "name": action.name,
            "kind": "command",
            "ok": result.passed,
            "detail": result.summary,
            "evidence": folder.relative(where),
        }
    return await _webhook(action, rollout_id=rollout_id, where=where, folder=folder)


def _rewrite(
    action: gates.RewriteAction, *, where: Path, base_dir: Path, folder: RunFolder
) -> dict[str, Any]:
    files = sorted(
        {
            Path(p)
            for pattern in action.files
            for p in glob.glob(str(base_dir / pattern), recursive=True)  # absolute stays absolute
            if Path(p).is_file()
        }
    )
    if not files:
        raise PermanentError(f"rewrite {action.name!r}: no file matches {action.files}")
    changed, already = [], []
    patch: list[str] = []
    for path in files:
        text = path.read_text()
        rel = str(path.relative_to(base_dir)) if path.is_relative_to(base_dir) else str(path)
        if action.replace in text:
            new = text.replace(action.replace, action.with_)
            patch += difflib.unified_diff(
                text.splitlines(keepends=True),
                new.splitlines(keepends=True),
                fromfile=f"a/{rel}",
                tofile=f"b/{rel}",
            )
            backup = where / "original" / rel.lstrip("/")
            backup.parent.mkdir(parents=True, exist_ok=True)
            if not backup.exists():  # a re-run keeps the first original
                shutil.copy2(path, backup)
            path.write_text(new)
            changed.append(rel)
        elif action.with_ in text:
            already.append(rel)
    if not changed and not already:
        raise PermanentError(
            f"rewrite {action.name!r}: no file references {action.replace!r} or {action.with_!r}"
        )
    (where / "diff.patch").write_text("".join(patch))
    detail = f"rewrote {', '.join(changed) or 'nothing'}"
    if already:
        detail += f"; already rewritten: {', '.join(already)}"
    return {
        "name": action.name,
        "kind": "rewrite",
        "ok": True,
        "detail": detail,
        "changed": changed,
        "evidence": folder.relative(where),
        "reversible": True,
    }


def _registry(action: gates.RetagAction) -> registry_client.RegistryClient:
    """A client for the registry of the action's image, with its credentials."""
    ref = registry_client.parse_image(action.image)
    return registry_client.RegistryClient(
        ref.registry,
        insecure=action.insecure,
        username=action.username,
        password=action.password,
    )


async def _retag(action: gates.RetagAction, *, where: Path, folder: RunFolder) -> dict[str, Any]:
    ref = registry_client.parse_image(action.image)
    try:
        async with _registry(action) as client:
            before = await client.find_manifest(ref.repository, action.tag)
            digest = await client.retag(ref.repository, ref.reference, action.tag)
    except registry_client.RegistryError as exc:
        raise PermanentError(f"retag {action.name!r}: {exc}") from exc
    record = {
        "image": action.image,
        "tag": f"{ref.registry}/{ref.repository}:{action.tag}",
        "digest": digest,
        "previous_digest": before.digest if before else None,  # what undoing restores
    }
    (where / "retag.json").write_text(json.dumps(record, indent=2) + "\n")
    return {
        "name": action.name,
        "kind": "retag",
        "ok": True,
        "detail": f"{record['tag']} -> {digest}",
        "evidence": folder.relative(where),
        "reversible": before is not None,
        **record,
    }


async def _webhook(
    action: gates.WebhookAction, *, rollout_id: str, where: Path, folder: RunFolder
) -> dict[str, Any]:
    body = {**action.json_body, "rollout": rollout_id}
    try:
        async with httpx.AsyncClient(timeout=30) as client:
            resp = await client.post(action.url, json=body, headers=action.headers)
    except httpx.HTTPError as exc:
        raise PermanentError(f"webhook {action.name!r}: {type(exc).__name__}: {exc}") from exc
    (where / "response.txt").write_text(f"{resp.status_code}\n{resp.text[:10000]}")
    ok = 200 <= resp.status_code < 300
    return {
        "name": action.name,
        "kind": "webhook",
        "ok": ok,
        "detail": f"POST {action.url}: {resp.status_code}",
        "evidence": folder.relative(where),
    }


async def undo_action(
    action: gates.RewriteAction | gates.RetagAction | gates.CommandAction | gates.WebhookAction,
    result: dict[str, Any],
    *,
    folder: RunFolder,
    base_dir: Path,
) -> dict[str, Any]:
    """Reverse one promotion action from what it recorded; says so when it cannot."""
    name = action.name
    if not result.get("ok"):
        return {"name": name, "ok": True, "detail": "nothing to undo: it did not succeed"}
    if isinstance(action, gates.RewriteAction):
        restored = []
        for rel in result.get("changed", []):
            target = Path(rel) if Path(rel).is_absolute() else base_dir / rel
            backup = folder.path / result["evidence"] / "original" / rel.lstrip("/")
            if backup.exists() and action.with_ in target.read_text():
                shutil.copy2(backup, target)
                restored.append(rel)
        return {"name": name, "ok": True, "detail": f"restored {', '.join(restored) or 'nothing'}"}
    if isinstance(action, gates.RetagAction):
        previous = result.get("previous_digest")
        if not previous:
            return {
                "name": name,
                "ok": False,
                "detail": f"{result.get('tag')} had no previous image: left as it is",
            }
        ref = registry_client.parse_image(action.image)
        try:
            async with _registry(action) as client:
                await client.retag(ref.repository, previous, action.tag)
        except registry_client.RegistryError as exc:
            return {"name": name, "ok": False, "detail": f"cannot restore the tag: {exc}"}
        return {"name": name, "ok": True, "detail": f"{result.get('tag')} -> {previous} again"}
    if isinstance(action, gates.CommandAction) and action.undo:
        where = folder.path / "promotion-undo" / slug(name)
        where.mkdir(parents=True, exist_ok=True)
        check = model.CommandCheck(
            kind="command",
            name=f"undo {name}",
            command=action.undo,
            env=action.env,
            timeout=action.timeout,
        )
        outcome = await run_check(check, CheckContext(evidence_dir=where, base_dir=base_dir))
        return {"name": name, "ok": outcome.passed, "detail": outcome.summary}
    return {"name": name, "ok": False, "detail": "not reversible: no undo given"}
