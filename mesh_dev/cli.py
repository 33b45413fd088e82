"""The `mesh` command: generate the synthetic firm, run the demo, manage local services."""

import datetime as dt
import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from mesh_dev.cli_errors import ErrorBoundaryTyper, debug_option

app = ErrorBoundaryTyper(help="Investment Data Mesh: the asset manager's data platform on Dagster.",
                         no_args_is_help=True, pretty_exceptions_enable=False)
app.callback()(debug_option(app))
calendar_app = typer.Typer(help="The NYSE calendar table generated from exchange_calendars.")
app.add_typer(calendar_app, name="calendar")
console = Console()


def _mount_local_tools() -> None:
    """`mesh audit export`, `mesh gips report`, `mesh kafka ...`, `mesh trino ...`, `mesh salesforce serve`,
    `mesh produce-cdc` and `mesh stream-trades`."""
    from mesh_dev.audit_cli import audit_app
    from mesh_dev.gips_cli import gips_app
    from mesh_dev.local.kafka_cli import kafka_app
    from mesh_dev.local.produce_cli import produce_cdc
    from mesh_dev.local.salesforce_cli import salesforce_app
    from mesh_dev.local.trino_cli import trino_app
    from mesh_dev.stream_cli import stream_trades

    app.add_typer(audit_app, name="audit")
    app.add_typer(gips_app, name="gips")
    app.add_typer(kafka_app, name="kafka")
    app.add_typer(trino_app, name="trino")
    app.add_typer(salesforce_app, name="salesforce")
    app.command("produce-cdc")(produce_cdc)
    app.command("stream-trades")(stream_trades)


_mount_local_tools()


def _generate(out: Path, scale: str, seed: int, end_date: dt.date) -> dict:
    from mesh_dev.firm import generate_firm

    with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                  TimeElapsedColumn(), console=console) as progress:
        tasks: dict[str, int] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total)
            progress.update(tasks[stage], completed=done, total=total)

        return generate_firm(out, scale=scale, seed=seed, end_date=end_date, progress=report)


@app.command()
def generate(
    scale: Annotated[str, typer.Option(help="small | medium | large")] = "small",
    seed: Annotated[int, typer.Option(help="random seed: same seed, byte-identical firm")] = 7,
    out: Annotated[Path | None, typer.Option(help="output folder (default: $MESH_FIRM_DIR or .data/firm)")] = None,
    end_date: Annotated[str, typer.Option(help="last day of the firm's history")] = "2026-10-30",
) -> None:
    """Generate the deterministic synthetic firm (reference data, prices, CDC capture, Salesforce)."""
    from resources.settings import firm_dir

    target = out or firm_dir()
    manifest = _generate(target, scale, seed, dt.date.fromisoformat(end_date))
    console.print(f"[green]firm[/] {scale} seed {seed}: {manifest['start_date']}..{manifest['end_date']} "
                  f"({manifest['trading_days']} trading days) in {target}")
    console.print_json(json.dumps(manifest["counts"]))


