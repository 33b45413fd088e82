"""The commit writer: a background thread that delivers each micro-batch's outputs, then commits it to Iceberg.

Order per batch (the stream contract): outputs produced -> ``producer.flush()`` (through the ``producer``
breaker) -> one Iceberg commit of rows, ranges, positions and ``mesh.stream.stats``
(:func:`~mesh_assets.lib.lakehouse.exactly_once.append_exactly_once`), made by the commit *process*
(:mod:`~trade_worker.commit_process`) so that Iceberg's CPU work never holds the hot process's GIL;
this thread waits for its answer before it counts the batch committed. The hot path never waits on Iceberg: it
only hands batches over a bounded queue, and pauses consuming when the queue is full (back-pressure).

Nothing is dropped: a batch whose delivery or commit fails is retried until it succeeds or the worker is
told to give up at shutdown (then its offsets stay uncommitted and the next worker replays them with the
same event ids). When idle, or stuck delivering, for ``heartbeat_s`` the writer sets the table property
``mesh.stream.heartbeat`` (a metadata-only commit, never an empty snapshot), so an open breaker shows there.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from mesh_assets.lib.lakehouse.exactly_once import OffsetGapError
from mesh_assets.lib.lakehouse.summary_keys import STREAM_STATS_KEY
from trade_worker.alerts import ALERT_KINDS
from trade_worker.breakers import Breakers
from trade_worker.commit_process import CommitProcessLost
from trade_worker.micro_batch import MicroBatch, stream_stats
from trade_worker.outputs import DeliveryError, OutputPublisher

if TYPE_CHECKING:
    from trade_worker.commit_process import CommitProcess

log = logging.getLogger(__name__)


@dataclass
class WriterSettings:
    """Bounds and timings of the commit writer."""

    max_pending_batches: int = 4
    flush_timeout_s: float = 10.0
    heartbeat_s: float = 5.0
    retry_pause_s: float = 0.2
    #: snapshots older than this are expired (0: never); checked at most every ``expire_every_s``
    snapshot_retention_s: float = 24 * 3600.0
    expire_every_s: float = 600.0


@dataclass
class WriterProgress:
    """What the writer has done, for health and stats (read by other threads; replaced, never mutated)."""

    committed_positions: dict[int, int] = field(default_factory=dict)
    commits: int = 0
    committed_records: int = 0
    heartbeats: int = 0
    last_commit_ms: int | None = None
    last_snapshot_id: int | None = None
    last_stats: dict[str, Any] | None = None
    delivery_failures: int = 0
    commit_failures: int = 0
    resent: int = 0
    alerts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ALERT_KINDS, 0))
    last_error: str | None = None


class CommitWriter(threading.Thread):
    """Delivers and commits micro-batches in order, off the hot path."""

    def __init__(self, committer: CommitProcess, publisher: OutputPublisher, breakers: Breakers,
                 worker_id: str, end_offsets: Callable[[], dict[int, int]],
                 committed_positions: dict[int, int], settings: WriterSettings | None = None) -> None:
        super().__init__(name="mesh-stream-commit-writer", daemon=True)
        self.settings = settings or WriterSettings()
        self._committer = committer
        self._publisher = publisher
        self._breakers = breakers
        self._worker_id = worker_id
        self._end_offsets = end_offsets
        self._queue: queue.Queue[MicroBatch] = queue.Queue(maxsize=max(1, self.settings.max_pending_batches))
        self._finish = threading.Event()
        self._abandon = threading.Event()
        self._in_flight = 0
        self._lock = threading.Lock()
        self.progress = WriterProgress(committed_positions=dict(committed_positions))
        self.failed: BaseException | None = None
        self._last_word = time.monotonic()
        self._last_expiry = time.monotonic()
        self._newest_produced_ms = 0

    # -- hot-thread side ---------------------------------------------------------------------------

    def submit(self, batch: MicroBatch, timeout_s: float) -> bool:
        """Queue ``batch``; False when the queue stayed full for ``timeout_s`` (the caller pauses consuming)."""
        try:
            self._queue.put(batch, timeout=timeout_s)
        except queue.Full:
            return False
        with self._lock:
            self._in_flight += 1
        return True

    @property
    def pending(self) -> int:
        """Batches handed over and not committed yet."""
        return self._in_flight

    def has_room(self) -> bool:
        """True when a batch can be queued without waiting."""
        return not self._queue.full()

    def finish(self, timeout_s: float) -> bool:
        """Commit what is queued, then stop; True when everything handed over was committed in ``timeout_s``."""
        self._finish.set()
        self.join(timeout_s)
        if self.is_alive():
            self._abandon.set()
            self.join(5)
        return self._in_flight == 0 and self.failed is None

    # -- writer thread -----------------------------------------------------------------------------

    def run(self) -> None:
        try:
            while True:
                try:
                    batch = self._queue.get(timeout=0.1)
                except queue.Empty:
                    if self._finish.is_set():
                        return
                    self._idle_duties()
                    continue
                if not self._process(batch):
                    return
                with self._lock:
                    self._in_flight -= 1
        except BaseException as exc:  # surfaced to the worker, which stops with a non-zero exit
            self.failed = exc
            log.exception("commit writer failed")

    def _process(self, batch: MicroBatch) -> bool:
        """Deliver then commit ``batch``, retrying; False if abandoned at shutdown."""
        import pybreaker

        while True:
            if self._abandon.is_set():
                return False
            try:
                self.progress.resent += self._breakers.producer.call(self._publisher.deliver, batch,
                                                                     self.settings.flush_timeout_s)
                break
            except pybreaker.CircuitBreakerError:
                pass  # open: wait for the reset timeout's half-open probe
            except DeliveryError as exc:
                self.progress.delivery_failures += 1
                self.progress.last_error = str(exc)
                log.warning("delivery of a batch of %d events failed (producer breaker %s): %s", len(batch),
                            self._breakers.producer.current_state, exc)
            self._beat_if_due()  # stuck on delivery: still say so in the table (the open breaker shows)
            time.sleep(self.settings.retry_pause_s)
        while True:
            if self._abandon.is_set():
                return False
            try:
                self._commit(batch)
                return True
            except (OffsetGapError, CommitProcessLost):
                # the table is ahead of what this worker read, or behind with a hole, or the commit process keeps
                # dying: never retried, never hidden (the worker exits non-zero; the next one re-reads the table)
                raise
            except Exception as exc:  # catalog unreachable, conflict beyond our retries: try again
                self.progress.commit_failures += 1
                self.progress.last_error = f"commit failed: {type(exc).__name__}: {exc}"
                log.warning("commit of a batch of %d events failed, retrying: %s", len(batch), exc)
                time.sleep(max(self.settings.retry_pause_s, 1.0))

    def _stats(self, records: int, alerts: dict[str, int], latency: dict[str, float] | None,
               positions: dict[int, int]) -> dict[str, Any]:
        return stream_stats(worker_id=self._worker_id, records=records, alerts=alerts, latency=latency,
                            breakers=self._breakers.states(), end_offsets=self._end_offsets(), positions=positions,
                            newest_produced_ms=self._newest_produced_ms)

    def _commit(self, batch: MicroBatch) -> None:
        ranges = batch.offset_ranges()
        positions = dict(self.progress.committed_positions)
        for r in ranges:
            positions[r.partition] = max(positions.get(r.partition, 0), r.end)
        self._newest_produced_ms = max(self._newest_produced_ms, batch.newest_produced_ms)
        stats = self._stats(len(batch.rows), batch.alerts, batch.latency(), positions)
        outcome = self._committer.commit(ranges, batch.rows, {STREAM_STATS_KEY: orjson.dumps(stats).decode()})
        committed = {p: offset for (topic, p), offset in outcome.positions.items() if topic == batch.topic}
        progress = self.progress
        alerts = {k: progress.alerts.get(k, 0) + (batch.alerts.get(k, 0) if outcome.committed else 0)
                  for k in ALERT_KINDS}
        self.progress = WriterProgress(
            committed_positions=committed, commits=progress.commits + int(outcome.committed),
            committed_records=progress.committed_records + outcome.rows_written, heartbeats=progress.heartbeats,
            last_commit_ms=stats["committed_at_ms"], last_snapshot_id=outcome.snapshot_id, last_stats=stats,
            delivery_failures=progress.delivery_failures, commit_failures=progress.commit_failures,
            resent=progress.resent, alerts=alerts, last_error=progress.last_error,
        )
        self._last_word = time.monotonic()
        log.debug("committed %d rows, ranges %s (snapshot %s)", outcome.rows_written,
                  [r.label() for r in outcome.ranges], outcome.snapshot_id)

    def _beat_if_due(self) -> None:
        now = time.monotonic()
        if now - self._last_word >= self.settings.heartbeat_s:
            self._last_word = now
            try:
                self.heartbeat()
            except Exception as exc:
                self.progress.last_error = f"heartbeat failed: {type(exc).__name__}: {exc}"
                log.warning("heartbeat failed: %s", exc)

    def _idle_duties(self) -> None:
        self._beat_if_due()
        now = time.monotonic()
        retention = self.settings.snapshot_retention_s
        if retention > 0 and now - self._last_expiry >= self.settings.expire_every_s:
            self._last_expiry = now
            try:
                self.expire_snapshots(retention)
            except Exception as exc:
                log.warning("snapshot expiry failed (retried later): %s", exc)

    def heartbeat(self) -> dict[str, Any]:
        """Set ``mesh.stream.heartbeat`` on the hot table (records 0, no latency); return the beat."""
        beat = self._stats(0, {}, None, dict(self.progress.committed_positions))
        self._committer.heartbeat(orjson.dumps(beat).decode())
        self.progress.heartbeats += 1
        self.progress.last_stats = beat
        return beat

    def expire_snapshots(self, retention_s: float) -> None:
        """Expire the hot table's snapshots older than ``retention_s`` (the current one is always kept)."""
        self._committer.expire_snapshots(retention_s)
