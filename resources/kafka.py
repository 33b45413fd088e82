"""Kafka (Amazon MSK in aws, the local KRaft broker in development): end offsets and exact range reads.

No consumer group is used: positions live in the Iceberg tables, so a reader assigns the partitions
it was given, seeks to each range's start and stops at its end.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator, Sequence

from mesh_assets.lib.cdc.records import OffsetRange, RecordChunk, SourceRecord
from resources.kafka_client import client_settings
from resources.kafka_range_read import KafkaRangeError, iter_chunks, new_range_consumer

__all__ = ["PROCESS_MIN_RECORDS", "KafkaRangeError", "end_offsets", "read_chunks", "read_ranges"]


def end_offsets(bootstrap_servers: str, topic: str, topic_prefix: str = "") -> dict[int, int]:
    """Log-end offset of every partition of ``topic`` (reads metadata only, never payloads).

    ``topic_prefix`` maps the logical topic (``aladdin.trades``) to the broker's (``prod.aladdin.trades``).
    """
    from kafka import TopicPartition

    physical = f"{topic_prefix}{topic}"
    consumer = new_range_consumer(bootstrap_servers, "mesh-cdc-offsets")
    try:
        partitions = consumer.partitions_for_topic(physical)
        if not partitions:
            raise KafkaRangeError(f"topic {physical} does not exist on {bootstrap_servers}")
        ends = consumer.end_offsets([TopicPartition(physical, p) for p in sorted(partitions)])
        return {tp.partition: offset for tp, offset in ends.items()}
    finally:
        consumer.close()

def read_ranges(
    bootstrap_servers: str, ranges: Sequence[OffsetRange], topic_prefix: str = "", timeout_s: float = 120.0
) -> list[SourceRecord]:
    """Exactly the records of ``ranges`` (assign + seek, stop at each end), in (partition, offset) order.

    Ranges name logical topics; records come back under those names whatever ``topic_prefix`` says.

    Raises :class:`KafkaRangeError` naming the partition when a range starts before the log start
    (records lost to retention) or cannot be read to its end within ``timeout_s``.
    """
    by_partition: dict[tuple[str, int], list[SourceRecord]] = {}
    for chunk in iter_chunks(bootstrap_servers, ranges, topic_prefix, timeout_s):
        out = by_partition.setdefault((chunk.topic, chunk.partition), [])
        out.extend(chunk.record(i) for i in range(len(chunk)))
    return [rec for key in sorted(by_partition) for rec in by_partition[key]]


class _Done:
    """End of the background read."""


#: A read of at least this many records goes to the helper process (:mod:`resources.kafka_reader_process`);
#: smaller ones are read by a thread of this process (the helper's start, ~0.5 s once, would not pay off).
PROCESS_MIN_RECORDS = 20_000


def read_chunks(
    bootstrap_servers: str,
    ranges: Sequence[OffsetRange],
    topic_prefix: str = "",
    timeout_s: float = 120.0,
    prefetch_chunks: int = 16,
    process: bool | None = None,
) -> Iterator[RecordChunk]:
    """The records of ``ranges`` as :class:`RecordChunk` s, read in the background while the caller works.

    Same records and errors as :func:`read_ranges`, in poll order: offset order within a partition,
    partitions interleaved. ``process``: read in this process's helper process (records decoded on
    another core, see :mod:`resources.kafka_reader_process`) or in a background thread; ``None``
    chooses the helper for reads of :data:`PROCESS_MIN_RECORDS` records or more (a thread when the
    helper is busy with another read). Up to ``prefetch_chunks`` chunks (helper: frames of a few
    thousand records) are read ahead. Closing the iterator early (or an error in the caller) stops the
    reader: the thread closes its consumer, the helper process is killed.
    """
    if process is None:
        process = sum(len(r) for r in ranges) >= PROCESS_MIN_RECORDS
    if process:
        from resources import kafka_reader_process

        with kafka_reader_process.reserved() as helper:
            if helper is not None:
                request = kafka_reader_process.request(bootstrap_servers, ranges, topic_prefix, timeout_s,
                                                       client_settings())  # fmt: skip
                yield from helper.read(request, list(ranges), timeout_s, max(prefetch_chunks, 4))
                return
    yield from _read_chunks_in_thread(bootstrap_servers, ranges, topic_prefix, timeout_s, prefetch_chunks)


def _read_chunks_in_thread(
    bootstrap_servers: str, ranges: Sequence[OffsetRange], topic_prefix: str, timeout_s: float, prefetch_chunks: int
) -> Iterator[RecordChunk]:
    """:func:`read_chunks` by a background thread of this process."""
    handoff: queue.Queue = queue.Queue(maxsize=prefetch_chunks)
    stop = threading.Event()

    def put(item: object) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            with contextlib.closing(iter_chunks(bootstrap_servers, ranges, topic_prefix, timeout_s, stop)) as chunks:
                for chunk in chunks:
                    if not put(chunk):
                        return
            put(_Done)
        except BaseException as exc:  # handed to the caller's thread, raised there
            put(exc)

    reader = threading.Thread(target=run, name="mesh-cdc-reader", daemon=True)
    reader.start()
    try:
        while True:
            item = handoff.get()
            if item is _Done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        reader.join(timeout=30)
