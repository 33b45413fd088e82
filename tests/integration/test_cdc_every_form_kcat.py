"""Every Debezium JSON form, produced by a client the project did not write (Debian's ``kcat``, librdkafka)
onto the project's broker, ingested by the CDC sensor's runs: each offset is exactly one landed row, dead
letter or recorded skip; the offsets after a bad record land; a rerun adds nothing.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import uuid
from decimal import Decimal

import pytest

from mesh_assets.lib.lakehouse import tables
from mesh_dev.local import cdc_producer

pytestmark = pytest.mark.integration

TRADE = {
    "trade_id": "T-1", "portfolio_id": "P-0001", "security_id": "S-00001", "side": "BUY", "quantity": 1,
    "price": 1, "currency": "USD", "trade_date": "2026-08-03", "settle_date": "2026-08-04", "version": 1,
}  # fmt: skip
SOURCE = {"connector": "postgresql", "db": "aladdin", "table": "trades", "txId": 7}
QUANTITY = "12345678901234567.25"  # 19 significant digits: a double cannot hold it
PRICE = "99.12345678"


def b64(unscaled: int) -> str:
    return base64.b64encode(unscaled.to_bytes((unscaled.bit_length() + 8) // 8, "big", signed=True)).decode()


def bare(i: int, op: str = "c", **image) -> dict:
    after = {**TRADE, "trade_id": f"T-{i}", **image}
    return {"op": op, "before": None, "after": None if op == "t" else after, "ts_ms": 1_785_000_000_000 + i,
            "source": {**SOURCE, "lsn": 100 + i}}  # fmt: skip


def wrapped(envelope: dict, decimal_scales: dict[str, int]) -> dict:
    fields = [{"field": name, "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal",
               "parameters": {"scale": str(scale)}} for name, scale in decimal_scales.items()]  # fmt: skip
    image = {"type": "struct", "optional": True, "fields": fields}
    return {"schema": {"type": "struct", "fields": [{"field": "before", **image}, {"field": "after", **image}]},
            "payload": envelope}


def text(value: dict) -> bytes:
    return json.dumps(value).replace(f'"{QUANTITY}"', QUANTITY).replace(f'"{PRICE}"', PRICE).encode()


#: partition 0: (key, value bytes or None, expected outcome). Outcome: row, dead:<code>, skip:<kind>.
PARTITION_0: list[tuple[bytes | None, bytes | None, str]] = [
    (b"T-0", text(bare(0, quantity=QUANTITY, price=PRICE)), "row"),  # bare, JSON numbers (exact text)
    (b"T-1", json.dumps(bare(1, quantity=QUANTITY, price=PRICE)).encode(), "row"),  # decimal.handling.mode=string
    (b"T-2", json.dumps(wrapped(bare(2, quantity=b64(1234567890123456725), price=b64(9912345678)),
                                {"quantity": 2, "price": 8})).encode(), "row"),  # precise: base64 + schema scale
    (b"T-3", json.dumps(bare(3, quantity={"scale": 2, "value": b64(1234567890123456725)},
                             price={"scale": 8, "value": b64(9912345678)})).encode(), "row"),  # VariableScaleDecimal
    (b"T-4", json.dumps(bare(4, version=2**63)).encode(), "dead:out_of_range"),  # the bad record in the middle
    (b"T-5", json.dumps({**bare(5), "ts_ms": 1_785_000_000_000_000_000}).encode(), "dead:bad_timestamp"),
    (b"T-6", None, "skip:tombstone"),
    (b"T-7", json.dumps({"op": "m", "ts_ms": 1, "source": {**SOURCE, "lsn": 107},
                         "message": {"prefix": "audit", "content": "aGk="}}).encode(), "skip:message"),
    (b"T-8", b'{"op":"c","after":{"trade_id":"\xff\xfe"}}', "dead:invalid_json"),  # not UTF-8
    (b"T-9", text(wrapped(bare(9, quantity=QUANTITY, price=PRICE), {})), "row"),  # wrapped, JSON numbers
    (b"T-10", json.dumps(bare(10, quantity="0.1234567")).encode(), "dead:precision_loss"),
    (b"T-11", json.dumps(bare(11, op="t")).encode(), "row"),  # truncate: a row for silver to apply
    (b"T-12", text(bare(12, quantity=QUANTITY, price=PRICE)), "row"),  # lands after all of the above
]
PARTITION_1 = [(f"U-{i}".encode(), text(bare(50 + i, quantity=QUANTITY, price=PRICE)), "row") for i in range(4)]


def kcat_produce(bootstrap: str, topic: str, partition: int, records: list[tuple[bytes | None, bytes | None, str]]):
    """Produce records in order with kcat: key and value split by 0x1f, records by 0x1e, empty = NULL (-Z)."""
    payload = b"\x1e".join((key or b"") + b"\x1f" + (value or b"") for key, value, _ in records)
    subprocess.run(["kcat", "-P", "-b", bootstrap, "-t", topic, "-p", str(partition), "-K", "\x1f", "-D", "\x1e",
                    "-Z", "-X", "acks=all"], input=payload, check=True, timeout=60)  # fmt: skip


@pytest.fixture
def kcat_topics(kafka_broker, tmp_path, monkeypatch, instance, small_firm):
    if shutil.which("kcat") is None:
        pytest.fail("kcat is missing: `make system-deps` installs it (Debian package kcat)")
    prefix = f"k{uuid.uuid4().hex[:8]}."
    bootstrap = kafka_broker.bootstrap_servers
    cdc_producer.ensure_cdc_topics(bootstrap, 2, topic_prefix=prefix)
    kcat_produce(bootstrap, f"{prefix}aladdin.trades", 0, PARTITION_0)
    kcat_produce(bootstrap, f"{prefix}aladdin.trades", 1, PARTITION_1)
    for name, value in (("MESH_ENV", "local"), ("MESH_KAFKA_BOOTSTRAP", bootstrap), ("MESH_KAFKA_TOPIC_PREFIX", prefix),
                        ("MESH_DATA_DIR", str(tmp_path / "data")), ("MESH_FIRM_DIR", str(small_firm)),
                        ("MESH_CDC_MAX_RANGE", "5")):  # fmt: skip
        monkeypatch.setenv(name, value)
    from mesh_assets.definitions import build_definitions

    return {"defs": build_definitions(), "instance": instance}


def outcomes(iceberg) -> dict[tuple[int, int], list[str]]:
    """Every outcome of every offset of aladdin.trades, from the three tables."""
    found: dict[tuple[int, int], list[str]] = {}
    for spec, label in ((tables.TRADES, None), (tables.DEAD_LETTERS, "reason_code"), (tables.CDC_SKIPS, "kind")):
        rows = iceberg.table(spec).scan().to_arrow().to_pylist()
        for row in rows:
            if row["source_topic"] != "aladdin.trades":
                continue
            what = "row" if label is None else f"{'dead' if label == 'reason_code' else 'skip'}:{row[label]}"
            found.setdefault((row["source_partition"], row["source_offset"]), []).append(what)
    return found


def test_every_offset_is_one_row_dead_letter_or_skip_and_a_rerun_adds_nothing(kcat_topics):
    from tests.integration.test_cdc_kafka import drain, evaluate_sensor

    keys = drain(kcat_topics)
    assert keys, "the sensor requested no run"
    iceberg = kcat_topics["defs"].resources["iceberg"]
    expected = {(0, offset): [outcome] for offset, (_, _, outcome) in enumerate(PARTITION_0)}
    expected |= {(1, offset): [outcome] for offset, (_, _, outcome) in enumerate(PARTITION_1)}
    assert outcomes(iceberg) == expected  # offset by offset: exactly one outcome each, none missing

    rows = {r["trade_id"] or f"truncate@{r['source_offset']}": r
            for r in iceberg.table(tables.TRADES).scan().to_arrow().to_pylist() if r["source_partition"] == 0}
    for trade_id in ("T-0", "T-1", "T-2", "T-3", "T-9", "T-12"):  # every decimal encoding, exactly as sent
        assert (rows[trade_id]["quantity"], rows[trade_id]["price"]) == (Decimal(QUANTITY), Decimal(PRICE)), trade_id
    assert rows["truncate@11"]["op"] == "t"
    dead = {r["source_offset"]: r for r in iceberg.table(tables.DEAD_LETTERS).scan().to_arrow().to_pylist()}
    for offset, (_, value, _) in enumerate(PARTITION_0):
        if offset in dead:
            assert dead[offset]["raw_value"] == value  # the exact bytes kcat sent
            assert dead[offset]["reason"].startswith(f"aladdin.trades/0@{offset}: ")

    before = {spec.identifier: iceberg.table(spec).current_snapshot().snapshot_id
              for spec in (tables.TRADES, tables.DEAD_LETTERS, tables.CDC_SKIPS)}  # fmt: skip
    assert not evaluate_sensor(kcat_topics, None).run_requests  # nothing left: the committed positions say so
    from dagster import RunRequest

    from tests.integration.test_cdc_kafka import run_request

    config = {"ops": {"aladdin_cdc": {"config": {"ranges": keys[0].split(",")}}}}  # a run key names its ranges
    rerun = RunRequest(run_key=f"{keys[0]}-rerun", run_config=config)
    assert run_request(kcat_topics, rerun).success  # the first range again, as a retried run would ask for it
    assert outcomes(iceberg) == expected
    after = {spec.identifier: iceberg.table(spec).current_snapshot().snapshot_id
             for spec in (tables.TRADES, tables.DEAD_LETTERS, tables.CDC_SKIPS)}  # fmt: skip
    assert after == before  # the rerun committed nothing to any of the three tables
