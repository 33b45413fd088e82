"""The worker's Kafka clients: a consumer assigned to every trades partition at its committed position, the
output producer, and the output topics made with production settings (:mod:`trade_worker.topics`).

Positions come from the hot table, not a consumer group: every partition of the trades topic is assigned and
sought to its committed position (the log start when there is none). A committed position below the log start
(records deleted by retention before they were enriched) is a :class:`~trade_worker.config.WorkerError`.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from trade_worker.config import WorkerConfig, WorkerError
from trade_worker.outputs import ALERTS_TOPIC, EXECUTION_TOPIC, new_producer
from trade_worker.topics import ensure_topics
from trade_worker.trade_event import TOPIC

log = logging.getLogger("mesh.stream")


@dataclass
class Connection:
    """Open clients and where consuming starts."""

    consumer: Any
    producer: Any = None
    #: the assigned ``TopicPartition`` s of the trades topic (empty: stopped before the topic appeared)
    partitions: list[Any] | None = None
    #: the first offset to read per partition
    positions: dict[int, int] | None = None


def output_topics(config: WorkerConfig) -> list[str]:
    """The broker's names of the worker's output topics."""
    return [f"{config.topic_prefix}{topic}" for topic in (EXECUTION_TOPIC, ALERTS_TOPIC)]


def open_consumer(config: WorkerConfig) -> Any:
    """A consumer with no group and no auto-commit: positions are the hot table's."""
    from resources.kafka_client import client_settings, new_consumer

    security = client_settings()
    log.info("connecting to Kafka %s (%s)", config.bootstrap_servers, security.describe())
    return new_consumer(
        config.bootstrap_servers, security, client_id=f"mesh-stream-{config.worker_id}", group_id=None,
        enable_auto_commit=False, auto_offset_reset="none", max_poll_records=config.poll_max_records,
        fetch_max_wait_ms=10, fetch_min_bytes=1, request_timeout_ms=30_000, check_crcs=False,
        reconnect_backoff_max_ms=1_000,
    )


def assign_at_committed(connection: Connection, config: WorkerConfig, committed: dict[int, int],
                        stop: threading.Event) -> None:
    """Wait for the trades topic, assign all its partitions and seek each to its committed position."""
    from kafka import TopicPartition

    consumer = connection.consumer
    partitions = None
    while not stop.is_set():
        partitions = consumer.partitions_for_topic(config.trades_topic)
        if partitions:
            break
        log.warning("topic %s does not exist on %s yet; waiting", config.trades_topic, config.bootstrap_servers)
        stop.wait(2.0)
    connection.partitions, connection.positions = [], {}
    if not partitions:
        return
    assigned = [TopicPartition(config.trades_topic, p) for p in sorted(partitions)]
    consumer.assign(assigned)
    starts = consumer.beginning_offsets(assigned)
    for tp in assigned:
        position = committed.get(tp.partition)
        if position is None:
            position = starts[tp]
        elif position < starts[tp]:
            raise WorkerError(f"{TOPIC}-{tp.partition} ({tp.topic}): committed up to offset {position} but the log "
                              f"starts at {starts[tp]}; offsets {position}..{starts[tp] - 1} were deleted by "
                              "retention and cannot be enriched")
        consumer.seek(tp, position)
        connection.positions[tp.partition] = position
    connection.partitions = assigned


def connect(connection: Connection, config: WorkerConfig, committed: dict[int, int], stop: threading.Event) -> None:
    """Assign ``connection``'s consumer at the committed positions, then (once the trades topic exists) open the
    producer and make the output topics, with as many partitions as the trades topic. Clients are kept on
    ``connection`` as they open, so :func:`close` closes them whatever fails."""
    assign_at_committed(connection, config, committed, stop)
    if connection.partitions:
        connection.producer = new_producer(config.bootstrap_servers, f"mesh-stream-{config.worker_id}")
        ensure_topics(config.bootstrap_servers, dict.fromkeys(output_topics(config), len(connection.partitions)),
                      config.topics)


def close(connection: Connection | None) -> None:
    """Close the producer (5 s to deliver what it holds) and the consumer; log, never raise."""
    if connection is None:
        return
    for client, name in ((connection.producer, "producer"), (connection.consumer, "consumer")):
        if client is None:
            continue
        try:
            if name == "producer":
                client.close(timeout=5)
            else:
                client.close()
        except Exception as exc:
            log.warning("closing the Kafka %s: %s", name, exc)
