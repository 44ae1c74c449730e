"""How commands print: text for people, ``--output json`` for scripts, errors as exit codes."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from typing import Any

import typer
from rich.console import Console

from rollguard.engine.phases import ExitCode
from rollguard.errors import GateRefused, PlanError, RollguardError, StoreError

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


class Output(StrEnum):
    text = "text"
    json = "json"


def emit_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")
    sys.stdout.flush()


@contextmanager
def errors_to_exit(output: Output) -> Iterator[None]:
    """Turn rollguard's errors into a message and an exit code, never a traceback."""
    try:
        yield
    except PlanError as exc:
        if output == Output.json:
            emit_json(
                {
                    "error": "invalid plan",
                    "issues": [
                        {
                            "file": i.file,
                            "line": i.line,
                            "column": i.column,
                            "path": i.path,
                            "message": i.message,
                            "text": str(i),
                        }
                        for i in exc.issues
                    ],
                }
            )
        else:
            for issue in exc.issues:
                err_console.print(str(issue), highlight=False, markup=False)
            err_console.print(f"{len(exc.issues)} error(s) in the plan", style="red")
        raise typer.Exit(ExitCode.INVALID_INPUT) from None
    except (GateRefused, StoreError) as exc:
        _error(output, exc.message)
        raise typer.Exit(ExitCode.INVALID_INPUT) from None
    except RollguardError as exc:
        _error(output, exc.message)
        raise typer.Exit(ExitCode.INTERNAL_ERROR) from None
    except (typer.Exit, typer.Abort, KeyboardInterrupt, SystemExit):
        raise
    except Exception as exc:
        if os.environ.get("ROLLGUARD_DEBUG"):
            raise
        _error(
            output,
            f"internal error: {type(exc).__name__}: {exc} (set ROLLGUARD_DEBUG=1 for a traceback)",
        )
        raise typer.Exit(ExitCode.INTERNAL_ERROR) from None


def _error(output: Output, message: str) -> None:
    if output == Output.json:
        emit_json({"error": message})
    else:
        err_console.print(f"error: {message}", style="red", highlight=False, markup=False)
