"""Range reads from a real Kafka broker: the background chunk reader and the record reader agree."""

from __future__ import annotations

import re
import threading
import uuid

import pytest

from mesh_assets.cdc import OffsetRange
from resources import kafka

pytestmark = pytest.mark.integration


@pytest.fixture
def topic(kafka_broker):
    """A fresh 3-partition topic with 300 records per partition (values name partition and offset)."""
    from kafka import KafkaAdminClient, KafkaProducer
    from kafka.admin import NewTopic

    name = f"reader.{uuid.uuid4().hex[:8]}"
    bootstrap = kafka_broker.bootstrap_servers
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    producer = KafkaProducer(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(name, 3, 1)])
        for partition in range(3):
            for offset in range(300):
                value = None if offset % 50 == 49 else f'{{"p":{partition},"o":{offset}}}'.encode()
                producer.send(name, key=f"k{offset}".encode(), value=value, partition=partition)
        producer.flush()
        yield {"bootstrap": bootstrap, "name": name, "admin": admin}
    finally:
        producer.close()
        admin.close()


def test_chunks_hold_exactly_the_records_of_the_ranges(topic):
    ranges = [OffsetRange(topic["name"], 0, 10, 290), OffsetRange(topic["name"], 2, 0, 300),
              OffsetRange(topic["name"], 1, 5, 5)]  # fmt: skip
    chunks = list(kafka.read_chunks(topic["bootstrap"], ranges))
    from_chunks = sorted(
        (c.partition, c.offsets[i], c.keys[i], c.values[i], c.timestamps_ms[i]) for c in chunks for i in range(len(c))
    )
    from_records = [(r.partition, r.offset, r.key, r.value, r.timestamp_ms)
                    for r in kafka.read_ranges(topic["bootstrap"], ranges)]  # fmt: skip
    assert from_chunks == from_records
    assert [(p, o) for p, o, *_ in from_records] == [(0, o) for o in range(10, 290)] + [(2, o) for o in range(300)]
    for chunk in chunks:
        assert chunk.offsets == sorted(chunk.offsets)


def test_a_range_lost_to_retention_is_refused_naming_it(topic):
    from kafka import TopicPartition

    topic["admin"].delete_records({TopicPartition(topic["name"], 1): 100})
    lost = OffsetRange(topic["name"], 1, 20, 150)
    expected = re.escape(f"{lost.label()}: offsets 20..99 are no longer on the broker (log starts at 100)")
    with pytest.raises(kafka.KafkaRangeError, match=expected):
        kafka.read_ranges(topic["bootstrap"], [lost])
    with pytest.raises(kafka.KafkaRangeError, match=expected):
        list(kafka.read_chunks(topic["bootstrap"], [OffsetRange(topic["name"], 0, 0, 10), lost]))
    assert [r.offset for r in kafka.read_ranges(topic["bootstrap"], [OffsetRange(topic["name"], 1, 100, 103)])] == [
        100,
        101,
        102,
    ]


def test_closing_the_chunk_iterator_early_stops_the_background_reader(topic):
    chunks = kafka.read_chunks(topic["bootstrap"], [OffsetRange(topic["name"], p, 0, 300) for p in range(3)],
                               prefetch_chunks=1)  # fmt: skip
    first = next(chunks)
    assert len(first) > 0
    chunks.close()
    assert not [t for t in threading.enumerate() if t.name == "mesh-cdc-reader"]
