"""CDC parsing and validation on hand-built Debezium envelopes."""

import datetime as dt

import orjson
import pytest

from mesh_assets.lib.cdc import SourceRecord, parse_batch
from mesh_assets.lib.cdc.contracts import CONTRACTS

TRADE = {
    "trade_id": "T-00000001", "portfolio_id": "P-0001", "security_id": "S-00001", "side": "BUY",
    "quantity": 100, "price": 25.5, "currency": "USD", "trade_date": "2026-08-03", "settle_date": "2026-08-04",
    "version": 1,
}


def envelope(op: str = "c", before=None, after=TRADE, **overrides) -> bytes:
    body = {"op": op, "before": before, "after": after, "ts_ms": 1_785_000_000_000,
            "source": {"connector": "aladdin", "db": "aladdin", "table": "trades", "lsn": 42, "txId": 7}}
    body.update(overrides)
    return orjson.dumps(body)


def record(value: bytes | None, offset: int = 0) -> SourceRecord:
    return SourceRecord("aladdin.trades", 3, offset, 1_785_000_000_000, b'{"portfolio_id":"P-0001"}', value)


def parse_one(value: bytes | None):
    return parse_batch([record(value, offset=17)], CONTRACTS["aladdin.trades"])


def test_valid_create_becomes_a_typed_row():
    batch = parse_one(envelope())
    assert batch.row_count == 1 and not batch.dead_letters
    assert batch.columns["trade_date"] == [dt.date(2026, 8, 3)]
    assert batch.columns["quantity"] == [100.0]
    assert batch.columns["lsn"] == [42] and batch.columns["tx_id"] == [7]
    assert batch.columns["source_partition"] == [3] and batch.columns["source_offset"] == [17]


def test_delete_takes_the_before_image_and_keeps_it_as_json():
    batch = parse_one(envelope(op="d", before=TRADE, after=None))
    assert batch.row_count == 1
    assert batch.columns["op"] == ["d"]
    assert batch.columns["trade_id"] == ["T-00000001"]
    assert orjson.loads(batch.columns["before_json"][0])["price"] == 25.5


def test_update_keeps_before_and_after():
    corrected = {**TRADE, "price": 26.0, "version": 2}
    batch = parse_one(envelope(op="u", before=TRADE, after=corrected))
    assert batch.columns["price"] == [26.0] and batch.columns["version"] == [2]
    assert orjson.loads(batch.columns["before_json"][0])["price"] == 25.5


def test_tombstone_is_counted_not_a_row_nor_a_dead_letter():
    batch = parse_one(None)
    assert batch.row_count == 0 and batch.tombstones == 1 and not batch.dead_letters


@pytest.mark.parametrize(
    ("value", "code", "fragment"),
    [
        (envelope()[:40], "invalid_json", "not valid JSON"),
        (b"[1, 2]", "invalid_envelope", "not an envelope object"),
        (envelope(op="x"), "unknown_op", "field 'op' must be one of c/u/d/r/t/m: got 'x'"),
        (envelope(after=None), "missing_image", "needs a 'after'"),
        (envelope(after={k: v for k, v in TRADE.items() if k != "portfolio_id"}), "missing_required_field",
         "portfolio_id"),
        (envelope(after={**TRADE, "quantity": "12O0"}), "wrong_type", "quantity"),
        (envelope(after={**TRADE, "trade_date": "2026-13-45"}), "bad_timestamp", "trade_date"),
        (envelope(after={**TRADE, "side": "HOLD"}), "invalid_value", "side"),
        (envelope(ts_ms="yesterday"), "bad_timestamp", "ts_ms"),
        (envelope(source={"table": "trades"}), "invalid_envelope", "source.lsn"),
        (envelope(source={"table": "cash_flows", "lsn": 1}), "wrong_table", "cash_flows"),
    ],
)
def test_poison_record_becomes_a_dead_letter_naming_position_and_reason(value, code, fragment):
    batch = parse_one(value)
    assert batch.row_count == 0
    [dead] = batch.dead_letters
    assert dead.reason_code == code
    assert dead.reason.startswith("aladdin.trades/3@17: ")
    assert fragment in dead.reason
    assert dead.record.value == value


def test_batch_continues_after_poison_and_keeps_order():
    records = [record(envelope(), 0), record(b"{", 1), record(envelope(op="r"), 2), record(None, 3)]
    batch = parse_batch(records)
    assert batch.columns["source_offset"] == [0, 2]
    assert [d.record.offset for d in batch.dead_letters] == [1]
    assert batch.tombstones == 1


def test_boolean_is_not_accepted_as_a_number():
    batch = parse_one(envelope(after={**TRADE, "quantity": True}))
    assert batch.dead_letters[0].reason_code == "wrong_type"


def test_jsonconverter_wrapper_parses_like_the_bare_envelope(small_firm):
    """Every record of the firm's capture (valid, corrected, deleted, malformed) gives the same row or dead
    letter when Kafka Connect's JsonConverter wraps it as {"schema": ..., "payload": ...}."""
    import json

    for topic, contract in CONTRACTS.items():
        bare, wrapped = [], []
        for line in (small_firm / "aladdin" / "cdc" / f"{topic}.jsonl").read_text().splitlines():
            r = json.loads(line)
            value = r["value"]
            try:
                envelope_value = json.loads(value) if value is not None else None
            except ValueError:
                envelope_value = None
            for out, v in ((bare, value), (wrapped, value if not isinstance(envelope_value, dict) else json.dumps(
                    {"schema": {"type": "struct", "fields": [], "name": f"{topic}.Envelope"},
                     "payload": envelope_value}))):  # fmt: skip
                out.append(SourceRecord(r["topic"], r["partition"], r["offset"], r["timestamp_ms"], r["key"].encode(),
                                        v.encode() if v is not None else None))  # fmt: skip
        plain, wrapped_batch = parse_batch(bare, contract), parse_batch(wrapped, contract)
        assert plain.row_count > 0
        assert wrapped_batch.columns == plain.columns
        assert [(d.record.offset, d.reason_code) for d in wrapped_batch.dead_letters] == [
            (d.record.offset, d.reason_code) for d in plain.dead_letters]
        assert wrapped_batch.skips == plain.skips
