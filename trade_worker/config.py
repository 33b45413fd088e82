"""What a trade-stream worker is told: its :class:`WorkerConfig` (defaults suit production), and its one error."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path

from trade_worker.breakers import BreakerSettings
from trade_worker.reference_source import WarehouseQuery
from trade_worker.settings import CatalogSettings
from trade_worker.topics import TopicSettings
from trade_worker.trade_event import TOPIC


def default_worker_id() -> str:
    """``<host>-<pid>``: names the worker in stats and rows."""
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class WorkerConfig:
    """Everything the worker needs; defaults suit production (see ``python -m trade_worker --help``)."""

    bootstrap_servers: str
    catalog: CatalogSettings
    #: the warehouse the reference book is warmed from (``None``: an empty book, every price missing)
    warehouse: WarehouseQuery | None = None
    topic_prefix: str = ""
    worker_id: str = field(default_factory=default_worker_id)
    batch_max_rows: int = 5_000
    batch_max_s: float = 1.0
    max_pending_batches: int = 4
    heartbeat_s: float = 5.0
    flush_timeout_s: float = 10.0
    health_file: Path | None = None
    health_port: int | None = None
    health_host: str = "0.0.0.0"
    refresh_s: float = 30.0
    warmup_timeout_s: float = 30.0
    concentration_limit: float = 0.10
    deviation_limit: float = 0.02
    price_breaker: BreakerSettings = field(default_factory=BreakerSettings)
    producer_breaker: BreakerSettings = field(default_factory=BreakerSettings)
    price_miss_ttl_s: float = 60.0
    poll_max_records: int = 2_000
    #: stop after this many consumed records (tests, benchmarks); ``None``: run until told to stop
    max_records: int | None = None
    #: stop after this many seconds; ``None``: run until told to stop
    run_for_s: float | None = None
    shutdown_timeout_s: float = 30.0
    snapshot_retention_s: float = 24 * 3600.0
    #: process-wide GC tuning before the hot loop (the CLI's own process only): freeze what start-up built
    #: (modules, the reference book) out of the collector and collect gen 0 every 50,000 allocations, not 700,
    #: so a full collection no longer walks every imported module's objects in the middle of a trade's path
    tune_gc: bool = False
    #: how missing output topics are created (replication, min.insync.replicas; env, default: production)
    topics: TopicSettings = field(default_factory=TopicSettings.from_environment)

    @property
    def trades_topic(self) -> str:
        """The broker's name of the trades topic."""
        return f"{self.topic_prefix}{TOPIC}"


class WorkerError(RuntimeError):
    """The worker cannot run as configured (topic missing, offsets lost to retention, ...)."""
