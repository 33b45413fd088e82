"""The trade worker (``python -m trade_worker``) against real parts: a real Kafka broker, a real SQLite Iceberg
catalog and a real DuckDB warehouse file in tmp_path, with unique topic prefixes per test.

Crafted trades go in as Debezium envelopes on ``<prefix>aladdin.trades``; what comes out is read back by plain
consumers of ``trades.execution`` / ``risk.alerts`` and from the hot table's rows and snapshot summaries.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import orjson
import pytest

from mesh_assets.lib.lakehouse.summary_keys import STREAM_STATS_KEY
from mesh_assets.lib.trade_stream.hot_table import ENRICHED_TRADES
from trade_worker.breakers import BreakerSettings
from trade_worker.health import read_health
from trade_worker.reference_source import DuckDbWarehouse
from trade_worker.settings import CatalogSettings
from trade_worker.topics import TopicSettings
from trade_worker.worker import TradeStreamWorker, WorkerConfig

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
WED, FRI = dt.date(2026, 11, 25), dt.date(2026, 11, 27)  # Thursday 26: Thanksgiving, NYSE closed
#: portfolio -> partition of the trades topic (the firm keys partitions by portfolio)
PARTITION = {"P-1": 0, "P-2": 1}
#: the test broker is a single node: output topics with one replica (production: 3, min.insync.replicas 2)
SINGLE_BROKER = TopicSettings(replication_factor=1, min_insync_replicas=1)
SINGLE_BROKER_ENV = {"MESH_KAFKA_REPLICATION_FACTOR": "1", "MESH_KAFKA_MIN_INSYNC_REPLICAS": "1"}


# -- world ----------------------------------------------------------------------------------------


def build_warehouse(path: Path, closes: dict[str, tuple[float, dt.date]], as_of: dt.date = WED) -> Path:
    """A DuckDB warehouse with the relations the worker reads (dbt's names and columns), written to a
    temporary file then renamed over ``path`` (readers see the old or the new file, never half of one)."""
    import duckdb

    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:6]}")
    with duckdb.connect(str(tmp)) as db:
        db.execute("create schema silver; create schema gold")
        db.execute("create table silver.prices (security_id varchar, price_date date, px_last double)")
        for security, (price, day) in closes.items():
            db.execute("insert into silver.prices values (?, ?, ?), (?, ?, ?)",
                       [security, day, price, security, day - dt.timedelta(days=7), price * 0.9])
        db.execute("create table silver.trades (portfolio_id varchar, security_id varchar, trade_date date, "
                   "signed_quantity double, price double)")
        db.execute("insert into silver.trades values ('P-1', 'S-1', ?, 500, 98.0)", [as_of - dt.timedelta(days=30)])
        db.execute("create table gold.positions (as_of_date date, portfolio_id varchar, security_id varchar, "
                   "is_cash boolean, quantity double)")
        db.execute("insert into gold.positions values (?, 'P-1', 'S-1', false, 500), (?, 'P-1', 'CASH', true, 1e6), "
                   "(?, 'P-1', 'S-1', false, 400)", [as_of, as_of, as_of - dt.timedelta(days=1)])
        db.execute("create table gold.nav_history (as_of_date date, portfolio_id varchar, nav double)")
        db.execute("insert into gold.nav_history values (?, 'P-1', 1000000), (?, 'P-2', 200000), (?, 'P-1', 5)",
                   [as_of, as_of, as_of - dt.timedelta(days=1)])
    os.replace(tmp, path)
    return path


CLOSES = {"S-1": (100.0, WED), "S-2": (50.0, WED), "S-OLD": (10.0, dt.date(2026, 11, 20)), "S-LATE": (20.0, WED)}


def trade(trade_id, portfolio="P-1", security="S-1", side="BUY", quantity=100.0, price=100.0, version=1,
          trade_date=FRI):
    return {"trade_id": trade_id, "portfolio_id": portfolio, "security_id": security, "side": side,
            "quantity": quantity, "price": price, "currency": "USD", "trade_date": trade_date.isoformat(),
            "settle_date": (trade_date + dt.timedelta(days=3)).isoformat(), "version": version}


def change(op, before=None, after=None, lsn=1) -> bytes:
    return orjson.dumps({"op": op, "before": before, "after": after, "ts_ms": int(time.time() * 1000),
                         "source": {"connector": "aladdin", "lsn": lsn, "table": "trades"}})


class Trades:
    """Produces Debezium changes of trades to ``<prefix>aladdin.trades``, in the partition of their portfolio."""

    def __init__(self, bootstrap: str, prefix: str, partitions: int = 2) -> None:
        from kafka import KafkaProducer

        from mesh_dev.local.kafka_broker import ensure_topics

        self.topic = f"{prefix}aladdin.trades"
        ensure_topics(bootstrap, {self.topic: partitions})
        self.producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=0,
                                      enable_idempotence=True, reconnect_backoff_max_ms=500)
        self.lsn = 0

    def send(self, portfolio: str, value: bytes | None, trade_id: str = "T-?") -> None:
        self.lsn += 1
        key = orjson.dumps({"portfolio_id": portfolio, "trade_id": trade_id})
        self.producer.send(self.topic, value=value, key=key, partition=PARTITION[portfolio])

    def change(self, op, before=None, after=None) -> None:
        image = after or before
        self.lsn += 1
        self.send(image["portfolio_id"], change(op, before, after, self.lsn), image["trade_id"])

    def flush(self) -> None:
        self.producer.flush(30)

    def close(self) -> None:
        self.producer.close(5)


def read_topic(bootstrap: str, topic: str, expected: int, timeout_s: float = 20.0) -> list:
    """Every record of ``topic`` (all partitions, from the start), waiting for at least ``expected`` of them."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest", consumer_timeout_ms=500)
    try:
        deadline = time.monotonic() + timeout_s
        partitions = None
        while not partitions and time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic)
            time.sleep(0.05)
        assert partitions, f"topic {topic} was never created"
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        records: list = []
        while time.monotonic() < deadline:
            records.extend(r for batch in consumer.poll(timeout_ms=200).values() for r in batch)
            ends = consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
            positions = {tp: consumer.position(tp) for tp in ends}
            if len(records) >= expected and all(positions[tp] >= end for tp, end in ends.items()):
                return records
        return records
    finally:
        consumer.close()


