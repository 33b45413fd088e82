"""The trade-stream worker: consume ``aladdin.trades`` CDC, enrich each trade within milliseconds, publish
``trades.execution`` and ``risk.alerts``, and commit the hot table ``stream.trades_enriched`` exactly once.

Threads: the *hot loop* (this module: poll, decode, enrich, send, fill the micro-batch), the *commit
writer* (:mod:`~trade_worker.commit_writer`: flush the producer, then one Iceberg commit per
batch, heartbeats when idle), the *reference refresher* (polls the warehouse's batch version and reloads the
book when the end-of-day batch has published) and the *health* reporter (file and/or HTTP).

Positions come from the hot table, not a consumer group: every partition of the trades topic is assigned
and sought to its committed position (the log start when there is none). On a stop request (SIGTERM/SIGINT
in the CLI, :meth:`TradeStreamWorker.request_stop` in-process) the loop stops polling, the open batch is
delivered and committed, and :meth:`TradeStreamWorker.run` returns 0.

Start it in-process with ``TradeStreamWorker(WorkerConfig(...)).run()`` (in a thread if the caller wants
control back; :meth:`TradeStreamWorker.wait_ready` blocks until it consumes), or as a process with
``mesh stream-trades`` / ``python -m mesh_dev.stream_cli``; readiness is ``"ready": true`` in the
health file / ``GET /readyz``.
"""

from __future__ import annotations

import collections
import datetime as dt
import gc
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from mesh_assets.lib.trade_stream.hot_table import ENRICHED_TRADES
from trade_worker.alerts import INVALID_TRADE, Alert
from trade_worker.breakers import Breakers, BreakerSettings
from trade_worker.commit_process import CommitProcess
from trade_worker.commit_writer import CommitWriter, WriterSettings
from trade_worker.enrichment import EnrichmentSettings, TradeEnricher
from trade_worker.health import HealthReporter
from trade_worker.micro_batch import MicroBatch, latency_figures
from trade_worker.outputs import ALERTS_TOPIC, EXECUTION_TOPIC, OutputPublisher, new_producer
from trade_worker.price_lookup import GuardedPriceLookup
from trade_worker.reference_book import ReferenceBook, ReferenceSnapshot
from trade_worker.reference_source import WarehouseQuery, close_fetcher, load_reference, reference_version
from trade_worker.settings import CatalogSettings
from trade_worker.trade_event import TOPIC, InvalidTrade, decode_trade_event

if TYPE_CHECKING:
    from pyiceberg.table import Table

log = logging.getLogger("mesh.stream")


def default_worker_id() -> str:
    """``<host>-<pid>``: names the worker in stats and rows."""
    return f"{socket.gethostname()}-{os.getpid()}"


@dataclass
class WorkerConfig:
    """Everything the worker needs; defaults suit production (see ``mesh stream-trades --help``)."""

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

    @property
    def trades_topic(self) -> str:
        """The broker's name of the trades topic."""
        return f"{self.topic_prefix}{TOPIC}"


