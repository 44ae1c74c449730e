"""Incident sinks: where the report of a rollback goes besides the evidence folder.

::

    deliver(plan.incident.sinks, incident)        # concurrent, retried, never raises
      └─ notifiers.get(kind)(spec, env=..., transport=...)  -> Notifier
           ├─ webhook  POST {"event": "rollguard.incident", "incident": {...}}
           ├─ github   POST {api_url}/repos/{owner}/{repo}/issues (token from token_env)
           └─ slack    POST {"text": ..., "blocks": [...]} to an incoming webhook

This package depends only on the plan models, the error tree, the plugin registry and httpx:
the incident is a plain dict (built by :mod:`rollguard.evidence.incident`), so the sinks do
not know how it was made.
"""

from __future__ import annotations

from rollguard.notify.base import Notifier, NotifierFactory, SinkResult, SinkSpec
from rollguard.notify.deliver import deliver
from rollguard.notify.registry import notifiers

__all__ = ["Notifier", "NotifierFactory", "SinkResult", "SinkSpec", "deliver", "notifiers"]
