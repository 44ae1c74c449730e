"""rollguard.metrics."""
