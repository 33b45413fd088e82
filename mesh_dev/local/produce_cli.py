"""``mesh produce-cdc``: replay the synthetic firm's Aladdin CDC capture into a Kafka broker.

A plain Typer command function; the main app registers it (``app.command("produce-cdc")(produce_cdc)``).
See :mod:`mesh_dev.local.cdc_producer`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from mesh_dev.local import cdc_producer, kafka_broker

console = Console()
err_console = Console(stderr=True)


def _bootstrap(explicit: str | None) -> str:
    """``--bootstrap``, else env ``MESH_KAFKA_BOOTSTRAP``, else the running local broker."""
    if explicit:
        return explicit
    env = os.environ.get("MESH_KAFKA_BOOTSTRAP")
    if env:
        return env
    info = kafka_broker.status()
    if info["running"] and info["reachable"] and info["bootstrap"]:
        return str(info["bootstrap"])
    err_console.print(
        "[bold red]no Kafka broker:[/] pass --bootstrap, set MESH_KAFKA_BOOTSTRAP, or start the local broker "
        "with `mesh kafka start`",
        highlight=False,
    )
    raise typer.Exit(2)


def produce_cdc(
    firm_dir: Annotated[
        Path | None,
        typer.Option("--firm-dir", help="The synthetic firm (default: env MESH_FIRM_DIR, else <repo>/.data/firm)."),
    ] = None,
    bootstrap: Annotated[
        str | None,
        typer.Option(
            "--bootstrap",
            help="Kafka bootstrap servers (default: env MESH_KAFKA_BOOTSTRAP, else the running local broker).",
        ),
    ] = None,
    rate: Annotated[
        float | None, typer.Option("--rate", min=0.001, help="Records per second (default: as fast as possible).")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=0, help="Produce only the first N records of each topic.")
    ] = None,
    topic: Annotated[
        list[str] | None,
        typer.Option(
            "--topic", help="A capture topic to produce, repeatable (default: aladdin.trades and aladdin.cash_flows)."
        ),
    ] = None,
    topic_prefix: Annotated[
        str, typer.Option("--topic-prefix", help="Produce into '<prefix><topic>' (e.g. fresh topics).")
    ] = "",
    as_json: Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")] = False,
) -> None:
    """Replay the firm's Aladdin CDC capture into Kafka: same partitions, keys, values, timestamps and order.

    Creates the topics if missing (the firm's partition count, retention off), then produces through an
    idempotent producer (acks=all): into fresh topics the broker's offsets equal the capture's.
    """
    from resources.settings import firm_dir as default_firm_dir

    firm = (firm_dir or default_firm_dir()).expanduser().resolve()
    topics = list(topic or cdc_producer.CDC_TOPICS)
    server = _bootstrap(bootstrap)
    try:
        partitions = cdc_producer.firm_partitions(firm)
        names = cdc_producer.ensure_cdc_topics(server, partitions, topics, topic_prefix=topic_prefix)
        with Progress(
            TextColumn("[bold]produce[/] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[speed]}"),
            TimeElapsedColumn(),
            console=console,
            transient=as_json,
        ) as bar:
            task = bar.add_task(f"{', '.join(names.values())} -> {server}", total=None, speed="")

            def report(done: int, total: int) -> None:
                elapsed = bar.tasks[task].elapsed or 0.0
                speed = f"{done / elapsed:,.0f} rec/s" if elapsed > 0 else ""
                bar.update(task, completed=done, total=total, speed=speed)

            result = cdc_producer.produce_capture(
                server, cdc_producer.capture_dir(firm), topics, rate=rate, limit=limit, progress=report,
                topic_prefix=topic_prefix,
            )  # fmt: skip
    except (cdc_producer.CdcProduceError, kafka_broker.KafkaBrokerError) as exc:
        err_console.print(f"[bold red]produce-cdc failed:[/] {exc}", highlight=False)
        raise typer.Exit(1) from exc

    if as_json:
        console.print_json(json.dumps(result))
        return
    table = Table(title=f"CDC capture of {firm} -> {server}", header_style="bold")
    for column in ("topic-partition", "records", "first offset", "last offset"):
        table.add_column(column, justify="left" if column == "topic-partition" else "right")
    for label, stats in result["partitions"].items():
        table.add_row(label, str(stats["records"]), str(stats["first_offset"]), str(stats["last_offset"]))
    console.print(table)
    match = "[green]yes[/]" if result["offsets_match_capture"] else f"[yellow]no[/] ({result['offset_mismatches']})"
    if not result["offsets_match_capture"]:
        console.print(
            "[yellow]The topics already held records: the capture was appended after them, at other offsets. "
            "Use --topic-prefix (or a fresh broker) for topics whose offsets equal the capture's.[/]"
        )
    console.print(
        f"{result['records']:,} records ({result['tombstones']} tombstones, {result['bytes'] / 1e6:.1f} MB) in "
        f"{result['elapsed_s']:.2f}s: {result['records_per_s'] or 0:,.0f} rec/s; offsets equal the capture's: {match}"
    )
