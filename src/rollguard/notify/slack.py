"""The ``slack`` sink: a short message through a Slack incoming webhook.

Slack gets the essentials, not the report: ``text`` is the incident's one-line summary (what
notifications and clients without blocks show) and ``blocks`` lay out the title, why the
rollout rolled back, the versions and where the evidence is. People follow the evidence path
(or the GitHub issue, when that sink is configured too) for the rest.

An incoming webhook answers ``200 ok`` as plain text; anything else is a failure whose body
Slack explains (``invalid_payload``, ``no_service``, ...). The webhook URL is a secret: it is
never put in a result.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from rollguard.notify import base
from rollguard.plan import model

MAX_HEADER = 150  # Slack's limit for a header block's text
MAX_SECTION = 2900  # under Slack's 3,000 characters per section text


def escape(text: str) -> str:
    """Text safe inside Slack ``mrkdwn`` (``&``, ``<`` and ``>`` are control characters).

    >>> escape("p95 > 2x <baseline> & more")
    'p95 &gt; 2x &lt;baseline&gt; &amp; more'
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def message(incident: dict[str, Any]) -> dict[str, Any]:
    """The JSON body posted to the incoming webhook.

    >>> message({"title": "Rollback", "summary": "rolled back"})["text"]
    'rolled back'
    """
    title = str(incident.get("title") or "rollguard incident")
    summary = str(incident.get("summary") or title)
    reason = str((incident.get("reason") or {}).get("text") or "unknown")
    stable = incident.get("stable") or {}
    candidate = incident.get("candidate") or {}
    fields = [
        ("Rollout", f"`{incident.get('rollout_id', '?')}`"),
        ("Service", str(incident.get("service") or incident.get("plan_name") or "-")),
        ("Candidate", f"`{candidate.get('version', '?')}`"),
        ("Back on", f"`{stable.get('version', '?')}`"),
        ("Outcome", str(incident.get("outcome") or "-")),
        ("Rollback verification", str((incident.get("verification") or {}).get("text") or "-")),
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _cut(title, MAX_HEADER)}},
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": _cut(f"*Why:* {escape(reason)}", MAX_SECTION)},
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": _cut(f"*{name}*\n{escape(value)}", 1900)}
                for name, value in fields
            ],
        },
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": _cut(
                        f"Evidence: `{escape(str(incident.get('run_dir', '')))}` "
                        "(`incident.md`, `incident.json`)",
                        MAX_SECTION,
                    ),
                }
            ],
        },
    ]
    return {"text": _cut(summary, MAX_SECTION), "blocks": blocks}


class SlackNotifier:
    """Posts incidents to one Slack incoming webhook."""

    def __init__(
        self,
        spec: model.SlackSink,
        *,
        env: Mapping[str, str],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.spec = spec
        self.name = base.label(spec)
        self._transport = transport
        self._scrub = base.Scrubber([spec.url])

    async def send(self, incident: dict[str, Any]) -> base.SinkResult:
        """Post the message once; ``200 ok`` is a delivery."""
        response = await base.post_attempt(
            self.name,
            self.spec.url,
            payload=message(incident),
            headers={},
            timeout=self.spec.timeout,
            transport=self._transport,
            scrub=self._scrub,
            refused="Slack refused the message",
            accepted=lambda answer: answer.is_success and answer.text.strip() == "ok",
        )
        if isinstance(response, base.SinkResult):
            return response
        return base.SinkResult(
            sink=self.name, ok=True, status=response.status_code, detail="posted to Slack"
        )


__all__ = ["SlackNotifier", "escape", "message"]
