"""``mesh salesforce serve``: the local Salesforce-compatible server (:mod:`mesh_dev.local.salesforce_server`)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

salesforce_app = typer.Typer(
    help=(
        "A local Salesforce-compatible REST server over HTTPS (SQLite, seeded from the firm's export) that "
        "simple-salesforce talks to as it talks to a real org. Data in .data/salesforce (env MESH_SALESFORCE_DATA)."
    ),
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)

#: Environment variables overriding the local integration user (local-only values; never a real org's).
CREDENTIAL_ENV = ("MESH_SALESFORCE_LOCAL_USERNAME", "MESH_SALESFORCE_LOCAL_PASSWORD", "MESH_SALESFORCE_LOCAL_TOKEN")


def default_data_dir() -> Path:
    """``MESH_SALESFORCE_DATA``, default ``<data>/salesforce``."""
    from resources.settings import data_dir

    return Path(os.environ.get("MESH_SALESFORCE_DATA") or data_dir() / "salesforce").resolve()


def local_credentials():
    """The local integration user: defaults, overridden by the ``MESH_SALESFORCE_LOCAL_*`` variables."""
    from mesh_dev.local.salesforce_server import LocalCredentials

    defaults = LocalCredentials()
    username, password, token = (os.environ.get(name) for name in CREDENTIAL_ENV)
    return LocalCredentials(
        username=username or defaults.username,
        password=password or defaults.password,
        security_token=token if token is not None else defaults.security_token,
    )


@salesforce_app.command()
def serve(
    port: Annotated[int, typer.Option(help="HTTPS port on 127.0.0.1 (0 = any free port).")] = 18443,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Server data folder (default: env MESH_SALESFORCE_DATA or <data>/salesforce)."),
    ] = None,
    seed_from: Annotated[
        Path | None,
        typer.Option("--seed-from", help="Salesforce export folder (default: <firm>/salesforce when it exists)."),
    ] = None,
    page_size: Annotated[int, typer.Option(help="Records per query page before nextRecordsUrl.")] = 2000,
) -> None:
    """Serve the local org until Ctrl-C; records not yet in the store are seeded from the export."""
    from mesh_dev.local.salesforce_server import SalesforceServerError, start_server
    from resources.settings import firm_dir

    target = data_dir or default_data_dir()
    seed = seed_from
    if seed is None and (firm_dir() / "salesforce").is_dir():
        seed = firm_dir() / "salesforce"
    try:
        info = start_server(target, seed, port, page_size=page_size, credentials=local_credentials())
    except (SalesforceServerError, FileNotFoundError, ValueError) as exc:
        err_console.print(f"[bold red]salesforce serve failed:[/] {exc}", highlight=False)
        raise typer.Exit(1) from exc
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    seeded = ", ".join(f"{count} {name}" for name, count in sorted(info.seeded.items())) or "nothing new"
    console.print(
        f"[green]Local Salesforce[/] at [bold]{info.url}[/] (seeded: {seeded}; page size {page_size})\n"
        f"  data:      {info.data_dir}\n"
        f"  CA bundle: {info.ca_pem_path}\n"
        f"  user:      {info.credentials.username} (password and token: {', '.join(CREDENTIAL_ENV[1:])} "
        "or the local defaults)\n"
        f"  hooks:     POST {info.url}/__local/expire_sessions, POST {info.url}/__local/rate_limit "
        '{"requests": N}, GET ' + f"{info.url}/__local/stats\n"
        f"  clients:   MESH_SALESFORCE_URL={info.url} MESH_SALESFORCE_CA_BUNDLE={info.ca_pem_path} "
        f"SALESFORCE_USERNAME={info.credentials.username} (+ SALESFORCE_PASSWORD, SALESFORCE_SECURITY_TOKEN)\n"
        "  Ctrl-C to stop",
        highlight=False,
        soft_wrap=True,
    )
    try:
        info.wait()
    except KeyboardInterrupt:
        console.print("stopping ...")
    finally:
        info.stop()
