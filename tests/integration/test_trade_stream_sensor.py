"""``trade_stream_sensor``: the worker's committed progress, reported as runless events, against real parts.

A real Kafka broker (end offsets), a real SQLite Iceberg catalog holding the hot table with commits made the
way the worker makes them (``append_exactly_once`` with the ``mesh.stream.stats`` summary, the heartbeat table
property), the sensor evaluated with ``build_sensor_context`` and its events recorded in a real instance.
"""

from __future__ import annotations

import time
import uuid

import orjson
import pytest
from dagster import AssetCheckEvaluation, AssetCheckKey, AssetMaterialization, SkipReason, build_sensor_context

from tests.kafka_fixtures import kafka_broker  # noqa: F401  (session fixture)

pytestmark = pytest.mark.integration

TOPIC = "aladdin.trades"


def _produce(bootstrap: str, physical_topic: str, per_partition: dict[int, int]) -> None:
    from kafka import KafkaAdminClient, KafkaProducer
    from kafka.admin import NewTopic
    from kafka.errors import TopicAlreadyExistsError

    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        admin.create_topics([NewTopic(physical_topic, num_partitions=2, replication_factor=1)])
    except TopicAlreadyExistsError:
        pass
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    for partition, count in per_partition.items():
        for i in range(count):
            producer.send(physical_topic, value=b'{"op": "c"}', key=f"P-{i}".encode(), partition=partition)
    producer.flush()
    producer.close()


def _rows(spec, offsets: list[tuple[int, int]], alerts: dict[int, str]):
    """Hot-table rows for (partition, offset) pairs; only the position and alert columns matter here."""
    import pyarrow as pa

    now = int(time.time() * 1000)
    records = []
    for partition, offset in offsets:
        row = dict.fromkeys(spec.column_names)
        row.update(source_topic=TOPIC, source_partition=partition, source_offset=offset, source_timestamp_ms=now,
                   event_id=f"{TOPIC}-{partition}-{offset}", op="c", trade_id=f"T-{partition}-{offset}",
                   portfolio_id="P-0001", security_id="S-00001", alerts=alerts.get(offset, ""))
        records.append(row)
    return pa.Table.from_pylist(records, schema=spec.schema)


def _commit(iceberg, ranges: dict[int, tuple[int, int]], alerts: dict[int, str], breakers: str = "closed",
            committed_at_ms: int | None = None):
    """One micro-batch committed as the worker commits it: rows + ranges + positions + stream stats."""
    from mesh_assets.lib.cdc.records import OffsetRange
    from mesh_assets.lib.lakehouse.exactly_once import append_exactly_once
    from mesh_assets.lib.lakehouse.summary_keys import STREAM_STATS_KEY
    from mesh_assets.lib.trade_stream.hot_table import ENRICHED_TRADES

    offsets = [(p, o) for p, (start, end) in ranges.items() for o in range(start, end)]
    now = committed_at_ms or int(time.time() * 1000)
    kinds: dict[str, int] = {}
    for kind in alerts.values():
        kinds[kind] = kinds.get(kind, 0) + 1
    stats = {"worker_id": "test", "records": len(offsets), "alerts": kinds,
             "latency_ms": {"p50": 3.0, "p99": 9.5, "max": 12.0},
             "breakers": {"price_lookup": breakers, "producer": "closed"}, "end_offsets": {}, "lag_records": 0,
             "newest_produced_ms": now - 5, "committed_at_ms": now}
    return append_exactly_once(iceberg.loader(ENRICHED_TRADES),
                               [OffsetRange(TOPIC, p, s, e) for p, (s, e) in ranges.items()],
                               _rows(ENRICHED_TRADES, offsets, alerts),
                               {STREAM_STATS_KEY: orjson.dumps(stats).decode()})


def _heartbeat(iceberg, committed_at_ms: int, breakers: str = "closed") -> None:
    from mesh_assets.lib.lakehouse.summary_keys import HEARTBEAT_PROPERTY
    from mesh_assets.lib.trade_stream.hot_table import ENRICHED_TRADES

    beat = {"worker_id": "test", "records": 0, "alerts": {}, "breakers": {"price_lookup": breakers,
            "producer": "closed"}, "lag_records": 0, "committed_at_ms": committed_at_ms}
    table = iceberg.table(ENRICHED_TRADES)
    with table.transaction() as tx:
        tx.set_properties({HEARTBEAT_PROPERTY: orjson.dumps(beat).decode()})


@pytest.fixture
def stream(tmp_path, kafka_broker):  # noqa: F811
    from resources.cdc_source import CdcSourceResource
    from resources.iceberg import IcebergCatalogResource

    prefix = f"tss{uuid.uuid4().hex[:8]}."
    iceberg = IcebergCatalogResource(catalog_type="sql", uri=f"sqlite:///{tmp_path}/catalog.db",
                                     warehouse=f"file://{tmp_path}/warehouse")
    source = CdcSourceResource(backend="kafka", bootstrap_servers=kafka_broker.bootstrap_servers, topic_prefix=prefix)
    return {"iceberg": iceberg, "cdc_source": source, "bootstrap": kafka_broker.bootstrap_servers,
            "physical": f"{prefix}{TOPIC}"}


