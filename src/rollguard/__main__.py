"""``python -m rollguard`` runs the CLI."""

from __future__ import annotations

from rollguard.cli.main import main

if __name__ == "__main__":
    main()
