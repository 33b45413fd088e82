"""Authenticated Kafka, for real: a broker whose only client listener is SASL_SSL (SCRAM-SHA-512 users created at
format time, a certificate from a trustme CA), and the project's own clients configured only through the
``MESH_KAFKA_*`` settings (:mod:`resources.kafka_client`).

The CDC path (the sensor's end offsets and a run's range read through ``resources/kafka.py``, and the reader's
helper process) and the trade-stream worker connect through it; a wrong password, a client without TLS and a
client that does not trust the broker's CA are refused, each with one clear error that never shows a password.
"""

from __future__ import annotations

import json
import uuid

import pytest

from mesh_assets.lib.cdc import OffsetRange
from mesh_assets.lib.lakehouse import tables
from mesh_dev.local import cdc_producer
from mesh_dev.local import kafka_broker as broker
from resources import kafka as kafka_reader
from resources.kafka_client import KafkaAuthenticationFailed, KafkaClientSettings, new_consumer
from tests.integration.test_cdc_kafka import capture, evaluate_sensor, positions, run_request
from tests.integration.test_trade_stream_worker import (
    CLOSES,
    InProcessWorker,
    build_warehouse,
    hot_rows,
    trade,
    wait_committed,
)
from tests.integration.test_trade_stream_worker import change as trade_change
from tests.kafka_fixtures import SaslKafkaEndpoint

pytestmark = pytest.mark.integration


def use(monkeypatch: pytest.MonkeyPatch, sasl: SaslKafkaEndpoint, user: str, password: str | None = None) -> None:
    """Point this process's Kafka settings at ``sasl`` as ``user`` (as the deploy files' environment does)."""
    for name, value in sasl.environment(user, password).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("MESH_KAFKA_BOOTSTRAP", sasl.bootstrap_servers)


@pytest.fixture
def sasl_cdc(sasl_kafka_broker, small_firm, tmp_path, monkeypatch, instance):
    """The small firm's capture in fresh topics of the SASL broker; the code location's settings point at it."""
    sasl = sasl_kafka_broker
    prefix = f"s{uuid.uuid4().hex[:8]}."
    use(monkeypatch, sasl, "mesh-test-producer")
    manifest = json.loads((small_firm / "firm.json").read_text())
    cdc_producer.ensure_cdc_topics(sasl.bootstrap_servers, manifest["kafka_partitions"], topic_prefix=prefix)
    produced = cdc_producer.produce_capture(sasl.bootstrap_servers, cdc_producer.capture_dir(small_firm),
                                            topic_prefix=prefix)  # fmt: skip
    assert produced["offsets_match_capture"]
    use(monkeypatch, sasl, "mesh-ingest")
    monkeypatch.setenv("MESH_ENV", "local")
    monkeypatch.setenv("MESH_KAFKA_TOPIC_PREFIX", prefix)
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MESH_FIRM_DIR", str(small_firm))
    from mesh_assets.definitions import build_definitions

    return {"defs": build_definitions(), "instance": instance, "firm": small_firm, "prefix": prefix, "sasl": sasl}


def test_cdc_sensor_runs_and_the_reader_process_read_through_sasl_ssl(sasl_cdc):
    # One sensor tick (end offsets of every CDC topic), then the run it requests for aladdin.trades (every partition).
    tick = evaluate_sensor(sasl_cdc, None)
    [request] = [r for r in tick.run_requests if r.tags["mesh/topic-partition"] == "aladdin.trades"]
    assert run_request(sasl_cdc, request).success
    manifest = json.loads((sasl_cdc["firm"] / "firm.json").read_text())
    malformed = {(r["topic"], r["partition"], r["offset"]) for r in manifest["edge_cases"]["malformed_records"]}
    tombstones = {(r["topic"], r["partition"], r["offset"]) for r in manifest["edge_cases"]["tombstones"]}
    trades = {p for p in capture(sasl_cdc["firm"]) if p[0] == "aladdin.trades"}
    rows = sasl_cdc["defs"].resources["iceberg"].table(tables.CDC_TABLES["aladdin.trades"]).scan().to_arrow()
    assert positions(rows) == trades - malformed - tombstones
    assert positions(rows)

    # The reader's helper process (maybe started earlier in this session with other settings) gets the caller's
    # settings with each request.
    sasl = sasl_cdc["sasl"]
    ends = kafka_reader.end_offsets(sasl.bootstrap_servers, "aladdin.trades", sasl_cdc["prefix"])
    ranges = [OffsetRange("aladdin.trades", p, 0, end) for p, end in ends.items() if end]
    chunks = list(kafka_reader.read_chunks(sasl.bootstrap_servers, ranges, sasl_cdc["prefix"], process=True))
    assert {(c.topic, c.partition, o) for c in chunks for o in c.offsets} == trades


