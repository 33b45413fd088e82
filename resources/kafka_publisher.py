"""Publishing distribution events: a Kafka broker (MSK in aws, the local broker), or the embedded outbox.

The backend comes from configuration (``resources/environment.py``): ``kafka`` when a broker is configured,
``outbox`` (``.data/outbox/<topic>.jsonl``) otherwise. Both offer the same operations on logical topic names:
make sure the topic exists, its end offsets, read records back from given offsets, and publish events.
kafka-python is imported inside the functions that use it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from dagster import ConfigurableResource
from pydantic import Field

if TYPE_CHECKING:
    from mesh_assets.lib.distribution.events import DistributionEvent
    from mesh_assets.lib.distribution.ledger import Delivery, TopicRead

BACKENDS = ("kafka", "outbox")
#: kafka-python's error code for a topic created by someone else between our list and our create.
_TOPIC_ALREADY_EXISTS = 36


class PublishError(RuntimeError):
    """An event the broker did not acknowledge, or a topic that cannot be used; the message names it."""


def ensure_topic(bootstrap: str, topic: str, partitions: int, replication_factor: int, timeout_s: float) -> int:
    """Create ``topic`` with ``partitions`` if it is missing (an existing topic is kept as it is); its
    partition count. ``replication_factor`` -1 takes the broker's default (3 on MSK, 1 on a local broker)."""
    from resources.kafka_client import new_admin

    timeout_ms = int(timeout_s * 1000)
    with new_admin(bootstrap, client_id="mesh-distribution-topics", bootstrap_timeout_ms=timeout_ms,
                   request_timeout_ms=timeout_ms) as admin:
        if topic not in set(admin.list_topics()):
            response = admin.create_topics(
                {topic: {"num_partitions": partitions, "replication_factor": replication_factor}},
                timeout_ms=timeout_ms, raise_errors=False)
            failed = [f"error {t['error_code']} {t.get('error_message') or ''}".strip() for t in response["topics"]
                      if t["error_code"] not in (0, _TOPIC_ALREADY_EXISTS)]
            if failed:
                raise PublishError(f"could not create topic {topic} on {bootstrap}: {'; '.join(failed)}")
        admin.wait_for_topics([topic], timeout_ms=timeout_ms)
        [described] = admin.describe_topics([topic])
    return len(described.get("partitions") or [])


def log_bounds(bootstrap: str, topic: str) -> dict[int, tuple[int, int]]:
    """``{partition: (log start, log end)}`` of ``topic`` (metadata only, no payload)."""
    from kafka import TopicPartition

    from resources.kafka_client import new_consumer

    consumer = new_consumer(bootstrap, client_id="mesh-distribution-offsets", group_id=None, enable_auto_commit=False)
    try:
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            raise PublishError(f"topic {topic} does not exist on {bootstrap}")
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        starts, ends = consumer.beginning_offsets(tps), consumer.end_offsets(tps)
        return {tp.partition: (starts[tp], ends[tp]) for tp in tps}
    finally:
        consumer.close()


def produce(bootstrap: str, topic: str, events: Sequence[DistributionEvent], timeout_s: float) -> list[Delivery]:
    """Send ``events`` keyed by fund through an idempotent producer (``acks='all'``) and wait for every ack."""
    from kafka.errors import KafkaError

    from mesh_assets.lib.distribution.ledger import Delivery
    from resources.kafka_client import new_producer

    if not events:
        return []
    producer = new_producer(
        bootstrap, client_id="mesh-distribution", enable_idempotence=True, acks="all",
        linger_ms=5, max_in_flight_requests_per_connection=5, allow_auto_create_topics=False,
        request_timeout_ms=30_000, delivery_timeout_ms=int(timeout_s * 1000), max_block_ms=int(timeout_s * 1000),
    )
    try:
        sent = [(e, producer.send(topic, key=e.key, value=e.value, headers=e.headers)) for e in events]
        producer.flush(timeout=timeout_s)
        deliveries = []
        for event, future in sent:
            try:
                metadata = future.get(timeout=timeout_s)
            except KafkaError as exc:
                raise PublishError(f"{topic}: event {event.event_id} (portfolio {event.portfolio_id}, "
                                   f"{event.document['as_of_date']}) was not acknowledged: {exc!r}") from exc
            deliveries.append(Delivery(event.event_id, event.portfolio_id, metadata.partition, metadata.offset))
        return deliveries
    finally:
        producer.close(timeout=timeout_s)


