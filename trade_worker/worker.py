"""The trade-stream worker: consume ``aladdin.trades`` CDC, enrich each trade within milliseconds, publish
``trades.execution`` and ``risk.alerts``, and commit the hot table ``stream.trades_enriched`` exactly once.

Threads: the *hot loop* (:mod:`~trade_worker.hot_loop`: poll, decode, enrich, send, fill the micro-batch), the
*commit writer* (:mod:`~trade_worker.commit_writer`: flush the producer, then one Iceberg commit per batch,
heartbeats when idle), the *reference refresher* (:mod:`~trade_worker.reference_refresh`: reloads the book when
the end-of-day batch has published) and the *health* reporter (file and/or HTTP). This module starts them in
order and stops them: on a stop request (SIGTERM/SIGINT in ``python -m trade_worker``,
:meth:`TradeStreamWorker.request_stop` in-process) the loop stops polling, the open batch is delivered and
committed, and :meth:`TradeStreamWorker.run` returns 0.

Start it in-process with ``TradeStreamWorker(WorkerConfig(...)).run()`` (in a thread if the caller wants
control back; :meth:`TradeStreamWorker.wait_ready` blocks until it consumes), or as a process with
``python -m trade_worker`` (``mesh stream-trades`` in development); readiness is ``"ready": true`` in the
health file / ``GET /readyz``.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import orjson

from mesh_assets.lib.trade_stream.hot_table import ENRICHED_TRADES
from trade_worker.breakers import Breakers
from trade_worker.commit_process import CommitProcess
from trade_worker.commit_writer import CommitWriter, WriterSettings
from trade_worker.config import WorkerConfig, WorkerError, default_worker_id
from trade_worker.connection import Connection, close, connect, open_consumer
from trade_worker.enrichment import EnrichmentSettings, TradeEnricher
from trade_worker.health import HealthReporter
from trade_worker.hot_loop import HotLoop
from trade_worker.micro_batch import latency_figures
from trade_worker.outputs import ALERTS_TOPIC, EXECUTION_TOPIC, OutputPublisher
from trade_worker.price_lookup import GuardedPriceLookup
from trade_worker.reference_book import ReferenceBook
from trade_worker.reference_refresh import ReferenceKeeper
from trade_worker.reference_source import close_fetcher
from trade_worker.trade_event import TOPIC

if TYPE_CHECKING:
    from pyiceberg.table import Table

__all__ = ["TradeStreamWorker", "WorkerConfig", "WorkerError", "default_worker_id"]

log = logging.getLogger("mesh.stream")


class TradeStreamWorker:
    """One worker process's stream: build it, then :meth:`run` (blocking) until stopped."""

    def __init__(self, config: WorkerConfig) -> None:
        self.config = config
        self.breakers = Breakers.create(config.price_breaker, config.producer_breaker)
        self.book = ReferenceBook(concentration_limit=config.concentration_limit)
        lookup = (GuardedPriceLookup(close_fetcher(config.warehouse), self.breakers.price_lookup,
                                     config.price_miss_ttl_s) if config.warehouse is not None else None)
        self.enricher = TradeEnricher(self.book, lookup, EnrichmentSettings(config.deviation_limit),
                                      config.worker_id)
        self._stop = threading.Event()
        self._ready = threading.Event()
        self._done = threading.Event()
        self.status = "starting"
        self.exit_code: int | None = None
        self.error: str | None = None
        self.started_at_ms = int(time.time() * 1000)
        self.reference = ReferenceKeeper(self.book, config.warehouse, self._stop, config.refresh_s,
                                         config.warmup_timeout_s)
        self.loop = HotLoop(config, self.enricher, self.breakers, self.reference, self._stop)
        self.writer: CommitWriter | None = None
        self.publisher: OutputPublisher | None = None
        self.health_reporter: HealthReporter | None = None
        self._connection: Connection | None = None

    # -- control -------------------------------------------------------------------------------------

    def request_stop(self) -> None:
        """Ask the worker to stop: finish the poll in hand, deliver, commit, return 0 (signal-safe)."""
        self._stop.set()

    def wait_ready(self, timeout_s: float) -> bool:
        """Block until the worker consumes (True) or ``timeout_s`` passes / it ended first (False)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._ready.wait(0.05):
                return True
            if self._done.is_set():
                return False
        return False

    @property
    def ready(self) -> bool:
        """True once warmed up, assigned and consuming."""
        return self._ready.is_set()

    @property
    def counts(self) -> dict[str, int]:
        """Records consumed, enriched, invalid, tombstones, and back-pressure pauses so far."""
        return self.loop.counts

    # -- health --------------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """The worker's state: status, lag, breakers, committed offsets, counts, latency, reference."""
        loop, writer, publisher = self.loop, self.writer, self.publisher
        progress = writer.progress if writer is not None else None
        committed = dict(progress.committed_positions) if progress is not None else {}
        ends = dict(loop.end_offsets)
        lag = sum(max(0, end - committed.get(p, 0)) for p, end in ends.items())
        lookup = self.enricher.price_lookup
        return {
            "worker_id": self.config.worker_id, "pid": os.getpid(), "status": self.status, "ready": self.ready,
            "error": self.error, "started_at_ms": self.started_at_ms, "updated_at_ms": int(time.time() * 1000),
            "loop_at_ms": loop.loop_at_ms, "paused": loop.paused,
            "topics": {"trades": self.config.trades_topic,
                       "execution": f"{self.config.topic_prefix}{EXECUTION_TOPIC}",
                       "alerts": f"{self.config.topic_prefix}{ALERTS_TOPIC}",
                       "hot_table": ENRICHED_TRADES.identifier},
            "breakers": self.breakers.states(),
            "lag_records": lag,
            "end_offsets": {str(p): o for p, o in sorted(ends.items())},
            "consumed_offsets": {str(p): o for p, o in sorted(loop.next.items())},
            "committed_offsets": {str(p): o for p, o in sorted(committed.items())},
            "counts": {**loop.counts,
                       "published": publisher.sent if publisher else 0,
                       "send_errors": publisher.send_errors if publisher else 0,
                       "pending_batches": writer.pending if writer else 0,
                       "commits": progress.commits if progress else 0,
                       "committed_records": progress.committed_records if progress else 0,
                       "heartbeats": progress.heartbeats if progress else 0,
                       "delivery_failures": progress.delivery_failures if progress else 0,
                       "commit_failures": progress.commit_failures if progress else 0,
                       "alerts_committed": dict(progress.alerts) if progress else {},
                       "price_lookups": lookup.lookups if lookup else 0,
                       "price_lookup_failures": lookup.failures if lookup else 0,
                       "price_lookups_rejected": lookup.rejected if lookup else 0},
            "last_commit_ms": progress.last_commit_ms if progress else None,
            "last_snapshot_id": progress.last_snapshot_id if progress else None,
            "last_stats": progress.last_stats if progress else None,
            "last_error": progress.last_error if progress else None,
            "latency_ms": latency_figures(list(loop.latencies.copy())),  # deque.copy: atomic under the GIL
            "reference": self.reference.health(),
        }

    # -- start-up ------------------------------------------------------------------------------------

    def _load_table(self) -> Callable[[], Table]:
        from mesh_assets.lib.lakehouse.tables import ensure_table

        catalog = self.config.catalog.catalog()
        ensure_table(catalog, ENRICHED_TRADES)
        return lambda: catalog.load_table(ENRICHED_TRADES.identifier)

    def _replay_hot_table(self, table: Table) -> None:
        """Re-apply the book changes already streamed (committed rows dated after the gold baseline)."""
        from pyiceberg.expressions import AlwaysTrue, GreaterThan

        if table.current_snapshot() is None:
            return
        as_of = self.book.as_of
        row_filter = GreaterThan("trade_date", as_of.isoformat()) if as_of is not None else AlwaysTrue()
        rows = table.scan(row_filter=row_filter, selected_fields=(
            "source_partition", "source_offset", "portfolio_id", "trade_id", "lsn", "book_changes")).to_arrow()
        rows = rows.sort_by([("source_partition", "ascending"), ("source_offset", "ascending")]).to_pylist()
        changes = []
        for row in rows:
            for security_id, trade_date, dq, dc in orjson.loads(row["book_changes"] or "[]"):
                changes.append((row["portfolio_id"], security_id, dt.date.fromisoformat(trade_date), dq, dc))
        applied = self.book.replay(changes)
        self.enricher.remember_applied((r["trade_id"], r["lsn"]) for r in rows if r["lsn"] is not None)
        log.info("replayed %d book changes of %d streamed events dated after %s", applied, len(rows), as_of)

    def _connect(self, committed: dict[int, int]) -> None:
        """Consumer assigned to every partition at its committed position, producer, output topics."""
        connection = self._connection = Connection(open_consumer(self.config))
        self.loop.consumer = connection.consumer
        connect(connection, self.config, committed, self._stop)
        self.loop.partitions = connection.partitions or []
        self.loop.next.update(connection.positions or {})
        if connection.producer is not None:
            self.publisher = self.loop.publisher = OutputPublisher(connection.producer, self.config.topic_prefix)

    # -- run -----------------------------------------------------------------------------------------

    def run(self) -> int:
        """Run until stopped (or ``max_records`` / ``run_for_s``); return the exit code (0: all committed)."""
        from mesh_assets.lib.lakehouse.positions import committed_positions

        config = self.config
        self.health_reporter = HealthReporter(self.health, config.health_file, config.health_port,
                                              config.health_host)
        self.health_reporter.start()
        committer = None
        try:
            load_table = self._load_table()
            committer = CommitProcess(config.catalog, ENRICHED_TRADES)
            committer.start()  # imports pyiceberg in the child while this process warms up
            table = load_table()
            committed = {tp.partition: o for tp, o in committed_positions(table).items() if tp.topic == TOPIC}
            self.reference.warm_up()
            self._replay_hot_table(table)
            self._connect(committed)
            if self._stop.is_set() and not self.loop.partitions:
                self.status = "stopped"
                self.exit_code = 0
                return 0
            committer.wait_ready(config.warmup_timeout_s + 120)
            loop = self.loop
            self.writer = loop.writer = CommitWriter(
                committer, self.publisher, self.breakers, config.worker_id, lambda: dict(loop.end_offsets),
                committed, WriterSettings(max_pending_batches=config.max_pending_batches,
                                          flush_timeout_s=config.flush_timeout_s, heartbeat_s=config.heartbeat_s,
                                          snapshot_retention_s=config.snapshot_retention_s))
            self.writer.start()
            self.reference.start_refresher()
            self.status = "running"
            self._ready.set()
            log.info("trade worker ready: %s consuming %s (%d partitions) from %s", config.worker_id,
                     config.trades_topic, len(loop.partitions), {str(p): o for p, o in sorted(loop.next.items())})
            if config.tune_gc:
                gc.collect()
                gc.freeze()
                gc.set_threshold(50_000, 20, 100)
            try:
                loop.run()
            finally:
                loop.stop_deadline = time.monotonic() + config.shutdown_timeout_s
            return self._finish()
        except BaseException as exc:
            self.status = "failed"
            self.error = f"{type(exc).__name__}: {exc}"
            self.exit_code = 1
            log.exception("trade-stream worker failed")
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            return 1
        finally:
            self._stop.set()
            if committer is not None:
                committer.close()
            close(self._connection)
            self.health_reporter.stop()
            self._done.set()

    def _finish(self) -> int:
        """After the loop: resume fetching, let the writer commit what it holds, report (0, or raise)."""
        config, writer = self.config, self.writer
        assert writer is not None
        self.status = "stopping"
        self.loop.resume()
        if not writer.finish(config.shutdown_timeout_s):
            raise WorkerError(f"shutdown: {writer.pending} batch(es) not committed within "
                              f"{config.shutdown_timeout_s:.0f} s ({writer.progress.last_error}); "
                              "their events will be replayed by the next worker")
        self.status = "stopped"
        self.exit_code = 0
        log.info("stopped: %s consumed, %s committed rows, committed offsets %s", self.loop.counts["consumed"],
                 writer.progress.committed_records, writer.progress.committed_positions)
        return 0
