"""The `mesh` command's error boundary: one line per error and a non-zero exit, the traceback with ``--debug``.

Every subcommand (`mesh gips`, `mesh audit`, `mesh kafka`, ...) is mounted on one Typer app of this class,
so one boundary covers them all. A user's mistake (``UserError``, a ``dagster.Failure`` or a missing file)
prints its sentence and exits 2; anything else is a crash: one line naming the exception, exit 1. Usage
errors stay with Click (its usage line and message, exit 2).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import typer

#: Exit status of a user's mistake (as Click's usage errors) and of a crash.
USER_ERROR_EXIT, CRASH_EXIT = 2, 1
DEBUG_ENV = "MESH_DEBUG"


def is_user_error(error: BaseException) -> bool:
    """Whether ``error`` is the user's to fix (a bad request or input), not a defect."""
    from mesh_assets.lib.user_errors import UserError

    if isinstance(error, (UserError, FileNotFoundError, NotADirectoryError)):
        return True
    return type(error).__name__ == "Failure" and type(error).__module__.startswith("dagster")


def one_line(error: BaseException) -> str:
    """The error as one line: a Dagster Failure's description, else the message, whitespace collapsed."""
    text = getattr(error, "description", None) if type(error).__name__ == "Failure" else None
    text = " ".join(str(text or error).split()) or type(error).__name__
    return text if is_user_error(error) else f"{type(error).__name__}: {text}"


class ErrorBoundaryTyper(typer.Typer):
    """A Typer app whose errors print as one line (``--debug`` or MESH_DEBUG=1: the full traceback)."""

    debug: bool = False

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().__call__(*args, **kwargs)
        except Exception as error:  # the boundary: every subcommand's error ends here
            if self.debug or os.environ.get(DEBUG_ENV) == "1":
                raise
            from rich.console import Console

            user = is_user_error(error)
            hint = "" if user else " (a defect: rerun with --debug for the traceback)"
            Console(stderr=True, soft_wrap=True).print(f"[red]error:[/] {one_line(error)}{hint}", markup=True,
                                                       highlight=False)
            sys.exit(USER_ERROR_EXIT if user else CRASH_EXIT)


def debug_option(app: ErrorBoundaryTyper) -> Any:
    """The top-level ``--debug`` flag of ``app``, as a Typer callback."""

    def callback(debug: bool = typer.Option(False, "--debug", help="show the full traceback of an error")) -> None:
        app.debug = debug

    return callback