def hot_rows(catalog: CatalogSettings) -> list[dict]:
    table = catalog.catalog().load_table(ENRICHED_TRADES.identifier)
    rows = table.scan().to_arrow().sort_by([("source_partition", "ascending"), ("source_offset", "ascending")])
    return rows.to_pylist()


def commit_stats(catalog: CatalogSettings) -> list[dict]:
    """``mesh.stream.stats`` of every commit of the hot table, oldest first."""
    from pyiceberg.table.snapshots import ancestors_of

    table = catalog.catalog().load_table(ENRICHED_TRADES.identifier)
    stats = [json.loads(s.summary.additional_properties[STREAM_STATS_KEY])
             for s in ancestors_of(table.current_snapshot(), table.metadata)
             if s.summary is not None and STREAM_STATS_KEY in s.summary.additional_properties]
    return stats[::-1]


def heartbeat(catalog: CatalogSettings) -> dict | None:
    """The hot table's ``mesh.stream.heartbeat`` property."""
    from mesh_assets.lib.lakehouse.summary_keys import HEARTBEAT_PROPERTY

    table = catalog.catalog().load_table(ENRICHED_TRADES.identifier)
    text = table.properties.get(HEARTBEAT_PROPERTY)
    return json.loads(text) if text else None


def wait_for(predicate, timeout_s: float, what: str, interval_s: float = 0.05):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def committed(health: dict | None) -> dict[str, int]:
    return (health or {}).get("committed_offsets") or {}


