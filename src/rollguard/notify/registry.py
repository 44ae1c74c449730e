"""The registry of incident sinks, keyed by the ``kind:`` of ``incident.sinks[]``.

The built-in sinks are registered here in code and also declared as entry points of the
group ``rollguard.notifiers`` (``pyproject.toml``), the way a third-party package adds its
own::

    [project.entry-points."rollguard.notifiers"]
    pagerduty = "my_package.pagerduty:PagerDutyNotifier"

An entry is a :class:`~rollguard.notify.base.NotifierFactory`: called with the sink's spec
(templates filled in), ``env=`` and ``transport=``, it returns a
:class:`~rollguard.notify.base.Notifier`.
"""

from __future__ import annotations

from rollguard.notify import base, github, slack, webhook
from rollguard.plugin import Registry

notifiers: Registry[base.NotifierFactory] = Registry("rollguard.notifiers")
notifiers.register("webhook", webhook.WebhookNotifier)
notifiers.register("github", github.GithubNotifier)
notifiers.register("slack", slack.SlackNotifier)

__all__ = ["notifiers"]
