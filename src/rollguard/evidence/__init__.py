"""rollguard.evidence."""
