"""The judge registry: ``kind`` -> factory, built-ins registered like third-party plugins.

A trigger names its judge (``judge: sequential``) and gives its parameters; the engine builds
the judge with ``judges.get(kind)(**params)``. Third-party judges join through the
``rollguard.judges`` entry-point group (see :mod:`rollguard.plugin`); a judge is any callable
taking keyword parameters and returning an object that follows
:class:`rollguard.analysis.judges.base.Judge`.

>>> judges.kinds()[:3]
['mann_whitney', 'sequential', 'threshold']
>>> judges.get("threshold")(max=0.005).name
'threshold'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rollguard import plugin
from rollguard.analysis.judges import base, mann_whitney, sequential, threshold

JudgeFactory = Callable[..., base.Judge]

judges: plugin.Registry[JudgeFactory] = plugin.Registry("rollguard.judges")
judges.register("threshold", threshold.ThresholdJudge)
judges.register("mann_whitney", mann_whitney.MannWhitneyJudge)
judges.register("sequential", sequential.SequentialJudge)


def build(kind: str, params: dict[str, Any]) -> base.Judge:
    """The judge of ``kind`` with ``params``; ``UnknownKind`` lists the installed ones.

    Invalid parameters raise ``TypeError`` (unknown name) or ``ValueError`` (bad value).
    """
    return judges.get(kind)(**params)


__all__ = ["JudgeFactory", "build", "judges"]