class KafkaPublisherResource(ConfigurableResource):
    """Where distribution events go: a Kafka broker (``kafka``) or JSON-lines outbox files (``outbox``)."""

    backend: str = Field(description="'kafka' (a broker: MSK in aws, the local broker) or 'outbox' (JSON lines)")
    bootstrap_servers: str | None = Field(default=None, description="kafka: bootstrap servers")
    topic_prefix: str = Field(default="", description="kafka: prefix of the broker's topic names, e.g. 'test.'")
    outbox_dir: str | None = Field(default=None, description="outbox: folder of <topic>.jsonl files")
    partitions: int = Field(default=6, description="kafka: partitions of a topic created here (kept if it exists)")
    replication_factor: int = Field(default=-1, description="kafka: replicas of a topic created here; -1 = broker "
                                                            "default")
    timeout_s: float = Field(default=60, description="kafka: how long a topic creation, read or ack may take")

    def broker_topic(self, topic: str) -> str:
        """The topic's name on the broker (with the prefix), or the outbox file's path."""
        if self._backend_is_kafka():
            return f"{self.topic_prefix}{topic}"
        return str(self._outbox(topic))

    def ensure_topic(self, topic: str) -> int:
        """Create the topic if missing; its partition count (1 for the outbox)."""
        if self._backend_is_kafka():
            return ensure_topic(self._bootstrap(), self.broker_topic(topic), self.partitions,
                                self.replication_factor, float(self.timeout_s))
        return 1

    def end_offsets(self, topic: str) -> dict[int, int]:
        """The next offset per partition: where a publication starting now would write."""
        if self._backend_is_kafka():
            return {p: end for p, (_, end) in log_bounds(self._bootstrap(), self.broker_topic(topic)).items()}
        from mesh_assets.lib.distribution import outbox

        return outbox.end_offsets(self._outbox(topic))

    def read(self, topic: str, starts: Mapping[int, int] | None) -> TopicRead:
        """The events from ``starts`` (per partition; None: from the log start) to the current end.

        Partitions missing from ``starts`` are read from their log start; a start the broker no longer
        holds (retention) is read from the log start and reported in ``truncated``.
        """
        from mesh_assets.lib.distribution import outbox
        from mesh_assets.lib.distribution.ledger import read_events

        if not self._backend_is_kafka():
            path = self._outbox(topic)
            first, end = int((starts or {}).get(outbox.PARTITION, 0)), outbox.end_offsets(path)[outbox.PARTITION]
            return read_events(outbox.read_records(path, topic, starts), {outbox.PARTITION: (first, end)})
        from mesh_assets.lib.cdc.records import OffsetRange
        from resources.kafka import read_ranges

        ranges, truncated = {}, {}
        for partition, (begin, end) in log_bounds(self._bootstrap(), self.broker_topic(topic)).items():
            start = begin if starts is None else int(starts.get(partition, begin))
            if start < begin or start > end:  # deleted by retention, or the topic was recreated
                truncated[partition] = (start, begin)
                start = begin
            ranges[partition] = (start, end)
        records = read_ranges(self._bootstrap(), [OffsetRange(topic, p, s, e) for p, (s, e) in ranges.items()],
                              self.topic_prefix, timeout_s=float(self.timeout_s))
        return read_events(records, ranges, truncated)

    def publish(self, topic: str, events: Sequence[DistributionEvent]) -> list[Delivery]:
        """Publish ``events`` in order; one delivery (partition, offset) per event.

        The outbox skips events whose id it already holds (``created=False``); the broker takes every event
        it is given (the caller skips replays before, see ``mesh_assets/distribution/assets.py``).
        """
        if self._backend_is_kafka():
            return produce(self._bootstrap(), self.broker_topic(topic), events, float(self.timeout_s))
        import time

        from mesh_assets.lib.distribution import outbox

        return outbox.append_unique(self._outbox(topic), events, int(time.time() * 1000))

    def _backend_is_kafka(self) -> bool:
        if self.backend not in BACKENDS:
            raise ValueError(f"unknown publisher backend {self.backend!r}; expected one of {', '.join(BACKENDS)}")
        return self.backend == "kafka"

    def _bootstrap(self) -> str:
        if not self.bootstrap_servers:
            raise ValueError("the kafka publisher backend needs bootstrap_servers (MESH_KAFKA_BOOTSTRAP)")
        return self.bootstrap_servers

    def _outbox(self, topic: str) -> Path:
        from mesh_assets.lib.distribution.outbox import outbox_path

        if not self.outbox_dir:
            raise ValueError("the outbox publisher backend needs outbox_dir (the folder of <topic>.jsonl files)")
        return outbox_path(self.outbox_dir, topic)
