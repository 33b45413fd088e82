"""``mesh produce-cdc`` for real: the small firm's CDC capture replayed into the session's Kafka broker.

Every test produces into fresh topics (a unique topic prefix), so broker offsets start at 0 like the capture's.
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

import pytest
import typer
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import ConfigResource, ConfigResourceType
from typer.testing import CliRunner

from mesh_dev.local import cdc_producer
from mesh_dev.local.produce_cli import produce_cdc
from tests.kafka_fixtures import KafkaEndpoint

pytestmark = pytest.mark.integration


def _prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}."


def _capture(firm: Path, topic: str) -> list[cdc_producer.CaptureRecord]:
    """The capture read independently of the producer (stdlib json): the bytes the broker must hold."""
    records = []
    with (firm / "aladdin" / "cdc" / f"{topic}.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            raw = json.loads(line)
            records.append(
                cdc_producer.CaptureRecord(
                    topic=raw["topic"],
                    partition=raw["partition"],
                    offset=raw["offset"],
                    timestamp_ms=raw["timestamp_ms"],
                    key=raw["key"].encode("utf-8"),
                    value=None if raw["value"] is None else raw["value"].encode("utf-8"),
                )
            )
    return records


def _consume_all(bootstrap: str, topic: str, timeout_s: float = 60) -> dict[tuple[int, int], object]:
    """Every record of ``topic`` by (partition, offset): assign all partitions, seek to 0, poll to the end."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        ends = consumer.end_offsets(tps)
        records: dict[tuple[int, int], object] = {}
        deadline = time.monotonic() + timeout_s
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            assert time.monotonic() < deadline, f"{topic}: not all records read within {timeout_s}s"
            for batch in consumer.poll(timeout_ms=500).values():
                for record in batch:
                    records[(record.partition, record.offset)] = record
        return records
    finally:
        consumer.close()


def _produce(bootstrap: str, firm: Path, prefix: str, **kwargs) -> dict:
    topics = kwargs.pop("topics", cdc_producer.CDC_TOPICS)
    cdc_producer.ensure_cdc_topics(bootstrap, cdc_producer.firm_partitions(firm), topics, topic_prefix=prefix)
    return cdc_producer.produce_capture(
        bootstrap, cdc_producer.capture_dir(firm), topics, topic_prefix=prefix, **kwargs
    )


def test_small_firm_offsets_equal_capture(kafka_broker: KafkaEndpoint, small_firm: Path) -> None:
    bootstrap, prefix = kafka_broker.bootstrap_servers, _prefix()
    progress: list[tuple[int, int]] = []
    result = _produce(bootstrap, small_firm, prefix, progress=lambda done, total: progress.append((done, total)))

    captures = {topic: _capture(small_firm, topic) for topic in cdc_producer.CDC_TOPICS}
    assert result["offsets_match_capture"] is True
    assert result["offset_mismatches"] == 0
    assert result["records"] == sum(len(records) for records in captures.values())
    assert progress[-1] == (result["records"], result["records"])
    assert result["tombstones"] == sum(r.value is None for records in captures.values() for r in records) > 0

    expected: dict[str, dict] = {}
    for topic, records in captures.items():
        assert result["topics"][topic]["records"] == len(records)
        for record in records:
            stats = expected.setdefault(
                f"{prefix}{topic}-{record.partition}",
                {"topic": f"{prefix}{topic}", "partition": record.partition, "records": 0, "first_offset": None,
                 "last_offset": None},
            )  # fmt: skip
            stats["records"] += 1
            if stats["first_offset"] is None:
                stats["first_offset"] = record.offset
            stats["last_offset"] = record.offset
    assert result["partitions"] == expected

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None)
    try:
        for topic, records in captures.items():
            partitions = cdc_producer.firm_partitions(small_firm)
            tps = [TopicPartition(f"{prefix}{topic}", p) for p in range(partitions)]
            capture_ends = {p: 0 for p in range(partitions)}
            for record in records:
                capture_ends[record.partition] = record.offset + 1
            assert {tp.partition: end for tp, end in consumer.end_offsets(tps).items()} == capture_ends
    finally:
        consumer.close()


