"""The ``webhook`` sink: POST the whole incident as JSON to any URL.

The request body is ``{"event": "rollguard.incident", "incident": {...}}`` where the
incident is the same document as ``incident.json`` in the evidence folder, so a receiver can
open a ticket, page someone or archive it without reading the Markdown. Any 2xx is a
delivery; the URL and the header values are treated as secrets (they often hold a token) and
never appear in a result, which names only the receiving host.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from rollguard.notify import base
from rollguard.plan import model

EVENT = "rollguard.incident"


def payload(incident: dict[str, Any]) -> dict[str, Any]:
    """The JSON body sent to the webhook.

    >>> payload({"rollout_id": "r1"})
    {'event': 'rollguard.incident', 'incident': {'rollout_id': 'r1'}}
    """
    return {"event": EVENT, "incident": incident}


class WebhookNotifier:
    """Sends incidents to one webhook."""

    def __init__(
        self,
        spec: model.WebhookSink,
        *,
        env: Mapping[str, str],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.spec = spec
        self.name = base.label(spec)
        self._transport = transport
        self._scrub = base.Scrubber([spec.url, *spec.headers.values()])

    async def send(self, incident: dict[str, Any]) -> base.SinkResult:
        """POST the incident once; any 2xx is a delivery."""
        host = base.host_of(self.spec.url)
        response = await base.post_attempt(
            self.name,
            self.spec.url,
            payload=payload(incident),
            headers=self.spec.headers,
            timeout=self.spec.timeout,
            transport=self._transport,
            scrub=self._scrub,
            refused=f"webhook at {host} refused",
        )
        if isinstance(response, base.SinkResult):
            return response
        return base.SinkResult(
            sink=self.name,
            ok=True,
            status=response.status_code,
            detail=f"delivered to {host}",
        )


__all__ = ["EVENT", "WebhookNotifier", "payload"]
