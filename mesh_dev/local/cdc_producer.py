"""Replay the synthetic firm's Aladdin CDC capture into a real Kafka broker.

The capture (``<firm>/aladdin/cdc/<topic>.jsonl``) holds one Kafka record per line, with the partition and
offset the record had on the source cluster: ``{"topic", "partition", "offset", "timestamp_ms", "key": str,
"value": str | null}``. :func:`produce_capture` sends every record, in capture order, to its explicit
partition with the exact key and value bytes (``value`` null is a tombstone) and the captured timestamp,
through an idempotent producer (``enable_idempotence=True``, ``acks='all'``). Produced into fresh topics the
broker hands out the very offsets of the capture, which the result reports (``offsets_match_capture``).

Malformed records are produced as they are: they are part of the stream the consumer must dead-letter.

Pure Python, no Dagster import (``kafka-python`` and ``orjson``).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from mesh_assets.lib.cdc import capture
from mesh_assets.lib.cdc.records import SourceRecord
from mesh_dev.local import kafka_broker

#: The Aladdin CDC topics of the capture, in the order they are produced.
CDC_TOPICS: tuple[str, ...] = ("aladdin.trades", "aladdin.cash_flows")

#: Topic configuration set on every CDC topic. The capture's record timestamps are historical (the firm's
#: trading days), so time-based retention (broker default 168 h, checked every 5 minutes) would delete the
#: replayed records minutes after they were produced: retention is switched off on these topics.
TOPIC_CONFIGS: dict[str, str] = {"retention.ms": "-1", "retention.bytes": "-1"}

#: Producer settings: idempotent (exactly one copy per record, per-partition order kept with up to 5
#: requests in flight), acks from all in-sync replicas, and batching tuned for throughput.
PRODUCER_CONFIG: dict[str, Any] = {
    "enable_idempotence": True,
    "acks": "all",
    "linger_ms": 20,
    "batch_size": 512 * 1024,
    "max_request_size": 4 * 1024 * 1024,
    "max_in_flight_requests_per_connection": 5,
    "allow_auto_create_topics": False,
    "max_block_ms": 60_000,
    "metrics_enabled": False,  # client-side metrics cost ~20% of the send path and are never read here
    "request_timeout_ms": 30_000,
    "delivery_timeout_ms": 120_000,
}

#: How often (in records) the progress callback is called.
PROGRESS_EVERY = 500

ProgressFn = Callable[[int, int], None]


class CdcProduceError(RuntimeError):
    """The capture could not be produced: missing capture or topic, or records the broker did not accept."""


#: A capture line is a Kafka record with its source position (kept as a name for readers of this module).
CaptureRecord = SourceRecord


def capture_dir(firm_dir: Path | str) -> Path:
    """The CDC capture folder of a firm: ``<firm>/aladdin/cdc``."""
    return Path(firm_dir) / "aladdin" / "cdc"


def capture_path(folder: Path | str, topic: str) -> Path:
    """The capture file of ``topic`` in ``folder``: ``<folder>/<topic>.jsonl``."""
    return Path(folder) / f"{topic}.jsonl"


def firm_partitions(firm_dir: Path | str) -> int:
    """The firm's Kafka partition count (``kafka_partitions`` of ``firm.json``)."""
    manifest = Path(firm_dir) / "firm.json"
    try:
        return int(json.loads(manifest.read_text(encoding="utf-8"))["kafka_partitions"])
    except FileNotFoundError:
        raise CdcProduceError(
            f"no firm at {firm_dir}: {manifest} is missing (generate one with `mesh generate`)"
        ) from None
    except (KeyError, TypeError, ValueError) as exc:
        raise CdcProduceError(f"{manifest} has no valid kafka_partitions ({exc})") from exc


def read_capture(path: Path | str) -> Iterator[CaptureRecord]:
    """The records of one capture file, in capture order (:func:`mesh_assets.lib.cdc.capture.read_capture`)."""
    try:
        yield from capture.read_capture(path)
    except capture.CaptureFormatError as exc:
        raise CdcProduceError(str(exc)) from exc


def count_capture(path: Path | str) -> int:
    """Number of records in a capture file (non-blank lines), without parsing them."""
    path = Path(path)
    if not path.is_file():
        raise CdcProduceError(f"CDC capture not found at {path}")
    with path.open("rb") as handle:
        return sum(1 for line in handle if line.strip())


def topic_names(
    topics: Iterable[str] = CDC_TOPICS, topic_map: Mapping[str, str] | None = None, topic_prefix: str = ""
) -> dict[str, str]:
    """Capture topic -> broker topic: ``topic_map`` entries win, else ``topic_prefix + topic``."""
    mapping = dict(topic_map or {})
    return {topic: mapping.get(topic, f"{topic_prefix}{topic}") for topic in topics}


