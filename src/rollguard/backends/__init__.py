"""rollguard.backends."""
