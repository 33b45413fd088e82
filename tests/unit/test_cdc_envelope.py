"""CDC parsing and validation on hand-built Debezium envelopes."""

import datetime as dt

import orjson
import pytest

from mesh_assets.cdc import SourceRecord, parse_batch
from mesh_assets.cdc.contracts import CONTRACTS

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
        (b"[1, 2]", "invalid_envelope", "not an object"),
        (envelope(op="x"), "unknown_op", "op is 'x'"),
        (envelope(after=None), "missing_image", "needs a 'after'"),
        (envelope(after={k: v for k, v in TRADE.items() if k != "portfolio_id"}), "missing_required_field",
         "portfolio_id"),
        (envelope(after={**TRADE, "quantity": "12O0"}), "wrong_type", "quantity"),
        (envelope(after={**TRADE, "trade_date": "2026-13-45"}), "wrong_type", "trade_date"),
        (envelope(after={**TRADE, "side": "HOLD"}), "invalid_value", "side"),
        (envelope(ts_ms="yesterday"), "invalid_envelope", "ts_ms"),
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


def test_fast_path_gives_exactly_what_the_full_validation_gives(small_firm, monkeypatch):
    """Every record of the firm's capture (valid, corrected, deleted, malformed) parses the same either way."""
    import json

    from mesh_assets.cdc import envelope as module

    for topic, contract in CONTRACTS.items():
        records = []
        for line in (small_firm / "aladdin" / "cdc" / f"{topic}.jsonl").read_text().splitlines():
            r = json.loads(line)
            records.append(SourceRecord(r["topic"], r["partition"], r["offset"], r["timestamp_ms"],
                                        r["key"].encode(), r["value"].encode() if r["value"] is not None else None))
        fast = parse_batch(records, contract)
        with monkeypatch.context() as patch:
            patch.setattr(module, "_fast_path", lambda *_: None)
            slow = parse_batch(records, contract)
        assert fast.columns == slow.columns
        assert [(d.record.offset, d.reason) for d in fast.dead_letters] == [
            (d.record.offset, d.reason) for d in slow.dead_letters]
        assert (fast.tombstones, fast.max_ts_ms, fast.row_count) == (slow.tombstones, slow.max_ts_ms, slow.row_count)
        assert fast.row_count > 0