def ensure_cdc_topics(
    bootstrap: str,
    partitions: int,
    topics: Iterable[str] = CDC_TOPICS,
    *,
    topic_map: Mapping[str, str] | None = None,
    topic_prefix: str = "",
    timeout_s: float = 30.0,
) -> dict[str, str]:
    """Create the CDC topics (``partitions`` each, retention off) if missing; return capture -> broker topic.

    Idempotent. An existing topic with another partition count is an error (:func:`kafka_broker.ensure_topics`).
    """
    names = topic_names(topics, topic_map, topic_prefix)
    kafka_broker.ensure_topics(bootstrap, dict.fromkeys(names.values(), partitions), timeout_s=timeout_s)
    _set_topic_configs(bootstrap, list(names.values()), TOPIC_CONFIGS, timeout_s)
    return names


def _set_topic_configs(bootstrap: str, topics: list[str], configs: dict[str, str], timeout_s: float) -> None:
    """Set ``configs`` on ``topics`` and wait until the broker describes them with those values."""
    from kafka.admin import ConfigResource, ConfigResourceType

    from resources.kafka_client import new_admin

    timeout_ms = int(timeout_s * 1000)
    deadline = time.monotonic() + timeout_s
    with new_admin(
        bootstrap,
        client_id="mesh-cdc-topics",
        bootstrap_timeout_ms=timeout_ms,
        request_timeout_ms=timeout_ms,
    ) as admin:
        result = admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, t, dict(configs)) for t in topics])
        failed = {name: outcome for name, outcome in (result.get("topic") or {}).items() if outcome != "OK"}
        if failed:
            raise CdcProduceError(f"could not configure topics on {bootstrap}: {failed}")
        while True:  # the broker applies the controller's change from its metadata log a moment later
            described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, t) for t in topics])
            lagging = [
                t
                for t in topics
                if any(
                    ((described.get("topic") or {}).get(t) or {}).get(key, {}).get("value") != value
                    for key, value in configs.items()
                )
            ]
            if not lagging:
                return
            if time.monotonic() >= deadline:
                raise CdcProduceError(f"topics {lagging} on {bootstrap} did not take the configs {configs}")
            time.sleep(0.1)


def _broker_partitions(bootstrap: str, topics: list[str]) -> dict[str, int]:
    """Partition counts of ``topics`` on the broker (0 for a topic that does not exist)."""
    from resources.kafka_client import new_admin

    with new_admin(bootstrap, client_id="mesh-cdc-topics") as admin:
        existing = set(admin.list_topics())
        present = [t for t in topics if t in existing]
        described = admin.describe_topics(present) if present else []
    counts = dict.fromkeys(topics, 0)
    counts.update({t["name"]: len(t.get("partitions") or []) for t in described})
    return counts


class _Acks:
    """Broker acknowledgements per topic-partition, updated from the producer's I/O thread."""

    def __init__(self) -> None:
        self.partitions: dict[tuple[str, int], dict[str, int]] = {}
        self.mismatches: list[dict[str, Any]] = []
        self.mismatch_count = 0
        self.errors: list[str] = []
        self.error_count = 0

    def ok(self, capture_topic: str, capture_offset: int, metadata: Any) -> None:
        slot = (metadata.topic, metadata.partition)
        offset = metadata.offset
        stats = self.partitions.get(slot)
        if stats is None:
            self.partitions[slot] = {"records": 1, "first_offset": offset, "last_offset": offset}
        else:
            stats["records"] += 1
            stats["first_offset"] = min(stats["first_offset"], offset)
            stats["last_offset"] = max(stats["last_offset"], offset)
        if offset != capture_offset:
            self.mismatch_count += 1
            if len(self.mismatches) < 10:
                self.mismatches.append(
                    {"topic": metadata.topic, "capture_topic": capture_topic, "partition": metadata.partition,
                     "capture_offset": capture_offset, "broker_offset": offset}
                )  # fmt: skip

    def failed(self, position: str, exc: BaseException) -> None:
        self.error_count += 1
        if len(self.errors) < 10:
            self.errors.append(f"{position}: {type(exc).__name__}: {exc}")


class _Pacer:
    """Paces sends to ``rate`` records per second: record ``i`` leaves no earlier than ``start + i / rate``."""

    def __init__(self, rate: float | None) -> None:
        if rate is not None and rate <= 0:
            raise ValueError(f"rate must be > 0 records/s, not {rate}")
        self.interval = 1.0 / rate if rate else 0.0
        self.start = time.perf_counter()
        self.sent = 0

    def wait(self) -> None:
        if self.interval:
            due = self.start + self.sent * self.interval
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
        self.sent += 1