def test_topics_keep_historical_records(kafka_broker: KafkaEndpoint) -> None:
    """The capture's timestamps are months old: time-based retention must be off or the broker deletes them."""
    bootstrap, prefix = kafka_broker.bootstrap_servers, _prefix()
    names = cdc_producer.ensure_cdc_topics(bootstrap, 3, topic_prefix=prefix)
    assert names == {topic: f"{prefix}{topic}" for topic in cdc_producer.CDC_TOPICS}
    with KafkaAdminClient(bootstrap_servers=bootstrap) as admin:
        described = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name) for name in names.values()])
    for name in names.values():
        configs = described["topic"][name]
        assert configs["retention.ms"]["value"] == "-1"
        assert configs["retention.bytes"]["value"] == "-1"
    cdc_producer.ensure_cdc_topics(bootstrap, 3, topic_prefix=prefix)  # idempotent


def test_consumed_records_are_byte_identical(kafka_broker: KafkaEndpoint, small_firm: Path) -> None:
    bootstrap, prefix = kafka_broker.bootstrap_servers, _prefix()
    _produce(bootstrap, small_firm, prefix)
    for topic in cdc_producer.CDC_TOPICS:
        capture = _capture(small_firm, topic)
        consumed = _consume_all(bootstrap, f"{prefix}{topic}")
        assert len(consumed) == len(capture)
        for expected in capture:
            got = consumed[(expected.partition, expected.offset)]
            assert got.key == expected.key, expected
            assert got.value == expected.value, expected
            assert got.timestamp == expected.timestamp_ms, expected
    trades = _consume_all(bootstrap, f"{prefix}aladdin.trades")
    tombstones = [r for r in trades.values() if r.value is None]
    assert tombstones, "the small firm's trades topic carries tombstones"
    assert all(r.key for r in tombstones)
    truncated = [r for r in trades.values() if r.value is not None and not r.value.rstrip().endswith(b"}")]
    assert truncated, "malformed (truncated) records are produced as they are"


def test_rate_limit_paces_sends(kafka_broker: KafkaEndpoint, small_firm: Path) -> None:
    bootstrap, prefix = kafka_broker.bootstrap_servers, _prefix()
    started = time.perf_counter()
    result = _produce(bootstrap, small_firm, prefix, topics=("aladdin.trades",), rate=200, limit=100)
    elapsed = time.perf_counter() - started
    assert result["records"] == 100
    assert result["offsets_match_capture"] is True  # a limit keeps a prefix of every partition
    assert result["elapsed_s"] >= 0.45
    assert elapsed >= 0.45
    assert result["records_per_s"] <= 220


def test_missing_topic_is_a_clear_error(kafka_broker: KafkaEndpoint, small_firm: Path) -> None:
    with pytest.raises(cdc_producer.CdcProduceError, match="do not exist"):
        cdc_producer.produce_capture(
            kafka_broker.bootstrap_servers, cdc_producer.capture_dir(small_firm), topic_prefix=_prefix()
        )


def test_cli_produces_the_firm(kafka_broker: KafkaEndpoint, small_firm: Path) -> None:
    app = typer.Typer()
    app.command("produce-cdc")(produce_cdc)
    app.command("noop")(lambda: None)  # two commands: the sub-command name is required, as on the main app
    prefix = _prefix()
    result = CliRunner().invoke(
        app,
        ["produce-cdc", "--firm-dir", str(small_firm), "--bootstrap", kafka_broker.bootstrap_servers,
         "--topic", "aladdin.cash_flows", "--topic-prefix", prefix],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "offsets equal the capture's: yes" in " ".join(result.output.split())
    consumed = _consume_all(kafka_broker.bootstrap_servers, f"{prefix}aladdin.cash_flows")
    assert len(consumed) == len(_capture(small_firm, "aladdin.cash_flows"))


def test_replaying_twice_appends_at_other_offsets(kafka_broker: KafkaEndpoint, small_firm: Path) -> None:
    bootstrap, prefix = kafka_broker.bootstrap_servers, _prefix()
    first = _produce(bootstrap, small_firm, prefix, topics=("aladdin.cash_flows",), limit=10)
    second = _produce(bootstrap, small_firm, prefix, topics=("aladdin.cash_flows",), limit=10)
    assert first["offsets_match_capture"] is True
    assert second["offsets_match_capture"] is False
    assert second["offset_mismatches"] == 10
    example = second["offset_mismatch_examples"][0]
    assert example["broker_offset"] > example["capture_offset"]
