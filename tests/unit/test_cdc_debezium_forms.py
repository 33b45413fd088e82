"""Every Debezium / Kafka Connect JSON form of a change event, read exactly or dead-lettered by name."""

from __future__ import annotations

import base64
import datetime as dt
import json
from decimal import Decimal

import pytest

from mesh_assets.lib.cdc import SourceRecord, parse_batch
from mesh_assets.lib.cdc.contracts import CONTRACTS

TRADES = CONTRACTS["aladdin.trades"]
TRADE = {
    "trade_id": "T-1", "portfolio_id": "P-0001", "security_id": "S-00001", "side": "BUY", "quantity": 100,
    "price": 25.5, "currency": "USD", "trade_date": "2026-08-03", "settle_date": "2026-08-04", "version": 1,
}  # fmt: skip
SOURCE = {"connector": "postgresql", "db": "aladdin", "table": "trades", "lsn": 42, "txId": 7}


def bare(op: str = "c", after=TRADE, before=None, **overrides) -> dict:
    return {"op": op, "before": before, "after": after, "ts_ms": 1_785_000_000_000, "source": dict(SOURCE),
            **overrides}  # fmt: skip


def unscaled_b64(unscaled: int) -> str:
    return base64.b64encode(unscaled.to_bytes((unscaled.bit_length() + 8) // 8, "big", signed=True)).decode()


def wrapped(envelope: dict, field_schemas: list[dict]) -> dict:
    """A Kafka Connect JsonConverter (schemas.enable=true) record of ``envelope``."""
    image = {"type": "struct", "optional": True, "name": "aladdin.public.trades.Value", "fields": field_schemas}
    return {"schema": {"type": "struct", "name": "aladdin.public.trades.Envelope",
                       "fields": [{"field": "before", **image}, {"field": "after", **image},
                                  {"field": "op", "type": "string"}, {"field": "ts_ms", "type": "int64"}]},
            "payload": envelope}  # fmt: skip


def parse(value, key: bytes | None = b'{"trade_id":"T-1"}', raw: bytes | None = None):
    data = raw if raw is not None else (None if value is None else json.dumps(value).encode())
    return parse_batch([SourceRecord("aladdin.trades", 0, 5, 1_785_000_000_000, key, data)], TRADES)


def only_row(batch) -> dict:
    assert not batch.dead_letters, [d.reason for d in batch.dead_letters]
    assert batch.row_count == 1
    return {name: values[0] for name, values in batch.columns.items()}


def only_dead(batch):
    assert batch.row_count == 0 and not batch.skips
    [dead] = batch.dead_letters
    assert dead.reason.startswith("aladdin.trades/0@5: ")
    return dead


DECIMAL_SCHEMA = [{"field": "quantity", "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal",
                   "parameters": {"scale": "6"}},
                  {"field": "price", "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal",
                   "parameters": {"scale": "2", "connect.decimal.precision": "10"}}]  # fmt: skip


@pytest.mark.parametrize(
    "value",
    [
        bare(after={**TRADE, "quantity": 12345678901234567, "price": 123.45}),  # JSON numbers
        bare(after={**TRADE, "quantity": "12345678901234567", "price": "123.45"}),  # decimal.handling.mode=string
        bare(after={**TRADE, "quantity": {"scale": 0, "value": unscaled_b64(12345678901234567)},
                    "price": {"scale": 2, "value": unscaled_b64(12345)}}),  # VariableScaleDecimal
        wrapped(bare(after={**TRADE, "quantity": unscaled_b64(12345678901234567_000000),
                            "price": unscaled_b64(12345)}), DECIMAL_SCHEMA),  # precise: base64 + schema scale
        wrapped(bare(after={**TRADE, "quantity": 12345678901234567, "price": 123.45}), []),  # wrapped, plain JSON
    ],
    ids=["number", "string", "variable_scale", "connect_decimal_bytes", "wrapped_numbers"],
)
def test_every_decimal_encoding_lands_exactly(value):
    row = only_row(parse(value))
    assert row["quantity"] == Decimal("12345678901234567")  # 17 digits: a double would have rounded it
    assert row["price"] == Decimal("123.45")


def test_a_decimal_with_more_digits_than_the_contract_holds_is_precision_loss_never_rounded():
    for quantity in ("0.1234567", 10**18, "1e30"):
        dead = only_dead(parse(bare(after={**TRADE, "quantity": quantity})))
        assert dead.reason_code == "precision_loss" and "'quantity'" in dead.reason and "decimal(24,6)" in dead.reason
    row = only_row(parse(None, raw=json.dumps(bare()).replace("25.5", "25.50000000").encode()))
    assert row["price"] == Decimal("25.5")  # trailing zeros are not digits lost


@pytest.mark.parametrize(
    ("date_value", "schema_name"),
    [("2026-08-03", None), (20668, None), (20668, "io.debezium.time.Date"),
     (20668, "org.apache.kafka.connect.data.Date"),
     (20668 * 86_400_000, "org.apache.kafka.connect.data.Timestamp"),
     (20668 * 86_400_000_000, "io.debezium.time.MicroTimestamp"),
     (20668 * 86_400_000_000_000, "io.debezium.time.NanoTimestamp"),
     ("2026-08-03T00:00:00Z", "io.debezium.time.ZonedTimestamp")],
)  # fmt: skip
def test_dates_in_every_temporal_encoding(date_value, schema_name):
    envelope = bare(after={**TRADE, "trade_date": date_value})
    schema = [{"field": "trade_date", "type": "int32", "name": schema_name}]
    value = wrapped(envelope, schema) if schema_name else envelope
    assert only_row(parse(value))["trade_date"] == dt.date(2026, 8, 3)


def test_a_date_with_a_time_of_day_or_a_time_type_is_a_named_dead_letter():
    noon = wrapped(bare(after={**TRADE, "trade_date": 20668 * 86_400_000 + 43_200_000}),
                   [{"field": "trade_date", "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp"}])
    assert only_dead(parse(noon)).reason_code == "precision_loss"
    time_only = wrapped(bare(after={**TRADE, "trade_date": 3_600_000}),
                        [{"field": "trade_date", "type": "int32", "name": "org.apache.kafka.connect.data.Time"}])
    assert only_dead(parse(time_only)).reason_code == "wrong_type"


@pytest.mark.parametrize(
    ("times", "expected_us"),
    [({"ts_ms": 1_785_000_000_123}, 1_785_000_000_123_000),
     ({"ts_ms": 1_785_000_000_123, "ts_us": 1_785_000_000_123_456}, 1_785_000_000_123_456),
     ({"ts_ns": 1_785_000_000_123_456_789}, 1_785_000_000_123_456),
     ({"source": {**SOURCE, "ts_us": 1_785_000_000_000_001}}, 1_785_000_000_000_001)],
)  # fmt: skip
def test_event_time_from_ts_ms_us_or_ns_on_the_envelope_or_in_source(times, expected_us):
    envelope = {k: v for k, v in bare().items() if k != "ts_ms"} | times
    row = only_row(parse(envelope))
    assert (row["ts_us"], row["ts_ms"]) == (expected_us, expected_us // 1000)


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [({"after": {**TRADE, "version": 2**31}}, None, None),  # int64 now: lands
     ({"after": {**TRADE, "version": 2**63}}, "out_of_range", "'version'"),
     ({"source": {**SOURCE, "lsn": 2**63}}, "out_of_range", "'source.lsn'"),
     ({"source": {**SOURCE, "txId": 2**63}}, "out_of_range", "'source.txId'"),
     ({"source": {**SOURCE, "txId": "1x"}}, "wrong_type", "'source.txId'"),
     ({"ts_ms": 1_785_000_000_000_000_000}, "bad_timestamp", "'ts_ms'"),  # nanoseconds sent as ts_ms
     ({"after": {**TRADE, "portfolio_id": {"id": "P-0001"}}}, "wrong_type", "'portfolio_id'"),
     ({"after": {**TRADE, "currency": "\ud800"}}, "invalid_text", "'currency'")],
)  # fmt: skip
def test_values_beyond_the_column_types_are_dead_letters_with_the_field_and_rule(change, code, field):
    batch = parse(bare(**change))
    if code is None:
        assert only_row(batch)["version"] == 2**31
        return
    dead = only_dead(batch)
    assert dead.reason_code == code and field in dead.reason


def test_tx_id_as_text_is_read():
    assert only_row(parse(bare(source={**SOURCE, "txId": "123456"})))["tx_id"] == 123456


def test_truncate_is_a_row_with_an_empty_image_and_messages_tombstones_and_empty_records_are_skips():
    truncate = only_row(parse(bare(op="t", after=None)))
    assert truncate["op"] == "t" and truncate["trade_id"] is None and truncate["lsn"] == 42
    message = {"op": "m", "ts_ms": 1, "source": SOURCE, "message": {"prefix": "p", "content": "aGk="}}
    assert [s.kind for s in parse(message).skips] == ["message"]
    assert [s.kind for s in parse(None).skips] == ["tombstone"]
    assert [s.kind for s in parse(None, key=None).skips] == ["empty"]
    assert [s.kind for s in parse({"schema": None, "payload": None}).skips] == ["null_payload"]


def test_reasons_show_a_masked_excerpt_never_the_value():
    dead = only_dead(parse(bare(after={**TRADE, "side": "jane.doe@example.com"})))
    assert dead.reason_code == "invalid_value"
    assert "jane" not in dead.reason and "example" not in dead.reason and "(20 chars)" in dead.reason
    assert b"jane.doe@example.com" in dead.record.value  # the exact bytes stay in the dead letter


def test_json_that_is_not_json_is_invalid_json():
    for raw in (b'{"op": NaN}', b"\xff\xfe{}", b"", b"[" * 100_000):
        assert only_dead(parse(None, raw=raw)).reason_code == "invalid_json"
