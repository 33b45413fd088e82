"""`mesh audit export`: asset-check history from ``audit.check_results`` as a CSV or Parquet extract."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mesh_assets.lib.audit.export import DateBasis, ExportFormat

if TYPE_CHECKING:
    from pyiceberg.table import Table

audit_app = typer.Typer(help="The auditor's view: asset-check history kept in Iceberg for years.",
                        no_args_is_help=True)


@audit_app.callback()
def audit() -> None:
    """The auditor's view: asset-check history kept in Iceberg for years (`mesh audit export`)."""
    # A callback keeps `export` a subcommand even while it is the group's only command.


def _day(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"expected a date YYYY-MM-DD, got {value!r}", param_hint=option) from None


def check_results_table() -> Table | None:
    """``audit.check_results`` in the catalog of ``MESH_ENV`` (``resources/environment.py`` chooses it),
    or ``None`` when the audit sensor has never written it."""
    from mesh_assets.lib.audit.tables import CHECK_RESULTS
    from resources.environment import resources_for

    catalog = resources_for()["iceberg"].process_config_and_initialize().catalog()
    if not catalog.table_exists(CHECK_RESULTS.identifier):
        return None
    return catalog.load_table(CHECK_RESULTS.identifier)


@audit_app.command("export")
def export(
    start: Annotated[str, typer.Option("--from", help="first business day, YYYY-MM-DD (included)")],
    end: Annotated[str, typer.Option("--to", help="last business day, YYYY-MM-DD (included)")],
    out: Annotated[Path, typer.Option("--out", help="file to write (replaced if it exists)")],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="csv or parquet")] = ExportFormat.csv,
    asset: Annotated[list[str] | None, typer.Option("--asset", help="asset key a/b/c (repeat; default: all)")] = None,
    basis: Annotated[DateBasis, typer.Option(
        "--by", help="business: the days the checks were about (partition); evaluated: the UTC days they ran")
    ] = DateBasis.business,
) -> None:
    """Write every asset-check evaluation about the business days --from..--to (a check on a day's partition,
    a composite-year or a run's range of days; a check whose partition names no date counts on the UTC day it
    ran) to --out, and print how many rows it holds. `--by evaluated` selects by when the checks ran instead.
    Evaluations outlive their assets: wiped assets and deleted runs are included."""
    from mesh_assets.lib.audit.export import read_check_results, write_extract

    first, last = _day(start, "--from"), _day(end, "--to")
    if last < first:
        raise typer.BadParameter(f"--to {last} is before --from {first}", param_hint="--to")
    table = check_results_table()
    if table is None:
        typer.echo("audit.check_results does not exist yet: audit_check_results_sensor has not recorded any "
                   "check evaluation", err=True)
        raise typer.Exit(1)
    rows = read_check_results(table, first, last, asset, basis)
    write_extract(rows, out, fmt)
    typer.echo(f"{rows.num_rows} check evaluations from {first} to {last} ({basis.value} days) written to {out} "
               f"({fmt.value})")