def test_trade_worker_consumes_and_publishes_through_sasl_ssl(sasl_kafka_broker, tmp_path, monkeypatch):
    from trade_worker.reference_source import DuckDbWarehouse
    from trade_worker.settings import CatalogSettings
    from trade_worker.topics import TopicSettings
    from trade_worker.worker import WorkerConfig

    sasl = sasl_kafka_broker
    prefix = f"sw{uuid.uuid4().hex[:8]}."
    use(monkeypatch, sasl, "mesh-test-producer")
    topic = f"{prefix}aladdin.trades"
    broker.ensure_topics(sasl.bootstrap_servers, {topic: 2})
    from resources.kafka_client import new_producer

    producer = new_producer(sasl.bootstrap_servers, acks="all", enable_idempotence=True)
    for i, portfolio in enumerate(["P-1", "P-1", "P-2"]):
        t = trade(f"T-{i}", portfolio=portfolio)
        producer.send(topic, key=portfolio.encode(), value=trade_change("c", after=t, lsn=i + 1),
                      partition=0 if portfolio == "P-1" else 1)  # fmt: skip
    producer.flush(30)
    producer.close(5)

    use(monkeypatch, sasl, "mesh-stream")
    catalog = CatalogSettings("sql", f"file://{tmp_path}/lakehouse/warehouse", f"sqlite:///{tmp_path}/lakehouse/c.db")
    config = WorkerConfig(bootstrap_servers=sasl.bootstrap_servers, catalog=catalog, topic_prefix=prefix,
                          warehouse=DuckDbWarehouse(str(build_warehouse(tmp_path / "w.duckdb", CLOSES))),
                          worker_id="sasl-worker", batch_max_s=0.2, heartbeat_s=1.0, refresh_s=3600,
                          shutdown_timeout_s=20, topics=TopicSettings(1, 1))  # fmt: skip
    with InProcessWorker(config) as worker:
        wait_committed(worker, {"0": 2, "1": 1})
    assert sorted(r["trade_id"] for r in hot_rows(catalog)) == ["T-0", "T-1", "T-2"]
    # its outputs went to the SASL broker too
    execution = kafka_reader.end_offsets(sasl.bootstrap_servers, "trades.execution", prefix)
    assert sum(execution.values()) == 3


def test_a_wrong_password_is_refused_with_one_clear_error(sasl_kafka_broker, monkeypatch, caplog):
    caplog.set_level("DEBUG", logger="kafka")
    sasl = sasl_kafka_broker
    wrong = "not-the-" + sasl.users["mesh-ingest"]
    use(monkeypatch, sasl, "mesh-ingest", password=wrong)
    with pytest.raises(KafkaAuthenticationFailed) as refused:
        kafka_reader.end_offsets(sasl.bootstrap_servers, "aladdin.trades", "any.")
    message = str(refused.value)
    assert message.startswith(f"could not log in to the Kafka broker {sasl.bootstrap_servers} (SASL_SSL, SCRAM-SHA-512")
    assert "'mesh-ingest'" in message and "refused" in message and "MESH_KAFKA_SASL_PASSWORD" in message
    assert wrong not in message and sasl.users["mesh-ingest"] not in message
    assert "\n" not in message
    assert wrong not in caplog.text and "refused" in message  # kafka-python's own logs never show it either


def test_without_tls_or_without_the_ca_nothing_connects(sasl_kafka_broker):
    sasl = sasl_kafka_broker
    plain = KafkaClientSettings()  # PLAINTEXT to the SASL_SSL port: the broker never answers a metadata request
    assert broker.probe(sasl.bootstrap_servers, timeout_s=2, client=plain) is None
    untrusted = KafkaClientSettings("SASL_SSL", "SCRAM-SHA-512", "mesh-ingest", sasl.users["mesh-ingest"])
    with pytest.raises(KafkaAuthenticationFailed, match="certificate verify failed") as refused:
        new_consumer(sasl.bootstrap_servers, untrusted, group_id=None, bootstrap_timeout_ms=20_000)
    assert "MESH_KAFKA_SSL_CAFILE" in str(refused.value) and sasl.users["mesh-ingest"] not in str(refused.value)
