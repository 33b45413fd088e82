"""The hot loop: poll ``aladdin.trades``, decode, enrich, send the outputs, fill the micro-batch, hand it over.

One thread runs it. A micro-batch closes at ``batch_max_rows`` rows or ``batch_max_s`` seconds and goes to the
commit writer; while the writer's queue is full, or the ``producer`` breaker is not closed, consuming pauses
(back-pressure) and resumes once it can go on. It stops on the stop event, after ``max_records`` records or
``run_for_s`` seconds, and hands over the open batch before returning.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from typing import Any

from trade_worker.alerts import INVALID_TRADE, Alert
from trade_worker.breakers import Breakers
from trade_worker.commit_writer import CommitWriter
from trade_worker.config import WorkerConfig, WorkerError
from trade_worker.enrichment import TradeEnricher
from trade_worker.micro_batch import MicroBatch
from trade_worker.outputs import OutputPublisher
from trade_worker.reference_refresh import ReferenceKeeper
from trade_worker.trade_event import TOPIC, InvalidTrade, decode_trade_event

log = logging.getLogger("mesh.stream")


class HotLoop:
    """The consuming side of one worker: positions, counts, latencies, pause state, and the loop itself."""

    def __init__(self, config: WorkerConfig, enricher: TradeEnricher, breakers: Breakers,
                 reference: ReferenceKeeper, stop: threading.Event) -> None:
        self.config = config
        self.enricher = enricher
        self.breakers = breakers
        self.reference = reference
        self._stop = stop
        self.counts = {"consumed": 0, "enriched": 0, "invalid": 0, "tombstones": 0, "backpressure_pauses": 0}
        #: next offset to read per partition, and the broker's end offsets (for lag)
        self.next: dict[int, int] = {}
        self.end_offsets: dict[int, int] = {}
        self.partitions: list[Any] = []
        self.latencies: collections.deque[float] = collections.deque(maxlen=5_000)
        self.paused = False
        self.loop_at_ms: int | None = None
        #: once passed while stopping, a batch the writer cannot take is left to be replayed
        self.stop_deadline = float("inf")
        self.consumer: Any = None
        self.publisher: OutputPublisher | None = None
        self.writer: CommitWriter | None = None

    # -- one record ----------------------------------------------------------------------------------

    def _handle(self, batch: MicroBatch, partition: int, record: Any) -> None:
        offset = record.offset
        batch.cover(partition, offset, self.next[partition])
        self.next[partition] = offset + 1
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
        self.latencies.append(latency)

    # -- flow control --------------------------------------------------------------------------------

    def _refresh_end_offsets(self) -> None:
        consumer = self.consumer
        ends = {}
        for tp in self.partitions:
            high = consumer.highwater(tp)
            if high is not None:
                ends[tp.partition] = high
        if ends:
            self.end_offsets = {**self.end_offsets, **ends}

    def pause(self) -> None:
        """Stop fetching every partition (back-pressure)."""
        if not self.paused:
            self.consumer.pause(*self.partitions)
            self.paused = True
            self.counts["backpressure_pauses"] += 1

    def resume(self) -> None:
        """Fetch again after :meth:`pause`."""
        if self.paused:
            self.consumer.resume(*self.partitions)
            self.paused = False

    def _submit(self, batch: MicroBatch) -> None:
        """Hand ``batch`` to the writer; while its queue is full, stop consuming (back-pressure)."""
        writer = self.writer
        assert writer is not None
        if writer.submit(batch, 0.0):
            return
        self.pause()
        log.info("commit writer behind (%d batches pending): consuming paused", writer.pending)
        while not writer.submit(batch, 0.1):
            self.loop_at_ms = int(time.time() * 1000)
            if writer.failed is not None or not writer.is_alive():
                raise WorkerError(f"the commit writer stopped: {writer.failed!r}")
            if self._stop.is_set() and time.monotonic() > self.stop_deadline:
                log.error("stopping with a batch of %d events not handed to the writer: it will be replayed",
                          len(batch))
                return

    # -- the loop ------------------------------------------------------------------------------------

    def run(self) -> None:
        """Consume until stopped (or ``max_records`` / ``run_for_s``); hand over the open batch at the end."""
        config = self.config
        consumer = self.consumer
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
            if self.reference.pending is not None:
                self.reference.apply_pending()
            if batch is not None and (len(batch) >= config.batch_max_rows or batch.age_s(now) >= config.batch_max_s):
                self._submit(batch)
                batch = None
            if self.breakers.producer.current_state != "closed":  # open, or its probe under way: stop consuming
                self.pause()
                self._stop.wait(0.05)
                continue
            if self.paused:
                self.resume()
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
