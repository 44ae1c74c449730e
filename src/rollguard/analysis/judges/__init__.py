"""Judges: statistical rules that decide, interval by interval, if a candidate is worse.

- :mod:`~rollguard.analysis.judges.base`: the interface (``Judge``, ``IntervalData``,
  ``JudgeVerdict``) and the invariants every judge keeps;
- :mod:`~rollguard.analysis.judges.threshold`: fixed and baseline-relative bounds with
  Argo-style failure and error counters;
- :mod:`~rollguard.analysis.judges.mann_whitney`: Kayenta-style rank test and periodic report;
- :mod:`~rollguard.analysis.judges.sequential`: anytime-valid count tests on errors and slow
  requests (safe to check at every interval);
- :mod:`~rollguard.analysis.judges.registry`: ``kind`` -> judge, extensible by entry points.
"""

from __future__ import annotations

from rollguard.analysis.judges.base import (
    IntervalData,
    Judge,
    JudgeVerdict,
    Measurement,
    Status,
    VersionInterval,
    worst,
)
from rollguard.analysis.judges.mann_whitney import MannWhitneyJudge, report
from rollguard.analysis.judges.registry import build, judges
from rollguard.analysis.judges.sequential import SequentialJudge
from rollguard.analysis.judges.threshold import ThresholdJudge

__all__ = [
    "IntervalData",
    "Judge",
    "JudgeVerdict",
    "MannWhitneyJudge",
    "Measurement",
    "SequentialJudge",
    "Status",
    "ThresholdJudge",
    "VersionInterval",
    "build",
    "judges",
    "report",
    "worst",
]
