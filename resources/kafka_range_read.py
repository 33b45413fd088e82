"""Exact range reads from Kafka: the consumer settings, a read's fetch sizing and polling, a pool of idle consumers.

The read path shared by :mod:`resources.kafka` (a background thread of the caller's process) and
:mod:`resources.kafka_reader_process` (the helper process): same records, same checks, same error messages.
Hand-written over kafka-python's consumer because a range read stops at an end offset, which the client
has no call for.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Sequence

from mesh_assets.lib.cdc.records import OffsetRange, RecordChunk
from resources.kafka_client import KafkaClientSettings, client_settings, new_consumer


class KafkaRangeError(RuntimeError):
    """A range cannot be read as asked (unknown topic, records deleted by retention, timeout)."""


#: Bytes per record assumed when sizing fetches to a range (CDC envelopes are ~400 bytes).
RECORD_BYTES_ESTIMATE = 600
MAX_POLL_RECORDS = 1_000
#: Largest fetch per partition: ~2 MiB responses keep the next fetch on the wire while one is decoded
#: (the benchmark's bare variants: 16 MiB fetches and 20K-record polls are slower than 1-2 MiB).
PARTITION_FETCH_BYTES = 2 * 1024 * 1024
#: Largest first fetch per partition of a read: the first records arrive sooner (a read's caller waits for
#: them with nothing else to do), then fetches grow to the read's full size. It must hold a whole producer
#: batch: a partition whose next batch is larger than the limit returns nothing, except the first partition
#: of the response (KIP-74). 256 KiB returned one partition only for the benchmark's 512 KiB batches.
FIRST_FETCH_BYTES = 1024 * 1024
#: Least wait between two metadata requests (kafka-python's default is 100 ms): a reader asks for its
#: topics' metadata right after the bootstrap's, and would otherwise sleep ~100 ms on every range read.
RETRY_BACKOFF_MS = 20


def new_range_consumer(
    bootstrap_servers: str,
    client_id: str,
    partition_fetch_bytes: int = PARTITION_FETCH_BYTES,
    security: KafkaClientSettings | None = None,
):
    consumer = new_consumer(
        bootstrap_servers,
        security,
        client_id=client_id,
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="none",
        max_poll_records=MAX_POLL_RECORDS,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=partition_fetch_bytes,
        fetch_max_wait_ms=50,
        request_timeout_ms=30_000,
        retry_backoff_ms=RETRY_BACKOFF_MS,
        check_crcs=True,  # C implementation from the crc32c package
    )
    # kafka-python 3.0 builds its cluster metadata without the consumer's retry_backoff_ms (it keeps 100 ms):
    # set it where the metadata refresh reads it, if this version has it there (otherwise only slower).
    cluster_config = getattr(getattr(consumer, "_cluster", None), "config", None)
    if isinstance(cluster_config, dict) and "retry_backoff_ms" in cluster_config:
        cluster_config["retry_backoff_ms"] = RETRY_BACKOFF_MS
    return consumer

def iter_chunks(
    bootstrap_servers: str,
    ranges: Sequence[OffsetRange],
    topic_prefix: str,
    timeout_s: float,
    stop: threading.Event | None = None,
    consumers: ConsumerPool | None = None,
    security: KafkaClientSettings | None = None,
) -> Iterator[RecordChunk]:
    """Records of ``ranges`` as columnar chunks, in poll order (offset order within a partition).

    ``security``: the client settings (default: this process's, :func:`resources.kafka_client.client_settings`).

    ``consumers``: a pool to take the consumer from and give it back to after a clean read (a
    long-lived reader saves the connection, handshake and metadata of a new consumer per read).
    """
    from kafka import TopicPartition
    from kafka.errors import OffsetOutOfRangeError

    wanted = {TopicPartition(f"{topic_prefix}{r.topic}", r.partition): r for r in ranges if len(r)}
    if not wanted:
        return
    # Fetch about what the ranges hold, in pieces the client decodes while the next one is on the wire:
    # a small range must not decode megabytes it throws away, a large one gains nothing from huge fetches.
    longest = max(len(r) for r in wanted.values())
    fetch_bytes = min(PARTITION_FETCH_BYTES, max(256 * 1024, longest * RECORD_BYTES_ESTIMATE))
    security = security or client_settings()
    key = (bootstrap_servers, fetch_bytes, security)
    consumer = consumers.take(key) if consumers is not None else None
    if consumer is None:
        consumer = new_range_consumer(bootstrap_servers, "mesh-cdc-reader", fetch_bytes, security)
    clean = False
    try:
        for physical in sorted({tp.topic for tp in wanted}):
            # Leaders known before the first poll: that poll sends its fetches at once instead of
            # spending its timeout waiting for metadata.
            consumer.partitions_for_topic(physical)
        consumer.assign(list(wanted))
        for tp, r in wanted.items():
            consumer.seek(tp, r.start)
        full_fetches = _small_first_fetch(consumer, FIRST_FETCH_BYTES)
        try:
            yield from _poll_chunks(consumer, wanted, timeout_s, stop, after_first_records=full_fetches)
        finally:
            full_fetches()
        clean = stop is None or not stop.is_set()
    except OffsetOutOfRangeError:
        # A start before the log start (records lost to retention): the broker refuses the fetch, and
        # auto_offset_reset="none" makes the client raise instead of jumping. Name the range at fault.
        starts = consumer.beginning_offsets(list(wanted))
        for tp, r in wanted.items():
            if r.start < starts[tp]:
                raise KafkaRangeError(
                    f"{r.label()}: offsets {r.start}..{starts[tp] - 1} are no longer on the broker (log starts at "
                    f"{starts[tp]}); they cannot be ingested"
                ) from None
        raise
    finally:
        if clean and consumers is not None:
            consumers.give_back(key, consumer)
        else:
            consumer.close()


def _small_first_fetch(consumer, first_bytes: int):
    """Make the consumer's next fetches at most ``first_bytes`` per partition; return the function that puts
    its own size back (call it once the first records are in; calling it again does nothing).

    A broker answers a 6 x 2 MiB fetch in ~50 ms here (and kafka-python takes as long again to take in the 12 MB
    response), a 6 x 1 MiB one in about half that; a record batch larger than the limit still comes whole, but
    only in the first partition of a response (KIP-74). kafka-python reads the size from its fetcher's config at
    each fetch request; on a version without that config this changes nothing (the first records only come later).
    """
    config = getattr(getattr(consumer, "_fetcher", None), "config", None)
    if not isinstance(config, dict) or not isinstance(config.get("max_partition_fetch_bytes"), int):
        return lambda: None
    full = config["max_partition_fetch_bytes"]
    if first_bytes >= full:
        return lambda: None
    config["max_partition_fetch_bytes"] = first_bytes

    def restore() -> None:
        config["max_partition_fetch_bytes"] = full

    return restore


class ConsumerPool:
    """Idle range-reading consumers of one process, by (bootstrap servers, partition fetch bytes, client settings).

    A consumer is given back only after a read that reached every range's end; the next read assigns
    its own partitions and seeks, which drops whatever the consumer had fetched beyond the old ranges.
    """

    def __init__(self) -> None:
        self._idle: dict[tuple, object] = {}

    def take(self, key: tuple):
        """An idle consumer for ``key`` (now in use), or ``None``."""
        return self._idle.pop(key, None)

    def give_back(self, key: tuple, consumer) -> None:
        """Keep ``consumer`` for the next read (its partitions unassigned); one idle consumer per key."""
        # kafka-python keeps records fetched for paused partitions parked, and never fetches a partition
        # with parked records again: the parked records of the old ranges must go, or a later read of the
        # same partition stalls. The fetcher's own close() drops its buffers (it closes no connection).
        drop_buffers = getattr(getattr(consumer, "_fetcher", None), "close", None)
        try:
            if drop_buffers is None:
                raise AttributeError("this kafka-python has no KafkaConsumer._fetcher.close")
            consumer.unsubscribe()
            drop_buffers()
        except Exception:
            consumer.close()
            return
        previous = self._idle.pop(key, None)
        if previous is not None:
            previous.close()
        self._idle[key] = consumer

    def close(self) -> None:
        """Close every idle consumer."""
        while self._idle:
            self._idle.popitem()[1].close()


def _poll_chunks(
    consumer, wanted: dict, timeout_s: float, stop: threading.Event | None, after_first_records=None
) -> Iterator[RecordChunk]:
    """Poll assigned, positioned partitions until each range's end; one chunk per partition and poll.

    ``after_first_records`` (optional) is called once, after the first poll that returned records."""
    last_offset = dict.fromkeys(wanted, -1)
    remaining = set(wanted)
    deadline = time.monotonic() + timeout_s
    while remaining:
        if stop is not None and stop.is_set():
            return
        if time.monotonic() > deadline:
            progress = {wanted[tp].label(): consumer.position(tp) for tp in remaining}
            raise KafkaRangeError(f"timed out after {timeout_s:.0f}s reading ranges; positions reached: {progress}")
        needed = sum(wanted[tp].end - max(wanted[tp].start, consumer.position(tp)) for tp in remaining)
        polled = consumer.poll(timeout_ms=200, max_records=max(1, min(MAX_POLL_RECORDS, needed)))
        if polled and after_first_records is not None:
            after_first_records()
            after_first_records = None
        for tp, records in polled.items():
            r = wanted[tp]
            if records[-1].offset >= r.end:
                records = [rec for rec in records if rec.offset < r.end]
            if records:
                last_offset[tp] = records[-1].offset
                yield RecordChunk(
                    r.topic, r.partition, [rec.offset for rec in records], [rec.timestamp for rec in records],
                    [rec.key for rec in records], [rec.value for rec in records],
                )
            if last_offset[tp] >= r.end - 1 or consumer.position(tp) >= r.end:
                remaining.discard(tp)
                consumer.pause(tp)
