"""``python -m trade_worker``: run the low-latency trade-stream worker (what deploy/ starts; ``mesh
stream-trades`` is the development shortcut to the same function).

Settings follow the code location's environment (``MESH_ENV``, ``MESH_DATA_DIR``, ``MESH_KAFKA_BOOTSTRAP``,
``MESH_KAFKA_TOPIC_PREFIX``; in aws ``MESH_ICEBERG_WAREHOUSE``, ``AWS_REGION``, ``MESH_ATHENA_WORKGROUP``), and
output topics are created with ``MESH_KAFKA_REPLICATION_FACTOR`` (default 3) and
``MESH_KAFKA_MIN_INSYNC_REPLICAS`` (default 2). SIGTERM or SIGINT: stop polling, flush the producer, commit,
exit 0.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from typing import Annotated

import typer

from trade_worker.breakers import BreakerSettings


def _warehouse(warehouse: Path | None, no_warehouse: bool):
    """The reference book's source: the given DuckDB file, Athena in aws, Trino in cluster, the local DuckDB file,
    or none."""
    from resources.settings import mesh_env
    from trade_worker.reference_source import DuckDbWarehouse
    from trade_worker.settings import local_warehouse_path

    if no_warehouse:
        return None
    if warehouse is not None:
        return DuckDbWarehouse(str(warehouse))
    if mesh_env() == "cluster":
        from resources.settings import mesh_settings
        from trade_worker.trino_warehouse import TrinoWarehouse

        settings = mesh_settings()
        settings.require({"MESH_TRINO_HOST": "host of the Trino coordinator"}, "cluster")
        return TrinoWarehouse(settings.mesh_trino_host, settings.mesh_trino_port, settings.mesh_trino_catalog,
                              settings.mesh_trino_user)
    if mesh_env() == "aws":
        from trade_worker.athena import AthenaWarehouse

        return AthenaWarehouse(os.environ.get("MESH_ATHENA_WORKGROUP") or "primary", os.environ.get("AWS_REGION"),
                               os.environ.get("MESH_AWS_ENDPOINT_URL") or None)
    return DuckDbWarehouse(str(local_warehouse_path()))


def stream_trades(
    bootstrap: Annotated[str | None, typer.Option(
        help="Kafka bootstrap servers (default: env MESH_KAFKA_BOOTSTRAP).")] = None,
    topic_prefix: Annotated[str | None, typer.Option(
        help="Prefix of the broker's topic names, e.g. 'prod.' (default: env MESH_KAFKA_TOPIC_PREFIX or none).")]
    = None,
    warehouse: Annotated[Path | None, typer.Option(
        help="DuckDB warehouse file the reference book is warmed from (default: <MESH_DATA_DIR>/warehouse.duckdb "
             "locally, Athena in aws).")] = None,
    no_warehouse: Annotated[bool, typer.Option(
        "--no-warehouse", help="Run with an empty reference book (every trade gets a stale-price alert).")] = False,
    health_file: Annotated[Path | None, typer.Option(
        help="JSON health file, rewritten atomically every second.")] = None,
    health_port: Annotated[int | None, typer.Option(
        help="Serve /healthz, /readyz and / on this port (0: any free port).")] = None,
    health_host: Annotated[str, typer.Option(help="Address the health endpoint binds.")] = "0.0.0.0",
    batch_rows: Annotated[int, typer.Option(help="Hot-table micro-batch: most rows.")] = 5_000,
    batch_seconds: Annotated[float, typer.Option(help="Hot-table micro-batch: longest age (s).")] = 1.0,
    max_pending_batches: Annotated[int, typer.Option(
        help="Batches waiting for the commit writer before consuming pauses (back-pressure).")] = 4,
    heartbeat_s: Annotated[float, typer.Option(help="Idle heartbeat period (table property).")] = 5.0,
    refresh_s: Annotated[float, typer.Option(help="How often the end-of-day output version is polled.")] = 30.0,
    warmup_timeout_s: Annotated[float, typer.Option(help="How long the start-up warm-up retries.")] = 30.0,
    concentration_limit: Annotated[float, typer.Option(help="Position limit as a share of the portfolio's NAV.")]
    = 0.10,
    deviation_limit: Annotated[float, typer.Option(help="Price deviation from the close that alerts (strictly "
                                                        "above).")] = 0.02,
    breaker_fail_max: Annotated[int, typer.Option(help="Failures before a circuit breaker opens.")] = 5,
    breaker_reset_s: Annotated[float, typer.Option(help="Seconds a breaker stays open before its probe.")] = 10.0,
    flush_timeout_s: Annotated[float, typer.Option(help="Longest producer flush per batch.")] = 10.0,
    max_records: Annotated[int | None, typer.Option(help="Stop after this many records (tests, benchmarks).")]
    = None,
    run_for_s: Annotated[float | None, typer.Option(help="Stop after this many seconds (tests, benchmarks).")]
    = None,
    worker_id: Annotated[str | None, typer.Option(help="Worker name in stats and rows (default: host-pid).")] = None,
    log_level: Annotated[str, typer.Option(help="DEBUG, INFO, WARNING...")] = "INFO",
) -> None:
    """Consume aladdin.trades CDC; publish enriched trades (trades.execution) and risk alerts (risk.alerts); commit
    the hot table stream.trades_enriched exactly once. Ready when the health file says "ready": true."""
    from trade_worker.settings import CatalogSettings
    from trade_worker.topics import TopicSettings, TopicSetupError
    from trade_worker.worker import TradeStreamWorker, WorkerConfig, default_worker_id

    logging.basicConfig(level=log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("kafka").setLevel(max(logging.WARNING, logging.getLevelName(log_level.upper())))
    servers = bootstrap or os.environ.get("MESH_KAFKA_BOOTSTRAP")
    if not servers:
        typer.echo("trade worker: no Kafka bootstrap servers (--bootstrap or env MESH_KAFKA_BOOTSTRAP)", err=True)
        raise typer.Exit(2)
    try:
        topics = TopicSettings.from_environment()
    except TopicSetupError as exc:
        typer.echo(f"trade worker: {exc}", err=True)
        raise typer.Exit(2) from None
    query = _warehouse(warehouse, no_warehouse)
    breakers = BreakerSettings(fail_max=breaker_fail_max, reset_timeout_s=breaker_reset_s)
    config = WorkerConfig(
        bootstrap_servers=servers, catalog=CatalogSettings.from_environment(), warehouse=query,
        topic_prefix=topic_prefix if topic_prefix is not None else os.environ.get("MESH_KAFKA_TOPIC_PREFIX", ""),
        worker_id=worker_id or default_worker_id(), batch_max_rows=batch_rows, batch_max_s=batch_seconds,
        max_pending_batches=max_pending_batches, heartbeat_s=heartbeat_s, flush_timeout_s=flush_timeout_s,
        health_file=health_file, health_port=health_port, health_host=health_host, refresh_s=refresh_s,
        warmup_timeout_s=warmup_timeout_s, concentration_limit=concentration_limit, deviation_limit=deviation_limit,
        price_breaker=breakers, producer_breaker=breakers, max_records=max_records, run_for_s=run_for_s,
        tune_gc=True, topics=topics,
    )
    # the commit writer's Iceberg work holds the GIL in slices: hand it back to the hot loop sooner (default 5 ms)
    sys.setswitchinterval(0.001)
    worker = TradeStreamWorker(config)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: worker.request_stop())
    code = worker.run()
    raise typer.Exit(code)


def main() -> None:
    """The console entry point: parse the options, run the worker, exit with its code."""
    typer.run(stream_trades)
