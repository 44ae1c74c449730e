"""``python -m benchmarks.detection``: run the decision benchmark."""

from __future__ import annotations

import sys

from benchmarks.detection.run import main

sys.exit(main())