def _tick(instance, stream, cursor):
    from sensors.trade_stream_sensor import trade_stream_sensor

    context = build_sensor_context(instance=instance, cursor=cursor,
                                   resources={"iceberg": stream["iceberg"], "cdc_source": stream["cdc_source"]})
    result = trade_stream_sensor(context)
    for event in result.asset_events:  # what the sensor daemon does with them
        instance.report_runless_asset_event(event)
    return result


def _checks(result) -> dict[str, AssetCheckEvaluation]:
    return {e.check_name: e for e in result.asset_events if isinstance(e, AssetCheckEvaluation)}


def test_sensor_reports_committed_batches_and_health_without_a_run(stream, monkeypatch):
    from dagster import instance_for_test

    from mesh_assets.stream import assets
    from mesh_assets.stream.assets import ALERTS_KEY, ENRICHED_KEY, EXECUTION_KEY

    _produce(stream["bootstrap"], stream["physical"], {0: 5, 1: 3})
    first = _commit(stream["iceberg"], {0: (0, 3), 1: (0, 2)}, {1: "price_deviation"})
    second = _commit(stream["iceberg"], {0: (3, 5), 1: (2, 3)}, {})
    with instance_for_test() as instance:
        result = _tick(instance, stream, None)
        materializations = {e.asset_key: e for e in result.asset_events if isinstance(e, AssetMaterialization)}
        assert set(materializations) == {ENRICHED_KEY, EXECUTION_KEY, ALERTS_KEY}
        enriched = materializations[ENRICHED_KEY].metadata
        assert enriched["records"].value == 8 and enriched["commits"].value == 2
        assert enriched["offsets"].value == {f"{TOPIC}-0": [0, 5], f"{TOPIC}-1": [0, 3]}
        assert enriched["snapshot_id"].value == str(second.snapshot_id)
        assert enriched["first_snapshot_id"].value == str(first.snapshot_id)
        assert enriched["dagster/row_count"].value == 8
        assert enriched["lag_records"].value == 0
        assert enriched["latency_ms"].value == {"p50_median": 3.0, "p99_worst": 9.5, "max": 12.0}
        assert materializations[ALERTS_KEY].metadata["by_kind"].value == {"price_deviation": 1}
        checks = _checks(result)
        assert checks["lag_under_30s"].passed, checks["lag_under_30s"].description
        assert checks["breakers_closed"].passed
        # 1 alert in 8 trades is 12.5%, above the 5% the desk expects: a WARN with the figures
        assert not checks["alert_rate"].passed
        assert checks["alert_rate"].metadata["rate"].value == 0.125
        assert orjson.loads(result.cursor)["snapshot_id"] == second.snapshot_id
        # recorded in the instance as the daemon would: runless, no run launched
        event = instance.get_latest_materialization_event(ENRICHED_KEY)
        assert event is not None and event.run_id == ""
        assert instance.get_runs_count() == 0

        # nothing new, verdicts unchanged, checked just now: skip
        again = _tick(instance, stream, result.cursor)
        assert not again.asset_events and isinstance(again.skip_reason, SkipReason)
        assert orjson.loads(again.cursor)["snapshot_id"] == second.snapshot_id

        # trades arrive, then the worker stays silent for 40 s: the lag check turns red without any commit
        _produce(stream["bootstrap"], stream["physical"], {0: 4})
        monkeypatch.setattr(assets, "now_ms", lambda: int(time.time() * 1000) + 40_000)
        late = _tick(instance, stream, again.cursor)
        assert not [e for e in late.asset_events if isinstance(e, AssetMaterialization)]
        lag = _checks(late)["lag_under_30s"]
        assert not lag.passed and lag.metadata["records_waiting"].value == 4, lag.description
        assert "4 records waiting" in lag.description

        # the worker comes back and catches up with its price-lookup breaker open: new rows, breaker check red
        monkeypatch.undo()
        _commit(stream["iceberg"], {0: (5, 9)}, {}, breakers="open")
        recovered = _tick(instance, stream, late.cursor)
        checks = _checks(recovered)
        assert checks["lag_under_30s"].passed and not checks["breakers_closed"].passed
        assert "price_lookup" in checks["breakers_closed"].description
        history = instance.event_log_storage.get_asset_check_execution_history(
            AssetCheckKey(ENRICHED_KEY, "lag_under_30s"), limit=10)
        assert [h.status.value for h in history][:3] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]


def test_sensor_before_the_first_commit_says_the_worker_never_committed(stream):
    from dagster import instance_for_test

    _produce(stream["bootstrap"], stream["physical"], {0: 2})
    with instance_for_test() as instance:
        result = _tick(instance, stream, None)
        checks = _checks(result)
        assert not checks["lag_under_30s"].passed
        assert "never committed" in checks["lag_under_30s"].description
        assert not [e for e in result.asset_events if isinstance(e, AssetMaterialization)]


