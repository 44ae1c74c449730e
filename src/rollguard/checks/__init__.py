"""rollguard.checks."""
