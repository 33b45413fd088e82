"""`mesh gips report`: materialize a composite-year's GIPS assets and print where its report is."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

gips_app = typer.Typer(help="GIPS composite reports (2020 GIPS Standards for Firms).", no_args_is_help=True)
console = Console()


def all_composites(warehouse) -> list[str]:
    """Every composite id in silver.composites."""
    table = warehouse.query("select composite_id from silver.composites order by composite_id")
    return [str(c) for c in table.column(0).to_pylist()]


def _latest_year(warehouse) -> int:
    table = warehouse.query("select max(as_of_date) from gold.daily_returns")
    latest = table.column(0)[0].as_py()
    if latest is None:
        raise typer.BadParameter("gold.daily_returns is empty: run the end-of-day batch first (make demo)")
    return latest.year


@gips_app.command("report")
def report(
    composite: Annotated[list[str] | None, typer.Option(help="composite id (repeat; default: every composite)")] = None,
    year: Annotated[int | None, typer.Option(help="report year (default: the latest year with daily returns)")] = None,
) -> None:
    """Materialize the GIPS assets of each composite for every year from its inception to YEAR, in order
    (runs recorded in the Dagster instance of DAGSTER_HOME), and print the report files."""
    from dagster import DagsterInstance

    from mesh_assets.definitions import build_definitions
    from mesh_dev.gips_runs import run_gips_report

    os.environ.setdefault("DAGSTER_HOME", str(Path.cwd()))
    defs = build_definitions()
    warehouse = defs.resources["warehouse"]
    composites = composite or all_composites(warehouse)
    year = year or _latest_year(warehouse)
    failed = False
    with DagsterInstance.get() as instance:
        for composite_id in composites:
            results = run_gips_report(composite_id, year, instance, defs=defs,
                                      step=lambda s: console.print(f"[cyan]>[/] {s}"))
            last = results[-1]
            for evaluation in last.get_asset_check_evaluations():
                if not evaluation.passed:
                    console.print(f"[yellow]{evaluation.severity.value}[/] {evaluation.check_name}: "
                                  f"{evaluation.description}")
            if not last.success:
                failed = True
                for event in last.all_events:
                    if event.is_step_failure:
                        console.print(f"[red]step failed[/] {event.step_key}: "
                                      f"{event.event_specific_data.error.message.strip()[:500]}")
                continue
            for event in last.get_asset_materialization_events():
                if event.asset_key.path[-1] == "annual_report":
                    files = event.materialization.metadata["files"].value
                    for name, written in sorted(files.items()):
                        console.print(f"  {composite_id} {year} {name}: {written['uri']}")
    if failed:
        raise typer.Exit(1)
