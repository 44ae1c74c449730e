"""rollguard: execute a rollout runbook as code.

A plan (one YAML file) is run as a durable, resumable rollout: preflight checks, canary steps
that move traffic to the candidate, metric triggers that roll back on their own, post-rollout
validation and the evidence of every step. See DESIGN notes in ``docs/``.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