def wait_committed(worker: TradeStreamWorker, ends: dict[str, int], timeout_s: float = 20.0) -> dict:
    """The worker's health once its committed offsets reach ``ends`` (partition -> offset)."""
    def reached():
        health = worker.health()
        return health if all(committed(health).get(p, 0) >= e for p, e in ends.items()) else None

    return wait_for(reached, timeout_s, f"committed offsets {ends}")


class InProcessWorker:
    """A worker run in a thread of the test process (stopped as SIGTERM would)."""

    def __init__(self, config: WorkerConfig) -> None:
        self.worker = TradeStreamWorker(config)
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.code: int | None = None

    def _run(self) -> None:
        self.code = self.worker.run()

    def __enter__(self) -> TradeStreamWorker:
        self.thread.start()
        assert self.worker.wait_ready(60), f"worker not ready: {self.worker.health()}"
        return self.worker

    def __exit__(self, *exc) -> None:
        self.worker.request_stop()
        self.thread.join(60)
        assert not self.thread.is_alive(), "worker did not stop"



@pytest.fixture
def stream(tmp_path, kafka_broker):
    prefix = f"tsw{uuid.uuid4().hex[:8]}."
    bootstrap = kafka_broker.bootstrap_servers
    warehouse = build_warehouse(tmp_path / "warehouse.duckdb", CLOSES)
    catalog = CatalogSettings("sql", f"file://{tmp_path}/lakehouse/warehouse",
                              f"sqlite:///{tmp_path}/lakehouse/catalog.db")
    trades = Trades(bootstrap, prefix)
    yield {"prefix": prefix, "bootstrap": bootstrap, "warehouse": warehouse, "catalog": catalog, "trades": trades,
           "tmp": tmp_path}
    trades.close()


def config(stream, **overrides) -> WorkerConfig:
    settings = {"bootstrap_servers": stream["bootstrap"], "catalog": stream["catalog"],
                "warehouse": DuckDbWarehouse(str(stream["warehouse"])), "topic_prefix": stream["prefix"],
                "worker_id": "test-worker", "batch_max_s": 0.2, "heartbeat_s": 1.0, "refresh_s": 3600,
                "health_file": stream["tmp"] / "health.json", "shutdown_timeout_s": 20, "topics": SINGLE_BROKER}
    settings.update(overrides)
    return WorkerConfig(**settings)


# -- enrichment end to end --------------------------------------------------------------------------


