"""The ``github`` sink: open an issue whose body is the incident report.

One REST call, ``POST {api_url}/repos/{owner}/{repo}/issues``, with the headers GitHub
documents for its versioned API (``Accept: application/vnd.github+json``,
``X-GitHub-Api-Version: 2022-11-28``) and ``Authorization: Bearer <token>``. The token is read
from the environment variable the plan names (``token_env``, default ``GITHUB_TOKEN``) when
the incident is sent, so it lives neither in the plan nor in evidence; a fine-grained token
needs "Issues: write" on the repository. A missing variable is a failed result that says which
variable to set, and is not retried.

GitHub answers 201 with the new issue; its ``html_url`` becomes the result's ``url`` (the
runner records it, so the evidence links to the ticket). A body longer than GitHub accepts is
cut, with a pointer to ``incident.md`` in the evidence folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from rollguard.notify import base
from rollguard.plan import model

API_VERSION = "2022-11-28"
MAX_BODY = 65_000  # GitHub refuses issue bodies over 65,536 characters


def issue(incident: dict[str, Any], spec: model.GithubSink) -> dict[str, Any]:
    """The JSON body of the create-issue request.

    >>> spec = model.GithubSink(kind="github", repo="acme/chat", labels=["incident"])
    >>> issue({"title": "Rollback", "markdown": "# Rollback"}, spec)["labels"]
    ['incident']
    """
    body = str(incident.get("markdown") or "")
    if len(body) > MAX_BODY:
        note = (
            "\n\n_The report is longer than a GitHub issue allows; the whole of it is "
            f"`incident.md` in the evidence folder `{incident.get('run_dir', '')}`._\n"
        )
        body = body[: MAX_BODY - len(note)] + note
    out: dict[str, Any] = {
        "title": str(incident.get("title") or "rollguard incident"),
        "body": body,
    }
    if spec.labels:
        out["labels"] = list(spec.labels)
    if spec.assignees:
        out["assignees"] = list(spec.assignees)
    return out


class GithubNotifier:
    """Opens a GitHub issue per incident."""

    def __init__(
        self,
        spec: model.GithubSink,
        *,
        env: Mapping[str, str],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.spec = spec
        self.name = base.label(spec)
        self._token = env.get(spec.token_env) or None
        self._transport = transport
        self._scrub = base.Scrubber([self._token])

    @property
    def endpoint(self) -> str:
        return f"{self.spec.api_url.rstrip('/')}/repos/{self.spec.repo}/issues"

    async def send(self, incident: dict[str, Any]) -> base.SinkResult:
        """Create the issue once; 201 is a delivery."""
        if self._token is None:
            return base.SinkResult(
                sink=self.name,
                ok=False,
                detail=f"environment variable {self.spec.token_env} is not set: it must hold "
                f"a GitHub token allowed to create issues in {self.spec.repo}",
            )
        headers = {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
        }
        response = await base.post_attempt(
            self.name,
            self.endpoint,
            payload=issue(incident, self.spec),
            headers=headers,
            timeout=self.spec.timeout,
            transport=self._transport,
            scrub=self._scrub,
            refused=f"GitHub refused the issue in {self.spec.repo}",
        )
        if isinstance(response, base.SinkResult):
            return response
        try:
            created = response.json()
        except ValueError:
            created = {}
        html_url = created.get("html_url") if isinstance(created, dict) else None
        number = created.get("number") if isinstance(created, dict) else None
        return base.SinkResult(
            sink=self.name,
            ok=True,
            status=response.status_code,
            detail=f"opened issue #{number} in {self.spec.repo}"
            if number is not None
            else f"opened an issue in {self.spec.repo}",
            url=str(html_url) if html_url else None,
        )


__all__ = ["API_VERSION", "GithubNotifier", "issue"]
