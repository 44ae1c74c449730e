"""Analysis: pure functions that turn measurements into verdicts (no I/O)."""
