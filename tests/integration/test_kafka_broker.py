"""The local Apache Kafka broker, for real: topics, keyed produce/consume by partition, status, restart.

Uses the session's ``kafka_broker`` fixture (tests/kafka_fixtures.py). The restart test runs last in this file
and restarts the session's broker in place on the same data folder and port.
"""

from __future__ import annotations

import socket
import time
import uuid

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord

from mesh_dev.local import kafka_broker as broker
from tests.kafka_fixtures import KafkaEndpoint

pytestmark = pytest.mark.integration


def _unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _produce(bootstrap: str, topic: str, partition: int, messages: list[tuple[bytes, bytes]]) -> list[int]:
    """Send keyed messages to one explicit partition (acks=all, idempotent); return their offsets."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    try:
        futures = [producer.send(topic, key=key, value=value, partition=partition) for key, value in messages]
        producer.flush(timeout=30)
        metadata = [future.get(timeout=30) for future in futures]
    finally:
        producer.close(timeout=10)
    assert {m.partition for m in metadata} == {partition}
    return [m.offset for m in metadata]


def _consumer(bootstrap: str) -> KafkaConsumer:
    return KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)


def _read(consumer: KafkaConsumer, tp: TopicPartition, count: int, timeout_s: float = 30) -> list[ConsumerRecord]:
    records: list[ConsumerRecord] = []
    deadline = time.monotonic() + timeout_s
    while len(records) < count and time.monotonic() < deadline:
        records.extend(consumer.poll(timeout_ms=500).get(tp, []))
    return records


def _read_from(bootstrap: str, tp: TopicPartition, offset: int, count: int) -> list[ConsumerRecord]:
    consumer = _consumer(bootstrap)
    try:
        consumer.assign([tp])
        consumer.seek(tp, offset)
        return _read(consumer, tp, count)
    finally:
        consumer.close()


def _managed(kafka_broker: KafkaEndpoint) -> broker.BrokerInfo:
    if kafka_broker.managed is None:
        pytest.skip("MESH_KAFKA_BOOTSTRAP points at an external broker: its lifecycle is not ours")
    return kafka_broker.managed


def test_ensure_topics_is_idempotent(kafka_broker: KafkaEndpoint) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    wanted = {_unique("it-positions"): 3, _unique("it-trades"): 6}

    broker.ensure_topics(bootstrap, wanted)
    broker.ensure_topics(bootstrap, wanted)  # again: nothing to do, no error

    with KafkaAdminClient(bootstrap_servers=bootstrap) as admin:
        described = {t["name"]: len(t["partitions"]) for t in admin.describe_topics(list(wanted))}
    assert described == wanted
    first = next(iter(wanted))
    with pytest.raises(broker.KafkaBrokerError, match="partitions"):
        broker.ensure_topics(bootstrap, {first: 4})


def test_keyed_messages_to_an_explicit_partition_come_back_in_order(kafka_broker: KafkaEndpoint) -> None:
    bootstrap = kafka_broker.bootstrap_servers
    topic = _unique("it-orders")
    broker.ensure_topics(bootstrap, {topic: 3})
    sent = [(f"acct-{i % 4}".encode(), f"order-{i:03d}".encode()) for i in range(25)]

    assert _produce(bootstrap, topic, 2, sent) == list(range(25))

    tp = TopicPartition(topic, 2)
    consumer = _consumer(bootstrap)
    try:
        consumer.assign([tp])
        consumer.seek(tp, 0)
        records = _read(consumer, tp, len(sent))
        assert [(r.key, r.value) for r in records] == sent
        assert [r.offset for r in records] == list(range(25))
        assert {r.partition for r in records} == {2}

        consumer.seek(tp, 10)  # rewind to the middle
        assert [r.value for r in _read(consumer, tp, 15)] == [v for _, v in sent[10:]]

        ends = consumer.end_offsets([TopicPartition(topic, p) for p in range(3)])
        assert {p.partition: o for p, o in ends.items()} == {0: 0, 1: 0, 2: 25}
    finally:
        consumer.close()


def test_status_reports_the_running_broker(kafka_broker: KafkaEndpoint) -> None:
    info = _managed(kafka_broker)
    topic = _unique("it-status")
    broker.ensure_topics(info.bootstrap_servers, {topic: 1})

    state = broker.status(info.data_dir)

    assert state["running"] is True and state["reachable"] is True
    assert state["bootstrap"] == info.bootstrap_servers
    assert isinstance(state["pid"], int)
    assert state["cluster_id"] == broker.CLUSTER_ID
    assert state["version"] == broker.kafka_version()
    assert topic in state["topics"]
    # start() on a running data folder returns the same broker instead of launching another
    assert broker.start(info.data_dir, port=info.port).pid == state["pid"]


def test_a_port_taken_by_another_process_is_named(tmp_path) -> None:
    port = broker.find_free_port_pair()
    for taken in (port, port + 1):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as squatter:
            squatter.bind(("127.0.0.1", taken))
            squatter.listen()
            with pytest.raises(broker.PortInUseError, match=str(taken)):
                broker.start(tmp_path / "kafka", port=port, wait_s=5)
    assert broker.status(tmp_path / "kafka")["running"] is False


def test_restart_keeps_topics_and_messages(kafka_broker: KafkaEndpoint) -> None:
    """Runs last: stops the session's broker and starts it again on the same data folder and port."""
    info = _managed(kafka_broker)
    bootstrap = info.bootstrap_servers
    topic = _unique("it-durable")
    broker.ensure_topics(bootstrap, {topic: 2})
    sent = [(f"k{i}".encode(), f"v{i}".encode()) for i in range(10)]
    _produce(bootstrap, topic, 1, sent)

    assert broker.stop(info.data_dir) is True
    assert broker.status(info.data_dir)["running"] is False
    assert broker.stop(info.data_dir) is False  # nothing left to stop

    restarted = broker.start(info.data_dir, port=info.port, wait_s=120, stop_at_exit=True)

    assert restarted.bootstrap_servers == bootstrap
    assert topic in broker.status(info.data_dir)["topics"]
    broker.ensure_topics(bootstrap, {topic: 2})  # still there, same shape
    records = _read_from(bootstrap, TopicPartition(topic, 1), 0, len(sent))
    assert [(r.key, r.value) for r in records] == sent
    assert [r.offset for r in records] == list(range(10))