def produce_capture(
    bootstrap: str,
    capture_dir: Path | str,
    topics: Iterable[str] = CDC_TOPICS,
    rate: float | None = None,
    limit: int | None = None,
    progress: ProgressFn | None = None,
    *,
    topic_map: Mapping[str, str] | None = None,
    topic_prefix: str = "",
    producer_config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Produce the capture of ``topics`` from ``capture_dir`` to ``bootstrap``; return what the broker acknowledged.

    Records go in capture order (topic by topic, each file in its order) to their captured partition, with
    their exact key and value bytes (``None`` value = tombstone) and captured timestamp. The broker topics are
    ``topic_map[topic]`` or ``topic_prefix + topic`` (to target fresh topics); they must exist with at least
    the captured partitions (:func:`ensure_cdc_topics`).

    Args:
        rate: records per second over the whole run (paced sends); ``None`` = as fast as possible.
        limit: produce at most the first ``limit`` records of each topic (a prefix of every partition).
        progress: ``progress(done, total)`` called every :data:`PROGRESS_EVERY` records (every record when
            ``rate`` is set) and at the end.
        producer_config: overrides of :data:`PRODUCER_CONFIG` (kafka-python ``KafkaProducer`` settings).

    Returns:
        ``{"bootstrap", "topics": {capture topic: {"topic", "records", "tombstones", "bytes"}},
        "partitions": {"<topic>-<partition>": {"topic", "partition", "records", "first_offset",
        "last_offset"}}, "records", "tombstones", "bytes", "offsets_match_capture", "offset_mismatches",
        "offset_mismatch_examples",
        "elapsed_s", "records_per_s", "mb_per_s"}``; offsets are the broker's acknowledgements.

    Raises:
        CdcProduceError: a capture or topic is missing, a record has no partition on the broker, or the
            broker did not acknowledge every record.
    """
    from resources.kafka_client import new_producer

    topics = list(topics)
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be >= 0, not {limit}")
    names = topic_names(topics, topic_map, topic_prefix)
    folder = Path(capture_dir)
    paths = {topic: capture_path(folder, topic) for topic in topics}
    counts = {topic: count_capture(path) for topic, path in paths.items()}
    planned = {topic: min(n, limit) if limit is not None else n for topic, n in counts.items()}
    total = sum(planned.values())

    on_broker = _broker_partitions(bootstrap, list(names.values()))
    missing = [name for name, n in on_broker.items() if n == 0]
    if missing:
        raise CdcProduceError(
            f"topics {missing} do not exist on {bootstrap}: create them first (ensure_cdc_topics / mesh produce-cdc)"
        )

    config = {**PRODUCER_CONFIG, **(producer_config or {})}
    producer = new_producer(bootstrap, client_id="mesh-cdc-producer", **config)
    acks = _Acks()
    pacer = _Pacer(rate)
    per_topic: dict[str, dict[str, Any]] = {}
    done = 0
    nbytes = 0
    started = time.perf_counter()
    try:
        for topic in topics:
            target = names[topic]
            partitions = on_broker[target]
            stats = {"topic": target, "records": 0, "tombstones": 0, "bytes": 0}
            per_topic[topic] = stats
            if not planned[topic]:
                continue
            for record in read_capture(paths[topic]):
                if record.partition >= partitions:
                    raise CdcProduceError(
                        f"{topic}/{record.partition}@{record.offset}: topic {target} has only {partitions} partitions"
                    )
                pacer.wait()
                future = producer.send(
                    target,
                    value=record.value,
                    key=record.key,
                    partition=record.partition,
                    timestamp_ms=record.timestamp_ms,
                )
                future.add_callback(acks.ok, topic, record.offset)
                future.add_errback(acks.failed, f"{topic}/{record.partition}@{record.offset}")
                size = len(record.key or b"") + len(record.value or b"")
                stats["records"] += 1
                stats["bytes"] += size
                stats["tombstones"] += record.value is None
                nbytes += size
                done += 1
                if progress is not None and (done % PROGRESS_EVERY == 0 or pacer.interval):
                    progress(done, total)
                if stats["records"] >= planned[topic]:
                    break
        producer.flush(timeout=config["delivery_timeout_ms"] / 1000)
    finally:
        producer.close(timeout=30)
    elapsed = time.perf_counter() - started
    if progress is not None:
        progress(done, total)

    acked = sum(s["records"] for s in acks.partitions.values())
    if acks.error_count or acked != done:
        raise CdcProduceError(
            f"the broker at {bootstrap} acknowledged {acked} of {done} records ({acks.error_count} failed): "
            + "; ".join(acks.errors)
        )
    partitions_out = {
        f"{topic}-{partition}": {"topic": topic, "partition": partition, **stats}
        for (topic, partition), stats in sorted(acks.partitions.items())
    }
    return {
        "bootstrap": bootstrap,
        "topics": per_topic,
        "partitions": partitions_out,
        "records": done,
        "tombstones": sum(s["tombstones"] for s in per_topic.values()),
        "bytes": nbytes,
        "offsets_match_capture": acks.mismatch_count == 0,
        "offset_mismatches": acks.mismatch_count,
        "offset_mismatch_examples": acks.mismatches,
        "elapsed_s": round(elapsed, 3),
        "records_per_s": round(done / elapsed, 1) if elapsed > 0 else None,
        "mb_per_s": round(nbytes / elapsed / 1e6, 2) if elapsed > 0 else None,
    }