@app.command()
def demo(
    scale: Annotated[str, typer.Option(help="small | medium | large")] = "small",
    seed: Annotated[int, typer.Option(help="random seed")] = 7,
    days: Annotated[int, typer.Option(help="load only the last N trading days of deliveries (0 = all)")] = 0,
) -> None:
    """Generate the firm and materialize bronze -> silver -> gold with every check on the embedded default."""
    from resources.settings import data_dir, firm_dir

    os.environ.setdefault("DAGSTER_HOME", str(Path.cwd()))
    target = firm_dir()
    manifest = _generate(target, scale, seed, dt.date(2026, 10, 30))
    from dagster import DagsterInstance

    from mesh_assets.lib.trading_calendar import trading_days
    from mesh_dev.demo import run_end_of_day

    sessions = [d.isoformat() for d in trading_days(dt.date.fromisoformat(manifest["start_date"]),
                                                     dt.date.fromisoformat(manifest["end_date"]))]
    sessions = sessions[-days:] if days else sessions
    from mesh_dev.local.salesforce_server.runner import start_server

    # the local Salesforce-compatible server, seeded from the firm: every Salesforce read and write of the
    # demo goes through simple-salesforce over HTTPS, as against the real org
    salesforce = start_server(data_dir() / "salesforce", export_dir=target / "salesforce")
    library_log = data_dir() / "logs" / "demo.log"  # dbt's own log lines (a launched run keeps them per step)
    library_log.unlink(missing_ok=True)
    os.environ.update(salesforce.client_environment())
    try:
        with DagsterInstance.get() as instance:
            report = run_end_of_day(sessions[0], sessions[-1], instance, lambda s: console.print(f"[cyan]>[/] {s}"),
                                    log=library_log)
            if not report.failed_steps:
                _gips_reports(instance, int(sessions[-1][:4]), report)
            if not report.failed_steps:
                published = _publication(instance, sessions[-1], report, library_log)
    finally:
        salesforce.stop()
    from mesh_dev.demo import materialized_line

    for key in sorted(report.materializations):
        console.print(f"  {materialized_line(report, key)}")
    console.print(f"[green]{len(report.checks_passed)} checks passed[/]")
    for name, severity, description in report.checks_failed:
        console.print(f"[yellow]{severity}[/] {name}: {description}")
    if not report.failed_steps:
        adx = data_dir() / "adx"
        console.print(f"ADX revisions:     {published['revisions']} for {sessions[-1]} in {adx / 'data_sets'}")
        console.print(f"Data grants:       {published.get('grants_after', 0)} live ({published.get('granted', 0)} "
                      f"granted, {published.get('revoked', 0)} revoked) in {adx / 'grants.db'}")
    console.print(f"\nFirm landing zone: {target}\nIceberg lakehouse: {data_dir() / 'lakehouse'}\n"
                  f"Warehouse:         {data_dir() / 'warehouse.duckdb'} (silver.*, gold.*)\n"
                  f"dbt's log:         {library_log}\n"
                  f"Dagster instance:  {Path(os.environ['DAGSTER_HOME']) / '.data' / 'dagster'}\n"
                  "Open the UI:       make dev   (then http://127.0.0.1:3000)")
    for failure in report.failed_steps:
        console.print(f"[red]step failed[/] {failure}")
    if report.failed_steps or any(severity == "ERROR" for _, severity, _ in report.checks_failed):
        raise typer.Exit(1)


def _publication(instance, day: str, report, log: Path) -> dict:
    """ADX revisions of the last session, then the entitlement reconcile (grants from Salesforce contracts)."""
    from mesh_assets.definitions import build_definitions
    from mesh_dev.demo import run_publication

    return run_publication(day, build_definitions(), instance, report, lambda s: console.print(f"[cyan]>[/] {s}"),
                           log=log)


def _gips_reports(instance, year: int, report) -> None:
    """The demo's last step: each composite's GIPS report for ``year`` (what compliance triggers)."""
    from mesh_assets.definitions import build_definitions
    from mesh_dev.demo import collect
    from mesh_dev.gips_cli import all_composites
    from mesh_dev.gips_runs import run_gips_report
    from resources.settings import data_dir

    defs = build_definitions()
    for composite_id in all_composites(defs.resources["warehouse"]):
        for result in run_gips_report(composite_id, year, instance, defs=defs,
                                      step=lambda s: console.print(f"[cyan]>[/] {s}")):
            collect(result, report)
    console.print(f"GIPS reports:      {data_dir() / 'reports' / 'gips'}")


@calendar_app.command("refresh")
def calendar_refresh(first_year: int = 2016, last_year: int = 2030) -> None:
    """Regenerate the NYSE closures table and the dbt trading-day seed from exchange_calendars."""
    import importlib

    from mesh_assets import _nyse_closures, trading_calendar

    path = trading_calendar.write_closures_module(dt.date(first_year, 1, 1), dt.date(last_year, 12, 31))
    console.print(f"wrote {path}")
    importlib.reload(_nyse_closures)
    importlib.reload(trading_calendar)
    console.print(f"wrote {trading_calendar.write_trading_days_seed()}")


if __name__ == "__main__":  # pragma: no cover
    app()