def test_heartbeat_keeps_an_idle_caught_up_worker_green_and_carries_its_breakers(stream):
    from dagster import instance_for_test

    _produce(stream["bootstrap"], stream["physical"], {0: 3})
    now = int(time.time() * 1000)
    _commit(stream["iceberg"], {0: (0, 3)}, {}, committed_at_ms=now - 120_000)  # last trade two minutes ago
    with instance_for_test() as instance:
        silent = _checks(_tick(instance, stream, None))
        assert not silent["lag_under_30s"].passed  # caught up, but nothing heard for 120 s
        assert "has not committed or beaten" in silent["lag_under_30s"].description
        _heartbeat(stream["iceberg"], now, breakers="half-open")
        beating = _checks(_tick(instance, stream, None))
        assert beating["lag_under_30s"].passed, beating["lag_under_30s"].description
        assert not beating["breakers_closed"].passed
        assert beating["breakers_closed"].metadata["breakers"].value == {"price_lookup": "half-open",
                                                                          "producer": "closed"}


def test_sensor_reports_what_the_real_worker_committed(tmp_path, kafka_broker):  # noqa: F811
    """The worker enriches crafted trades and stops; the sensor then reports exactly its committed rows."""
    from dagster import instance_for_test

    from mesh_assets.lib.trade_stream.hot_table import ENRICHED_TRADES
    from mesh_assets.stream.assets import ALERTS_KEY, ENRICHED_KEY, EXECUTION_KEY
    from resources.cdc_source import CdcSourceResource
    from resources.iceberg import IcebergCatalogResource
    from tests.integration.test_trade_stream_worker import (
        CLOSES,
        InProcessWorker,
        Trades,
        build_warehouse,
        trade,
        wait_committed,
    )
    from tests.integration.test_trade_stream_worker import config as worker_config
    from trade_worker.settings import CatalogSettings

    prefix = f"tse{uuid.uuid4().hex[:8]}."
    uri, warehouse = f"sqlite:///{tmp_path}/lakehouse/catalog.db", f"file://{tmp_path}/lakehouse/warehouse"
    world = {"bootstrap": kafka_broker.bootstrap_servers, "catalog": CatalogSettings("sql", warehouse, uri),
             "warehouse": build_warehouse(tmp_path / "warehouse.duckdb", CLOSES), "prefix": prefix, "tmp": tmp_path}
    trades = Trades(kafka_broker.bootstrap_servers, prefix)
    try:
        with InProcessWorker(worker_config(world)) as worker:
            trades.change("c", after=trade("T-1", price=102.0))  # exactly 2% off the close: no alert
            trades.change("c", after=trade("T-2", security="S-9"))  # no close at all: stale_price
            trades.change("c", after=trade("T-3", price=101.0))
            trades.change("c", after=trade("T-4", portfolio="P-2", security="S-2", price=56.0))  # 12%: deviation
            trades.flush()
            wait_committed(worker, {"0": 3, "1": 1})
    finally:
        trades.close()

    iceberg = IcebergCatalogResource(catalog_type="sql", uri=uri, warehouse=warehouse)
    rows = iceberg.table(ENRICHED_TRADES).scan(
        selected_fields=("source_partition", "source_offset", "alerts")).to_arrow().to_pylist()
    expected_alerts: dict[str, int] = {}
    for row in rows:
        for kind in filter(None, row["alerts"].split(",")):
            expected_alerts[kind] = expected_alerts.get(kind, 0) + 1
    assert len(rows) == 4 and expected_alerts.get("stale_price") == 1 and expected_alerts.get("price_deviation") == 1
    world_stream = {"iceberg": iceberg, "cdc_source": CdcSourceResource(
        backend="kafka", bootstrap_servers=kafka_broker.bootstrap_servers, topic_prefix=prefix)}
    with instance_for_test() as instance:
        result = _tick(instance, world_stream, None)
        materializations = {e.asset_key: e for e in result.asset_events if isinstance(e, AssetMaterialization)}
        assert set(materializations) == {ENRICHED_KEY, EXECUTION_KEY, ALERTS_KEY}
        enriched = materializations[ENRICHED_KEY].metadata
        assert enriched["records"].value == 4 and enriched["dagster/row_count"].value == 4
        assert enriched["offsets"].value == {f"{TOPIC}-0": [0, 3], f"{TOPIC}-1": [0, 1]}
        assert enriched["alerts_by_kind"].value == expected_alerts
        assert enriched["lag_records"].value == 0
        assert materializations[EXECUTION_KEY].metadata["events"].value == 4
        checks = _checks(result)
        assert checks["lag_under_30s"].passed, checks["lag_under_30s"].description
        assert checks["breakers_closed"].passed, checks["breakers_closed"].description
        assert not checks["alert_rate"].passed  # 2 alerts in 4 trades
        assert checks["alert_rate"].metadata["alerts"].value == sum(expected_alerts.values())