def test_crafted_trades_come_out_enriched_with_the_right_alerts_and_positions(stream):
    trades: Trades = stream["trades"]
    t1 = trade("T-1", price=102.0)  # exactly 2% above the close: no alert
    t3 = trade("T-3", quantity=500, price=100.0)  # position 1,100 x 100 = 110,000 > 10% of NAV 1,000,000
    t1_fixed = trade("T-1", quantity=50, price=103.0, version=2)  # correction: 3% off the close
    with InProcessWorker(config(stream)) as worker:
        trades.change("c", after=t1)
        trades.change("c", after=trade("T-2", security="S-9"))  # the warehouse has no close for S-9
        trades.change("c", after=t3)
        trades.change("d", before=t3)  # cancel
        trades.send("P-1", None, "T-3")  # its tombstone
        trades.change("u", before=t1, after=t1_fixed)
        trades.change("c", after=trade("T-4", portfolio="P-2", security="S-OLD", quantity=10, price=10.0))
        trades.send("P-2", b'{"op": "c", "after": {"trade_id": "T-5", "portfolio_id": "P-2"}}', "T-5")  # poison
        trades.flush()
        health = wait_committed(worker, {"0": 6, "1": 2})
    assert health["breakers"] == {"price_lookup": "closed", "producer": "closed"}

    rows = {(r["trade_id"], r["op"]): r for r in hot_rows(stream["catalog"])}
    assert len(rows) == 6  # tombstone and poison record are covered by the offsets, not rows
    exact = rows[("T-1", "c")]
    assert exact["deviation"] == 0.02 and exact["alerts"] == ""
    assert (exact["position_quantity"], exact["cost_basis"]) == (600.0, 500 * 98.0 + 100 * 102.0)
    assert exact["close_price"] == 100.0 and exact["close_date"] == WED and exact["limit_notional"] == 100_000.0
    assert rows[("T-2", "c")]["alerts"] == "stale_price" and rows[("T-2", "c")]["close_price"] is None
    assert rows[("T-3", "c")]["alerts"] == "limit_breach" and rows[("T-3", "c")]["position_quantity"] == 1_100.0
    cancel = rows[("T-3", "d")]
    assert (cancel["position_quantity"], cancel["cost_basis"], cancel["alerts"]) == (600.0, 59_200.0, "")
    fixed = rows[("T-1", "u")]
    assert fixed["alerts"] == "price_deviation" and fixed["deviation"] == 0.03
    assert (fixed["position_quantity"], fixed["cost_basis"]) == (550.0, 59_200.0 - 10_200.0 + 5_150.0)
    assert rows[("T-4", "c")]["alerts"] == "stale_price" and rows[("T-4", "c")]["close_date"] == dt.date(2026, 11, 20)

    execution = read_topic(stream["bootstrap"], f"{stream['prefix']}trades.execution", 6)
    assert sorted(orjson.loads(r.value)["event_id"] for r in execution) == sorted(r["event_id"] for r in rows.values())
    assert {r.key for r in execution} == {b"P-1", b"P-2"}
    assert all(dict(r.headers)["event_id"] == orjson.loads(r.value)["event_id"].encode() for r in execution)
    alerts = [orjson.loads(r.value) for r in read_topic(stream["bootstrap"], f"{stream['prefix']}risk.alerts", 5)]
    by_trade = sorted((a["trade_id"], a["kind"]) for a in alerts)
    assert by_trade == [("T-1", "price_deviation"), ("T-2", "stale_price"), ("T-3", "limit_breach"),
                        ("T-4", "stale_price"), ("T-5", "invalid_trade")]
    poison = next(a for a in alerts if a["kind"] == "invalid_trade")
    assert poison["alert_id"] == "aladdin.trades-1-1:invalid_trade"
    assert "aladdin.trades/1@1 trade T-5" in poison["reason"]
    deviation = next(a for a in alerts if a["kind"] == "price_deviation")
    assert deviation["value"] == 0.03 and deviation["threshold"] == 0.02 and deviation["portfolio_id"] == "P-1"

    stats = commit_stats(stream["catalog"])
    assert sum(s["records"] for s in stats) == 6
    totals = {k: sum(s["alerts"][k] for s in stats) for k in stats[0]["alerts"]}
    assert totals == {"price_deviation": 1, "limit_breach": 1, "stale_price": 2, "invalid_trade": 1}
    assert stats[-1]["breakers"] == {"price_lookup": "closed", "producer": "closed"}
    assert stats[-1]["lag_records"] == 0 and stats[-1]["worker_id"] == "test-worker"
    assert all(s["latency_ms"]["max"] < 5_000 for s in stats if s["records"])
    final = read_health(stream["tmp"] / "health.json")
    assert final["status"] == "stopped" and final["committed_offsets"] == {"0": 6, "1": 2}


# -- SIGTERM mid-stream, restart: exactly once --------------------------------------------------------


def start_subprocess(stream, health: Path, log: Path) -> subprocess.Popen:
    """``python -m trade_worker`` (what deploy/ starts), waited for until ready."""
    health.unlink(missing_ok=True)
    env = {**os.environ, "MESH_ENV": "local", "MESH_DATA_DIR": str(stream["tmp"]), **SINGLE_BROKER_ENV}
    env.pop("MESH_KAFKA_TOPIC_PREFIX", None)
    process = subprocess.Popen(
        [sys.executable, "-m", "trade_worker", "--bootstrap", stream["bootstrap"], "--topic-prefix",
         stream["prefix"], "--warehouse", str(stream["warehouse"]), "--health-file", str(health),
         "--batch-rows", "25", "--batch-seconds", "0.2", "--heartbeat-s", "1", "--worker-id", "sub"],
        cwd=REPO, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: (read_health(health) or {}).get("ready") or process.poll() is not None, 60,
                 "the worker subprocess to be ready")
    except AssertionError:
        process.kill()
        raise
    assert process.poll() is None, log.read_text()[-3000:]
    return process


