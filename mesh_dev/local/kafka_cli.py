"""``mesh kafka start|stop|status``: the local Apache Kafka broker (see :mod:`mesh_dev.local.kafka_broker`)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from mesh_dev.local import kafka_broker, kafka_broker_layout

kafka_app = typer.Typer(
    help=(
        "A real Apache Kafka broker (KRaft, one node) on 127.0.0.1, run from Maven Central jars: "
        "needs java 17+, and mvn the first time. Data in .data/kafka (env MESH_KAFKA_DATA), "
        "jars in .cache/kafka (env MESH_KAFKA_CACHE)."
    ),
    no_args_is_help=True,
)
console = Console()
err_console = Console(stderr=True)

DataDirOption = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Broker data folder [default: env MESH_KAFKA_DATA or <repo>/.data/kafka]."),
]


@kafka_app.command()
def start(
    port: Annotated[
        int, typer.Option(help="Client (PLAINTEXT) port; the controller uses port + 1.")
    ] = kafka_broker.DEFAULT_PORT,
    data_dir: DataDirOption = None,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the broker to answer.")] = 60.0,
    sasl_user: Annotated[
        list[str] | None,
        typer.Option(help="Serve SASL_SSL only (SCRAM-SHA-512, a local test CA) with this user (repeatable); only "
                     "when the data folder is first created. Each user's MESH_KAFKA_* settings go to "
                     "<data>/tls/<user>.env (owner-only), never to the console."),
    ] = None,
) -> None:
    """Start the broker in the background (or report the one already running) and wait until it answers."""
    import secrets

    from mesh_dev.local.kafka_broker_security import SaslSsl

    began = time.monotonic()
    users = {name: secrets.token_urlsafe(18) for name in sasl_user or []}
    if users and (kafka_broker_layout.data_layout(data_dir).kraft / "meta.properties").is_file():
        err_console.print("[bold red]kafka start failed:[/] SASL users are created when a data folder is first "
                          "formatted, and this one already is: choose a new --data-dir", markup=True)
        raise typer.Exit(1)
    try:
        with console.status(f"Starting Kafka {kafka_broker.kafka_version()} on 127.0.0.1:{port} ..."):
            info = kafka_broker.start(data_dir=data_dir, port=port, wait_s=wait,
                                      security=SaslSsl(users=users) if users else None)  # fmt: skip
    except kafka_broker.KafkaBrokerError as exc:
        err_console.print(f"[bold red]kafka start failed:[/] {exc}", markup=True, highlight=False)
        raise typer.Exit(1) from exc
    console.print(
        f"[green]Kafka {info.version} ready[/] at [bold]{info.bootstrap_servers}[/] ({info.security_protocol}, "
        f"pid {info.pid}, {time.monotonic() - began:.1f}s)\n"
        f"  data: {info.data_dir}\n  log:  {info.log_file}\n  stop: mesh kafka stop"
        + (f" --data-dir {info.data_dir}" if data_dir else "")
    )
    if users and info.ca_file is not None:
        from mesh_dev.local.kafka_broker_security import user_settings

        for name, password in users.items():
            env_file = info.ca_file.parent / f"{name}.env"
            env_file.touch(mode=0o600)
            env_file.write_text("".join(f"export {k}={v}\n" for k, v in
                                        user_settings(info.ca_file, name, password).to_environment().items()))
            console.print(f"  user {name}: source {env_file}")


@kafka_app.command()
def stop(
    data_dir: DataDirOption = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait after SIGTERM before SIGKILL.")] = 30.0,
) -> None:
    """Stop the broker (controlled shutdown; killed after --timeout)."""
    if kafka_broker.stop(data_dir=data_dir, timeout_s=timeout):
        console.print("[green]Kafka broker stopped.[/]")
    else:
        console.print("[yellow]No Kafka broker was running.[/]")


@kafka_app.command()
def status(data_dir: DataDirOption = None) -> None:
    """Show the broker's state. Exit code 0 when it runs and answers, 3 otherwise."""
    info = kafka_broker.status(data_dir=data_dir)
    ok = bool(info["running"] and info["reachable"])
    table = Table(title="Kafka broker", show_header=True, header_style="bold")
    table.add_column("key")
    table.add_column("value", overflow="fold")
    for key, value in info.items():
        style = ""
        if key in ("running", "reachable"):
            style = "green" if value else "red"
        table.add_row(key, json.dumps(value) if not isinstance(value, str) else value, style=style)
    console.print(table)
    if not ok:
        raise typer.Exit(3)
