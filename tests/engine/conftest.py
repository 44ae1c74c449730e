from __future__ import annotations

import pytest

from tests.engine.eventlog import Log


@pytest.fixture
def log() -> Log:
    return Log()
