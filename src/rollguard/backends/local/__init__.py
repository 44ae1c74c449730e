"""rollguard.backends.local."""
