"""rollguard.analysis."""