def stop_subprocess(process: subprocess.Popen, log: Path) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(30)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"worker ignored SIGTERM: {log.read_text()[-3000:]}") from None


def test_sigterm_mid_stream_then_restart_loses_and_duplicates_nothing(stream):
    trades: Trades = stream["trades"]
    health, log = stream["tmp"] / "sub-health.json", stream["tmp"] / "worker.log"
    total = 600

    first_stopped = threading.Event()

    def produce() -> None:  # ~500 trades/s; the last 100 only once the first worker is gone
        for i in range(total):
            if i == total - 100:
                first_stopped.wait(60)
            portfolio = "P-1" if i % 2 else "P-2"
            trades.change("c", after=trade(f"T-{i}", portfolio=portfolio, security="S-2", quantity=1, price=50.0))
            if i % 20 == 19:
                trades.flush()
                time.sleep(0.04)  # ~500 trades/s
        trades.flush()

    first = start_subprocess(stream, health, log)
    producer = threading.Thread(target=produce)
    producer.start()
    wait_for(lambda: sum(committed(read_health(health)).values()) >= 100, 30, "a first part to be committed")
    assert stop_subprocess(first, log) == 0, log.read_text()[-3000:]
    first_stopped.set()
    after_first = read_health(health)
    assert after_first["status"] == "stopped"
    stopped_at = sum(committed(after_first).values())
    assert 100 <= stopped_at <= total - 100, f"SIGTERM was not mid-stream ({stopped_at} of {total} committed)"
    assert after_first["consumed_offsets"] == after_first["committed_offsets"], "a graceful stop commits all it read"

    second = start_subprocess(stream, health, log)
    producer.join(30)
    wait_for(lambda: sum(committed(read_health(health)).values()) >= total, 30, "every trade to be committed")
    assert stop_subprocess(second, log) == 0, log.read_text()[-3000:]

    rows = hot_rows(stream["catalog"])
    positions = [(r["source_partition"], r["source_offset"]) for r in rows]
    assert len(rows) == total and len(set(positions)) == total, "no loss and no duplicate in the hot table"
    for partition in (0, 1):
        offsets = sorted(o for p, o in positions if p == partition)
        assert offsets == list(range(total // 2)), f"partition {partition} has a gap"
    assert {r["worker_id"] for r in rows} == {"sub"}
    # positions carried across the restart: P-1 bought 300 x 1 share of S-2, the last row says 300
    last_p1 = max((r for r in rows if r["portfolio_id"] == "P-1"), key=lambda r: r["source_offset"])
    assert last_p1["position_quantity"] == total // 2
    execution = read_topic(stream["bootstrap"], f"{stream['prefix']}trades.execution", total)
    event_ids = [orjson.loads(r.value)["event_id"] for r in execution]
    assert len(event_ids) == total and set(event_ids) == {r["event_id"] for r in rows}, "no enriched trade twice"


# -- broker restart mid-stream ------------------------------------------------------------------------


@pytest.fixture
def own_broker(tmp_path):
    """A broker of this test's own (restarting the session's would disturb the other tests)."""
    from mesh_dev.local import kafka_broker as broker

    data_dir = tmp_path / "kafka"
    info = broker.start(data_dir, port=broker.find_free_port_pair(), wait_s=120, stop_at_exit=True)
    try:
        yield info
    finally:
        broker.stop(data_dir)


def test_broker_restart_mid_stream_resumes_with_no_gap(stream, own_broker):
    from mesh_dev.local import kafka_broker as broker

    bootstrap = own_broker.bootstrap_servers
    trades = Trades(bootstrap, stream["prefix"])
    total = 200
    produced = threading.Event()
    stopped = threading.Event()

    def produce() -> None:  # ~80 trades/s; the second half only once the broker is down (the producer retries)
        for i in range(total):
            if i == total // 4:
                stopped.wait(60)
            trades.change("c", after=trade(f"T-{i}", portfolio="P-1" if i % 2 else "P-2", security="S-2",
                                           quantity=1, price=50.0))
            time.sleep(0.0125)
        trades.flush()
        produced.set()

    fast = BreakerSettings(fail_max=2, reset_timeout_s=1.0)
    try:
        with InProcessWorker(config(stream, bootstrap_servers=bootstrap, flush_timeout_s=2.0,
                                    producer_breaker=fast)) as worker:
            producer = threading.Thread(target=produce, daemon=True)
            producer.start()
            wait_for(lambda: sum(committed(worker.health()).values()) >= 20, 20, "the stream to flow")
            broker.stop(own_broker.data_dir)
            down_at = sum(committed(worker.health()).values())
            stopped.set()
            time.sleep(0.5)
            restarted = broker.start(own_broker.data_dir, port=own_broker.port, wait_s=120, stop_at_exit=True)
            assert restarted.bootstrap_servers == bootstrap
            assert produced.wait(60), "the test producer did not get its trades through the restart"
            health = wait_committed(worker, {"0": total // 2, "1": total // 2}, timeout_s=60)
            wait_for(lambda: worker.health()["breakers"]["producer"] == "closed", 20, "the producer breaker to close")
    finally:
        trades.close()
    assert down_at < total, "the broker went down after the stream had ended"
    assert health["committed_offsets"] == {"0": total // 2, "1": total // 2}
    rows = hot_rows(stream["catalog"])
    for partition in (0, 1):
        assert [r["source_offset"] for r in rows if r["source_partition"] == partition] == list(range(total // 2))
    execution = read_topic(bootstrap, f"{stream['prefix']}trades.execution", total)
    assert {orjson.loads(r.value)["event_id"] for r in execution} == {r["event_id"] for r in rows}


# -- the price-lookup breaker, and the end-of-day refresh ---------------------------------------------


def test_price_breaker_opens_on_a_failing_warehouse_and_recovers_through_a_probe(stream):
    trades: Trades = stream["trades"]
    warehouse: Path = stream["warehouse"]
    away = warehouse.with_name("moved-by-dbt.duckdb")
    with InProcessWorker(config(stream, price_breaker=BreakerSettings(fail_max=2, reset_timeout_s=1.0),
                                refresh_s=0.3)) as worker:
        warehouse.rename(away)  # the file is gone (a dbt run rebuilding it): every lookup fails
        for i in (1, 2, 3):
            trades.change("c", after=trade(f"T-{i}", security=f"S-X{i}"))
        trades.flush()
        health = wait_committed(worker, {"0": 3})
        assert health["breakers"]["price_lookup"] == "open"
        assert (health["counts"]["price_lookup_failures"], health["counts"]["price_lookups_rejected"]) == (2, 1)
        assert commit_stats(stream["catalog"])[-1]["breakers"]["price_lookup"] == "open"
        on_disk = wait_for(lambda: (h := read_health(stream["tmp"] / "health.json")) and h["breakers"][
            "price_lookup"] == "open" and h, 5, "the health file to show the open breaker")
        assert on_disk["ready"] is True

        build_warehouse(warehouse, {**CLOSES, "S-1": (110.0, FRI)})  # back, with Friday's close of S-1
        away.unlink()
        time.sleep(1.1)  # the reset timeout: the next lookup is the half-open probe
        trades.change("c", after=trade("T-4", security="S-X4"))
        trades.flush()
        health = wait_committed(worker, {"0": 4})
        assert health["breakers"]["price_lookup"] == "closed"
        assert commit_stats(stream["catalog"])[-1]["breakers"]["price_lookup"] == "closed"

        wait_for(lambda: "prices_as_of=2026-11-27" in worker.health()["reference"]["version"], 10,
                 "the reference book to reload the new end-of-day output")
        trades.change("c", after=trade("T-5", price=110.0))
        trades.flush()
        wait_committed(worker, {"0": 5})
    rows = {r["trade_id"]: r for r in hot_rows(stream["catalog"])}
    reasons = [rows[f"T-{i}"]["alert_reasons"] for i in (1, 2, 3)]
    assert all(rows[f"T-{i}"]["alerts"] == "stale_price" for i in (1, 2, 3))
    assert "failed" in reasons[0] and "failed" in reasons[1] and "breaker is open" in reasons[2]
    assert rows["T-4"]["alerts"] == "stale_price" and "has no close for S-X4" in rows["T-4"]["alert_reasons"]
    assert (rows["T-5"]["close_price"], rows["T-5"]["close_date"], rows["T-5"]["alerts"]) == (110.0, FRI, "")


# -- the producer breaker: back-pressure while outputs cannot be delivered ----------------------------


def test_producer_breaker_stops_consuming_while_outputs_cannot_be_delivered(stream):
    from kafka import KafkaAdminClient

    from mesh_dev.local.kafka_broker import ensure_topics

    trades: Trades = stream["trades"]
    execution = f"{stream['prefix']}trades.execution"
    fast = BreakerSettings(fail_max=2, reset_timeout_s=1.0)
    with InProcessWorker(config(stream, flush_timeout_s=1.0, producer_breaker=fast)) as worker:
        with KafkaAdminClient(bootstrap_servers=stream["bootstrap"]) as admin:
            admin.delete_topics([execution])
        for i in (1, 2, 3):
            trades.change("c", after=trade(f"T-{i}", quantity=1))
        trades.flush()
        health = wait_for(lambda: (h := worker.health())["breakers"]["producer"] == "open" and h["paused"] and h,
                          30, "the producer breaker to open and consuming to pause")
        assert committed(health) == {}, "nothing is committed before its outputs are delivered"
        beat = wait_for(lambda: (b := heartbeat(stream["catalog"])) and b["breakers"]["producer"] == "open" and b,
                        10, "the table heartbeat to show the open producer breaker")
        assert beat["records"] == 0 and beat["lag_records"] >= 3
        held = health["consumed_offsets"]
        for i in (4, 5):
            trades.change("c", after=trade(f"T-{i}", quantity=1))
        trades.flush()
        time.sleep(1.5)
        assert worker.health()["consumed_offsets"] == held, "an open producer breaker must stop consumption"
        ensure_topics(stream["bootstrap"], {execution: 2})
        health = wait_committed(worker, {"0": 5}, timeout_s=40)
        wait_for(lambda: worker.health()["breakers"]["producer"] == "closed", 20, "the producer breaker to close")
    assert health["counts"]["delivery_failures"] >= 2
    delivered = {orjson.loads(r.value)["trade_id"] for r in read_topic(stream["bootstrap"], execution, 5)}
    assert delivered == {f"T-{i}" for i in range(1, 6)}
    assert commit_stats(stream["catalog"])[-1]["breakers"]["producer"] == "closed"


# -- the commit process ---------------------------------------------------------------------------


def _hot_row(partition: int, offset: int) -> bytes:
    """A full hot-table row as the worker publishes it (orjson of the row dict: dates as ISO strings)."""
    values = {"string": "x", "int32": 1, "int64": 1_795_000_000_000, "double": 1.5, "date": FRI}
    row = {name: values[kind] for name, kind in ENRICHED_TRADES.columns}
    row.update(source_topic="aladdin.trades", source_partition=partition, source_offset=offset,
               event_id=f"aladdin.trades-{partition}-{offset}", close_date=None, deviation=None,
               book_changes=[["S-1", FRI, 2.0, 101.0]])
    return orjson.dumps(row)


def test_a_killed_commit_process_is_restarted_and_the_replayed_batch_lands_exactly_once(tmp_path):
    from mesh_assets.lib.cdc.records import OffsetRange
    from mesh_assets.lib.lakehouse.tables import ensure_table
    from trade_worker.commit_process import CommitProcess

    catalog = CatalogSettings.local(tmp_path)
    ensure_table(catalog.catalog(), ENRICHED_TRADES)
    committer = CommitProcess(catalog, ENRICHED_TRADES)
    committer.start()
    try:
        first = committer.commit([OffsetRange("aladdin.trades", 0, 0, 3)], [_hot_row(0, o) for o in range(3)],
                                 {STREAM_STATS_KEY: "{}"})
        assert first.committed and first.rows_written == 3 and first.positions == {("aladdin.trades", 0): 3}
        os.kill(committer.pid, signal.SIGKILL)  # dies between batches; the next call restarts it
        replay = committer.commit([OffsetRange("aladdin.trades", 0, 0, 5)], [_hot_row(0, o) for o in range(5)],
                                  {STREAM_STATS_KEY: "{}"})
        assert committer.restarts == 1
        assert replay.rows_written == 2 and replay.positions == {("aladdin.trades", 0): 5}
    finally:
        committer.close()
    rows = catalog.catalog().load_table(ENRICHED_TRADES.identifier).scan().to_arrow().to_pylist()
    assert sorted(r["source_offset"] for r in rows) == [0, 1, 2, 3, 4], "no row lost, none twice"
    assert rows[0]["trade_date"] == FRI and rows[0]["close_date"] is None
    assert orjson.loads(rows[0]["book_changes"]) == [["S-1", FRI.isoformat(), 2.0, 101.0]]


def test_the_workers_snapshot_expiry_keeps_the_positions_under_a_compaction(tmp_path):
    """The weekly maintenance compacts the hot table (a snapshot with no positions on top); the worker's own
    expiry then follows the same keep rule, so the commit carrying the positions stays and the next batch appends."""
    from mesh_assets.lib.cdc.records import OffsetRange
    from mesh_assets.lib.cdc.records import TopicPartition as SourcePartition
    from mesh_assets.lib.lakehouse.expired_files import reachable_files
    from mesh_assets.lib.lakehouse.positions import committed_positions
    from mesh_assets.lib.lakehouse.table_maintenance import compact_small_files
    from mesh_assets.lib.lakehouse.tables import ensure_table
    from tests.support.iceberg_files import files_on_disk
    from trade_worker.commit_process import CommitProcess

    catalog = CatalogSettings.local(tmp_path)
    ensure_table(catalog.catalog(), ENRICHED_TRADES)
    load = lambda: catalog.catalog().load_table(ENRICHED_TRADES.identifier)  # noqa: E731
    committer = CommitProcess(catalog, ENRICHED_TRADES)
    committer.start()
    try:
        for start in (0, 2, 4):
            committer.commit([OffsetRange("aladdin.trades", 0, start, start + 2)],
                             [_hot_row(0, o) for o in range(start, start + 2)], {STREAM_STATS_KEY: "{}"})
        assert compact_small_files(load, 32 * 1024 * 1024, 2).compacted
        committer.expire_snapshots(0)  # everything is older than 0 s: only the keep rule holds snapshots
        table = load()
        assert len(table.snapshots()) == 2  # the compaction (current) and the last commit under it
        assert committed_positions(table) == {SourcePartition("aladdin.trades", 0): 6}
        # the expired commits' manifest lists went with them; every file a kept snapshot reads is still there
        assert files_on_disk(table) == reachable_files(table.io, table.snapshots())
        nxt = committer.commit([OffsetRange("aladdin.trades", 0, 6, 8)], [_hot_row(0, o) for o in (6, 7)],
                               {STREAM_STATS_KEY: "{}"})
        assert nxt.committed and nxt.rows_written == 2
    finally:
        committer.close()
    offsets = load().scan(selected_fields=("source_offset",)).to_arrow()["source_offset"].to_pylist()
    assert sorted(offsets) == list(range(8))
