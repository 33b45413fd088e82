"""`mesh` prints one line per error and exits non-zero; `--debug` shows the traceback (one boundary for all)."""

import subprocess
import sys
from pathlib import Path

import pytest

from mesh_assets.lib.user_errors import UserError
from mesh_dev.cli_errors import CRASH_EXIT, USER_ERROR_EXIT, ErrorBoundaryTyper, debug_option

ROOT = Path(__file__).resolve().parents[2]


def boundary_app() -> ErrorBoundaryTyper:
    app = ErrorBoundaryTyper(pretty_exceptions_enable=False)
    app.callback()(debug_option(app))
    sub = ErrorBoundaryTyper()
    app.add_typer(sub, name="gips")

    @sub.command("report")
    def report(composite: str = "COMP-99") -> None:
        raise UserError(f"Composite {composite} is not one of the firm's composites, so there is no GIPS year 2026 "
                        "for it.")

    @app.command("crash")
    def crash() -> None:
        raise RuntimeError("boom\nsecond line")

    return app


def run(app: ErrorBoundaryTyper, args: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_info:
        app(args=args, prog_name="mesh")
    return exit_info.value.code


def test_a_subcommand_user_error_is_one_line_on_stderr_and_exit_2(capsys):
    code = run(boundary_app(), ["gips", "report", "--composite", "COMP-42"])
    out, err = capsys.readouterr()
    assert code == USER_ERROR_EXIT
    assert out == ""
    assert err.strip().splitlines() == [
        "error: Composite COMP-42 is not one of the firm's composites, so there is no GIPS year 2026 for it."]


def test_a_crash_is_one_line_naming_the_exception_and_exit_1(capsys):
    code = run(boundary_app(), ["crash"])
    err = capsys.readouterr().err
    assert code == CRASH_EXIT
    assert len(err.strip().splitlines()) == 1
    assert "RuntimeError: boom second line" in err and "--debug" in err


def test_debug_shows_the_traceback():
    app = boundary_app()
    with pytest.raises(UserError, match="COMP-99"):
        app(args=["--debug", "gips", "report"], prog_name="mesh")


def test_the_installed_mesh_command_prints_one_line_for_a_bad_scale(tmp_path):
    result = subprocess.run([sys.executable, "-m", "mesh_dev.cli", "generate", "--scale", "huge", "--out",
                             str(tmp_path / "firm")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == USER_ERROR_EXIT
    assert result.stderr.strip().splitlines() == [
        "error: unknown firm scale 'huge'; choose one of small, medium, large"]
    assert "Traceback" not in result.stdout + result.stderr
    debug = subprocess.run([sys.executable, "-m", "mesh_dev.cli", "--debug", "generate", "--scale", "huge",
                            "--out", str(tmp_path / "firm")], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert debug.returncode != 0 and "Traceback" in debug.stderr and "UserError" in debug.stderr


def test_typer_is_the_boundary_class_of_every_mounted_subcommand():
    from mesh_dev.cli import app

    assert isinstance(app, ErrorBoundaryTyper)
    assert {g.name for g in app.registered_groups} >= {"gips", "audit", "kafka", "salesforce", "calendar"}
