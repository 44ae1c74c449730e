"""The plan: a validated, immutable description of one rollout (models, loader, templates)."""

from __future__ import annotations
