"""rollguard.store."""
