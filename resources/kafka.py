"""Kafka (Amazon MSK in aws, the local KRaft broker in development): end offsets and exact range reads.

No consumer group is used: positions live in the Iceberg tables, so a reader assigns the partitions
it was given, seeks to each range's start and stops at its end.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from mesh_assets.cdc.records import OffsetRange, SourceRecord


class KafkaRangeError(RuntimeError):
    """A range cannot be read as asked (unknown topic, records deleted by retention, timeout)."""


#: Bytes per record assumed when sizing fetches to a range (CDC envelopes are ~400 bytes).
RECORD_BYTES_ESTIMATE = 600
MAX_POLL_RECORDS = 20_000


def _consumer(bootstrap_servers: str, client_id: str, partition_fetch_bytes: int = 16 * 1024 * 1024):
    from kafka import KafkaConsumer

    return KafkaConsumer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="none",
        max_poll_records=MAX_POLL_RECORDS,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=partition_fetch_bytes,
        fetch_max_wait_ms=50,
        request_timeout_ms=30_000,
        check_crcs=True,  # C implementation from the crc32c package
    )


def end_offsets(bootstrap_servers: str, topic: str, topic_prefix: str = "") -> dict[int, int]:
    """Log-end offset of every partition of ``topic`` (reads metadata only, never payloads).

    ``topic_prefix`` maps the logical topic (``aladdin.trades``) to the broker's (``prod.aladdin.trades``).
    """
    from kafka import TopicPartition

    physical = f"{topic_prefix}{topic}"
    consumer = _consumer(bootstrap_servers, "mesh-cdc-offsets")
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
    from kafka import TopicPartition

    wanted = {TopicPartition(f"{topic_prefix}{r.topic}", r.partition): r for r in ranges if len(r)}
    if not wanted:
        return []
    # Fetch about what the ranges hold: a small range must not decode megabytes it throws away.
    longest = max(len(r) for r in wanted.values())
    fetch_bytes = min(16 * 1024 * 1024, max(256 * 1024, longest * RECORD_BYTES_ESTIMATE))
    consumer = _consumer(bootstrap_servers, "mesh-cdc-reader", fetch_bytes)
    try:
        consumer.assign(list(wanted))
        starts = consumer.beginning_offsets(list(wanted))
        for tp, r in wanted.items():
            if r.start < starts[tp]:
                raise KafkaRangeError(
                    f"{r.label()}: offsets {r.start}..{starts[tp] - 1} are no longer on the broker (log starts at "
                    f"{starts[tp]}); they cannot be ingested"
                )
            consumer.seek(tp, r.start)
        by_partition: dict[TopicPartition, list[SourceRecord]] = {tp: [] for tp in wanted}
        remaining = set(wanted)
        deadline = time.monotonic() + timeout_s
        while remaining:
            if time.monotonic() > deadline:
                progress = {wanted[tp].label(): consumer.position(tp) for tp in remaining}
                raise KafkaRangeError(f"timed out after {timeout_s:.0f}s reading ranges; positions reached: {progress}")
            needed = sum(wanted[tp].end - max(wanted[tp].start, consumer.position(tp)) for tp in remaining)
            for tp, records in consumer.poll(timeout_ms=200, max_records=max(1, min(MAX_POLL_RECORDS, needed))).items():
                r = wanted[tp]
                out = by_partition[tp]
                for rec in records:
                    if rec.offset >= r.end:
                        break
                    out.append(SourceRecord(r.topic, rec.partition, rec.offset, rec.timestamp, rec.key, rec.value))
                if (out and out[-1].offset >= r.end - 1) or consumer.position(tp) >= r.end:
                    remaining.discard(tp)
                    consumer.pause(tp)
        return [rec for tp in sorted(wanted) for rec in by_partition[tp]]
    finally:
        consumer.close()