class WorkerError(RuntimeError):
    """The worker cannot run as configured (topic missing, offsets lost to retention, ...)."""


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
        self.loop_at_ms: int | None = None
        self.counts = {"consumed": 0, "enriched": 0, "invalid": 0, "tombstones": 0, "backpressure_pauses": 0}
        self._next: dict[int, int] = {}
        self._end_offsets: dict[int, int] = {}
        self._partitions: list[Any] = []
        self._latencies: collections.deque[float] = collections.deque(maxlen=5_000)
        self._pending_reference: ReferenceSnapshot | None = None
        self._reference_loaded_at_ms: int | None = None
        self._reference_error: str | None = None
        self._paused = False
        self.writer: CommitWriter | None = None
        self.publisher: OutputPublisher | None = None
        self.health_reporter: HealthReporter | None = None
        self._consumer: Any = None
        self._producer: Any = None

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

    # -- health --------------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        """The worker's state: status, lag, breakers, committed offsets, counts, latency, reference."""
        writer = self.writer
        progress = writer.progress if writer is not None else None
        committed = dict(progress.committed_positions) if progress is not None else {}
        ends = dict(self._end_offsets)
        lag = sum(max(0, end - committed.get(p, 0)) for p, end in ends.items())
        publisher = self.publisher
        return {
            "worker_id": self.config.worker_id, "pid": os.getpid(), "status": self.status, "ready": self.ready,
            "error": self.error, "started_at_ms": self.started_at_ms, "updated_at_ms": int(time.time() * 1000),
            "loop_at_ms": self.loop_at_ms, "paused": self._paused,
            "topics": {"trades": self.config.trades_topic,
                       "execution": f"{self.config.topic_prefix}{EXECUTION_TOPIC}",
                       "alerts": f"{self.config.topic_prefix}{ALERTS_TOPIC}",
                       "hot_table": ENRICHED_TRADES.identifier},
            "breakers": self.breakers.states(),
            "lag_records": lag,
            "end_offsets": {str(p): o for p, o in sorted(ends.items())},
            "consumed_offsets": {str(p): o for p, o in sorted(self._next.items())},
            "committed_offsets": {str(p): o for p, o in sorted(committed.items())},
            "counts": {**self.counts,
                       "published": publisher.sent if publisher else 0,
                       "send_errors": publisher.send_errors if publisher else 0,
                       "pending_batches": writer.pending if writer else 0,
                       "commits": progress.commits if progress else 0,
                       "committed_records": progress.committed_records if progress else 0,
                       "heartbeats": progress.heartbeats if progress else 0,
                       "delivery_failures": progress.delivery_failures if progress else 0,
                       "commit_failures": progress.commit_failures if progress else 0,
                       "alerts_committed": dict(progress.alerts) if progress else {},
                       "price_lookups": self.enricher.price_lookup.lookups if self.enricher.price_lookup else 0,
                       "price_lookup_failures":
                           self.enricher.price_lookup.failures if self.enricher.price_lookup else 0,
                       "price_lookups_rejected":
                           self.enricher.price_lookup.rejected if self.enricher.price_lookup else 0},
            "last_commit_ms": progress.last_commit_ms if progress else None,
            "last_snapshot_id": progress.last_snapshot_id if progress else None,
            "last_stats": progress.last_stats if progress else None,
            "last_error": progress.last_error if progress else None,
            "latency_ms": latency_figures(list(self._latencies.copy())),  # deque.copy: atomic under the GIL
            "reference": {"version": self.book.version, "as_of": self.book.as_of.isoformat() if self.book.as_of
                          else None, "closes": len(self.book.closes), "positions": self.book.position_count,
                          "navs": len(self.book.navs), "loaded_at_ms": self._reference_loaded_at_ms,
                          "error": self._reference_error},
        }

    # -- start-up ------------------------------------------------------------------------------------

    def _load_table(self) -> Callable[[], Table]:
        from mesh_assets.lib.lakehouse.tables import ensure_table

        catalog = self.config.catalog.catalog()
        ensure_table(catalog, ENRICHED_TRADES)
        return lambda: catalog.load_table(ENRICHED_TRADES.identifier)

    def _warm_up(self) -> None:
        """Load the reference book (retrying up to the warm-up timeout); start empty if the warehouse is down."""
        query = self.config.warehouse
        if query is None:
            return
        deadline = time.monotonic() + self.config.warmup_timeout_s
        while not self._stop.is_set():
            try:
                self.book.load(load_reference(query))
                self._reference_loaded_at_ms = int(time.time() * 1000)
                self._reference_error = None
                log.info("reference book warmed up: %d closes, %d positions, %d NAVs as of %s",
                         len(self.book.closes), self.book.position_count, len(self.book.navs), self.book.as_of)
                return
            except Exception as exc:
                self._reference_error = f"{type(exc).__name__}: {str(exc)[:300]}"
                if time.monotonic() >= deadline:
                    log.error("reference warm-up failed, starting with an empty book (refreshed every %.0f s): %s",
                              self.config.refresh_s, self._reference_error)
                    return
                time.sleep(1.0)

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
        from kafka import TopicPartition

        from resources.kafka_client import client_settings, new_consumer

        config = self.config
        security = client_settings()
        log.info("connecting to Kafka %s (%s)", config.bootstrap_servers, security.describe())
        consumer = new_consumer(
            config.bootstrap_servers, security, client_id=f"mesh-stream-{config.worker_id}", group_id=None,
            enable_auto_commit=False, auto_offset_reset="none", max_poll_records=config.poll_max_records,
            fetch_max_wait_ms=10, fetch_min_bytes=1, request_timeout_ms=30_000, check_crcs=False,
            reconnect_backoff_max_ms=1_000,
        )
        self._consumer = consumer
        partitions = None
        while not self._stop.is_set():
            partitions = consumer.partitions_for_topic(config.trades_topic)
            if partitions:
                break
            log.warning("topic %s does not exist on %s yet; waiting", config.trades_topic, config.bootstrap_servers)
            self._stop.wait(2.0)
        if not partitions:
            return
        self._partitions = [TopicPartition(config.trades_topic, p) for p in sorted(partitions)]
        consumer.assign(self._partitions)
        starts = consumer.beginning_offsets(self._partitions)
        for tp in self._partitions:
            position = committed.get(tp.partition)
            if position is None:
                position = starts[tp]
            elif position < starts[tp]:
                raise WorkerError(f"{TOPIC}-{tp.partition} ({tp.topic}): committed up to offset {position} but the log "
                                  f"starts at {starts[tp]}; offsets {position}..{starts[tp] - 1} were deleted by "
                                  "retention and cannot be enriched")
            consumer.seek(tp, position)
            self._next[tp.partition] = position
        self._producer = new_producer(config.bootstrap_servers, f"mesh-stream-{config.worker_id}")
        self._ensure_output_topics(len(partitions))
        self.publisher = OutputPublisher(self._producer, config.topic_prefix)

    def _ensure_output_topics(self, partitions: int) -> None:
        from mesh_dev.local.kafka_broker import ensure_topics

        names = [f"{self.config.topic_prefix}{t}" for t in (EXECUTION_TOPIC, ALERTS_TOPIC)]
        existing = set(self._consumer.topics())
        missing = {name: partitions for name in names if name not in existing}
        if missing:
            ensure_topics(self.config.bootstrap_servers, missing)
            log.info("created output topics %s (%d partitions)", sorted(missing), partitions)

    # -- reference refresh ---------------------------------------------------------------------------

    def _refresh_loop(self) -> None:
        query = self.config.warehouse
        assert query is not None
        while not self._stop.wait(self.config.refresh_s):
            try:
                version = reference_version(query)
                if version == self.book.version and self._reference_error is None:
                    continue
                snapshot = load_reference(query)
                self._pending_reference = snapshot
                self._reference_error = None
                log.info("end-of-day output changed (%s -> %s): reloading the reference book", self.book.version,
                         version)
            except Exception as exc:  # warehouse locked by dbt, Athena down: keep the book, try again later
                self._reference_error = f"{type(exc).__name__}: {str(exc)[:300]}"
                log.warning("reference refresh failed (book kept, retried in %.0f s): %s", self.config.refresh_s,
                            self._reference_error)

    def _apply_pending_reference(self) -> None:
        snapshot = self._pending_reference
        if snapshot is not None:
            self._pending_reference = None
            self.book.load(snapshot)
            self._reference_loaded_at_ms = int(time.time() * 1000)

    # -- hot loop ------------------------------------------------------------------------------------

    def _handle(self, batch: MicroBatch, partition: int, record: Any) -> None:
        offset = record.offset
        batch.cover(partition, offset, self._next[partition])
        self._next[partition] = offset + 1
        timestamp = record.timestamp
        if timestamp > batch.newest_produced_ms:
            batch.newest_produced_ms = timestamp
        event = decode_trade_event(TOPIC, partition, offset, timestamp, record.value)
        now_ms = time.time() * 1000
        publisher = self.publisher
        assert publisher is not None
        if event is None:
            self.counts["tombstones"] += 1
            return
        if isinstance(event, InvalidTrade):
            self.counts["invalid"] += 1
            batch.invalid += 1
            batch.alerts[INVALID_TRADE] += 1
            log.warning("invalid trade record: %s", event.reason)
            publisher.publish_alert(batch, Alert(INVALID_TRADE, event.reason, event.reason_code, None),
                                    event_id=event.event_id, source_offset=offset, trade_id=event.trade_id,
                                    portfolio_id=event.portfolio_id, key=record.key, produced_ms=int(now_ms))
            return
        enriched = self.enricher.enrich(event, now_ms)
        row = enriched.row
        for alert in enriched.alerts:
            batch.alerts[alert.kind] += 1
        batch.rows.append(publisher.publish_trade(batch, row, enriched.alerts, int(now_ms)))
        latency = row["latency_ms"]
        batch.latencies.append(latency)
        self.counts["enriched"] += 1
        self._latencies.append(latency)

    def _refresh_end_offsets(self) -> None:
        consumer = self._consumer
        ends = {}
        for tp in self._partitions:
            high = consumer.highwater(tp)
            if high is not None:
                ends[tp.partition] = high
        if ends:
            self._end_offsets = {**self._end_offsets, **ends}

    def _pause(self) -> None:
        if not self._paused:
            self._consumer.pause(*self._partitions)
            self._paused = True
            self.counts["backpressure_pauses"] += 1

    def _resume(self) -> None:
        if self._paused:
            self._consumer.resume(*self._partitions)
            self._paused = False

    def _submit(self, batch: MicroBatch) -> None:
        """Hand ``batch`` to the writer; while its queue is full, stop consuming (back-pressure)."""
        writer = self.writer
        assert writer is not None
        if writer.submit(batch, 0.0):
            return
        self._pause()
        log.info("commit writer behind (%d batches pending): consuming paused", writer.pending)
        while not writer.submit(batch, 0.1):
            self.loop_at_ms = int(time.time() * 1000)
            if writer.failed is not None or not writer.is_alive():
                raise WorkerError(f"the commit writer stopped: {writer.failed!r}")
            if self._stop.is_set() and self._stop_deadline_passed():
                log.error("stopping with a batch of %d events not handed to the writer: it will be replayed",
                          len(batch))
                return

    def _stop_deadline_passed(self) -> bool:
        return time.monotonic() > self._stop_deadline

    def _hot_loop(self) -> None:
        config = self.config
        consumer = self._consumer
        writer = self.writer
        publisher = self.publisher
        assert writer is not None and publisher is not None
        deadline = time.monotonic() + config.run_for_s if config.run_for_s is not None else None
        batch: MicroBatch | None = None
        last_ends = 0.0
        while not self._stop.is_set():
            now = time.monotonic()
            self.loop_at_ms = int(time.time() * 1000)
            if deadline is not None and now >= deadline:
                log.info("ran for %.1f s: stopping", config.run_for_s)
                break
            if config.max_records is not None and self.counts["consumed"] >= config.max_records:
                log.info("consumed %d records: stopping", self.counts["consumed"])
                break
            if writer.failed is not None:
                raise WorkerError(f"the commit writer failed: {writer.failed!r}")
            if self._pending_reference is not None:
                self._apply_pending_reference()
            if batch is not None and (len(batch) >= config.batch_max_rows or batch.age_s(now) >= config.batch_max_s):
                self._submit(batch)
                batch = None
            if self.breakers.producer.current_state != "closed":  # open, or its probe under way: stop consuming
                self._pause()
                self._stop.wait(0.05)
                continue
            if self._paused:
                self._resume()
            wait_s = config.batch_max_s - batch.age_s(now) if batch is not None else 0.1
            limit = config.poll_max_records
            if config.max_records is not None:
                limit = max(1, min(limit, config.max_records - self.counts["consumed"]))
            polled = consumer.poll(timeout_ms=int(max(1.0, min(100.0, wait_s * 1000))), max_records=limit)
            if now - last_ends >= 0.1:
                self._refresh_end_offsets()
                last_ends = now
            if polled:
                publisher.hold_wakeups()  # one sender wake-up per poll, not one per new output batch
                try:
                    for tp, records in polled.items():
                        if batch is None:
                            batch = MicroBatch(TOPIC)
                        partition = tp.partition
                        for record in records:
                            self._handle(batch, partition, record)
                        self.counts["consumed"] += len(records)
                finally:
                    publisher.release_wakeups()
        if batch is not None and len(batch):
            self._submit(batch)

    # -- run -----------------------------------------------------------------------------------------

    def run(self) -> int:
        """Run until stopped (or ``max_records`` / ``run_for_s``); return the exit code (0: all committed)."""
        from mesh_assets.lib.lakehouse.positions import committed_positions

        config = self.config
        self._stop_deadline = float("inf")
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
            self._warm_up()
            self._replay_hot_table(table)
            self._connect(committed)
            if self._stop.is_set() and not self._partitions:
                self.status = "stopped"
                self.exit_code = 0
                return 0
            committer.wait_ready(config.warmup_timeout_s + 120)
            self.writer = CommitWriter(
                committer, self.publisher, self.breakers, config.worker_id, lambda: dict(self._end_offsets),
                committed, WriterSettings(max_pending_batches=config.max_pending_batches,
                                          flush_timeout_s=config.flush_timeout_s, heartbeat_s=config.heartbeat_s,
                                          snapshot_retention_s=config.snapshot_retention_s))
            self.writer.start()
            if config.warehouse is not None:
                threading.Thread(target=self._refresh_loop, name="mesh-stream-reference", daemon=True).start()
            self.status = "running"
            self._ready.set()
            log.info("mesh stream-trades ready: worker %s consuming %s (%d partitions) from %s", config.worker_id,
                     config.trades_topic, len(self._partitions), {str(p): o for p, o in sorted(self._next.items())})
            if config.tune_gc:
                gc.collect()
                gc.freeze()
                gc.set_threshold(50_000, 20, 100)
            try:
                self._hot_loop()
            finally:
                self._stop_deadline = time.monotonic() + config.shutdown_timeout_s
            self.status = "stopping"
            self._resume()
            committed_all = self.writer.finish(config.shutdown_timeout_s)
            if not committed_all:
                raise WorkerError(f"shutdown: {self.writer.pending} batch(es) not committed within "
                                  f"{config.shutdown_timeout_s:.0f} s ({self.writer.progress.last_error}); "
                                  "their events will be replayed by the next worker")
            self.status = "stopped"
            self.exit_code = 0
            log.info("stopped: %s consumed, %s committed rows, committed offsets %s", self.counts["consumed"],
                     self.writer.progress.committed_records, self.writer.progress.committed_positions)
            return 0
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
            self._close_clients()
            self.health_reporter.stop()
            self._done.set()

    def _close_clients(self) -> None:
        for client, name in ((self._producer, "producer"), (self._consumer, "consumer")):
            if client is None:
                continue
            try:
                if name == "producer":
                    client.close(timeout=5)
                else:
                    client.close()
            except Exception as exc:
                log.warning("closing the Kafka %s: %s", name, exc)
