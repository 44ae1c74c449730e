"""The decision benchmark of rollguard's judges (see README.md in this folder)."""
