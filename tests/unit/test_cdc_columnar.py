"""The vectorized (Arrow) CDC parser gives exactly what the per-record parser gives, on mixed input."""

from __future__ import annotations

import json

import orjson
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesh_assets.lib.cdc import SourceRecord, parse_batch
from mesh_assets.lib.cdc.columnar import ColumnarParser, parse_chunks
from mesh_assets.lib.cdc.columnar_schema import rows_schema
from mesh_assets.lib.cdc.contracts import CONTRACTS
from mesh_assets.lib.cdc.envelope import ENVELOPE_COLUMNS
from mesh_assets.lib.cdc.records import RecordChunk

TRADES = CONTRACTS["aladdin.trades"]
TRADE = {
    "trade_id": "T-00000001", "portfolio_id": "P-0001", "security_id": "S-00001", "side": "BUY",
    "quantity": 100, "price": 25.5, "currency": "USD", "trade_date": "2026-08-03", "settle_date": "2026-08-04",
    "version": 1,
}  # fmt: skip


def envelope(op: str = "c", before=None, after=TRADE, **overrides) -> bytes:
    body = {
        "op": op,
        "before": before,
        "after": after,
        "ts_ms": 1_785_000_000_000,
        "source": {"connector": "aladdin", "db": "aladdin", "table": "trades", "lsn": 42, "txId": 7},
    }
    body.update(overrides)
    return orjson.dumps(body)


def trade(i: int, **changes) -> dict:
    return {**TRADE, "trade_id": f"T-{i:08d}", "quantity": i * 3, "price": round(i / 7, 6), **changes}


#: One value per case the two paths must agree on (valid, poison, schema change, JSON edge cases).
MIXED_VALUES: list[bytes | None] = [
    envelope(after=trade(1)),
    envelope(op="r", after=trade(2)),
    envelope(op="u", after=trade(3, version=2)),  # update without a before image
    envelope(op="u", before=trade(4), after=trade(4, price=1.5, version=2)),  # update with before
    envelope(op="d", before=trade(5), after=None),  # delete
    None,  # tombstone
    envelope(after=trade(6))[:40],  # malformed JSON
    b"",  # empty value
    b"[1, 2]",
    b"null",
    envelope(op="x"),
    envelope(after=None),
    envelope(after={k: v for k, v in trade(7).items() if k != "portfolio_id"}),  # missing required field
    envelope(after=trade(8, quantity="12O0")),  # type change: string for a double
    envelope(after=trade(9, quantity=True)),  # boolean for a double
    envelope(after=trade(10, version=2.0)),  # float for an int
    envelope(after=trade(11, trade_date="2026-13-45")),
    envelope(after=trade(12, trade_date="2026-02-30")),  # Arrow would roll it over to 03-02
    envelope(after=trade(13, trade_date="20260803")),  # fromisoformat reads it, the vectorized path does not
    envelope(after=trade(14, side="HOLD")),
    envelope(after=trade(15, rating="AA", desk={"id": 4})),  # additive fields
    envelope(after=trade(16, op="x")),  # additive field named like a bronze column
    envelope(after=trade(17, note=None)),  # additive field, null: not an additive column
    envelope(ts_ms="yesterday"),
    envelope(source={"table": "trades"}),
    envelope(source={"table": "cash_flows", "lsn": 1}),
    envelope(source={"lsn": 3}),  # no table, no txId
    envelope(source={"lsn": 3, "txId": "abc"}),  # txId not an integer: a dead letter
    envelope(after=trade(18), extra_top_level={"a": [1, 2]}),
    envelope(after=trade(19, portfolio_id="P-\u00e9\u00e8")),  # non-ASCII text
    envelope(after=trade(20))[:-1] + b' , "x": NaN}',  # NaN: orjson refuses it, Arrow would not
    envelope(after=trade(21)).replace(b'"op":"c"', b'"op":"c","op":"d"'),  # duplicate key
    envelope(after=trade(22)).replace(b'"USD"', b'"U\xffSD"'),  # invalid UTF-8
    envelope(after=trade(23)).replace(b",", b",\n", 1),  # a line break inside the value
    envelope(after=trade(24, price=0)).replace(b'"price":0', b'"price":-0'),  # -0 reads as integer 0
    envelope(after=trade(25, price=-0.0)),
    envelope(after=trade(26)) + b" {}",  # trailing content
    envelope(after=trade(27, quantity=18446744073709551615)),  # beyond int64, still a double
    envelope(after=trade(28, trade_id="T-\\u0000")),
    orjson.dumps({"op": "c", "after": trade(29), "ts_ms": 5, "source": {"lsn": 9}}),  # no before key at all
]


def records_of(values: list[bytes | None], partition: int = 2, start: int = 100) -> list[SourceRecord]:
    return [SourceRecord("aladdin.trades", partition, start + i, 1_785_000_000_000 + i,
                         None if i % 5 == 0 else f'{{"k":{i}}}'.encode(), v) for i, v in enumerate(values)]  # fmt: skip


def per_record_table(records: list[SourceRecord]) -> tuple[pa.Table, object]:
    """What the per-record parser gives, as an Arrow table in the columnar schema."""
    batch = parse_batch(records, TRADES)
    schema = rows_schema(TRADES)
    columns = {
        name: pa.array(batch.columns[name], field.type) for name, field in zip(schema.names, schema, strict=True)
    }
    for name, texts in batch.extra_columns.items():
        columns[name] = pa.array(texts, pa.string())
    return pa.table(columns), batch


def assert_same_as_per_record(records: list[SourceRecord], chunks: list[RecordChunk]) -> None:
    expected, slow = per_record_table(records)
    fast = parse_chunks(chunks, TRADES)
    assert fast.rows.column_names == expected.column_names
    assert fast.rows.to_pylist() == expected.to_pylist()
    assert fast.rows.schema.equals(expected.schema)
    assert [(d.record, d.reason_code, d.reason) for d in fast.dead_letters] == [
        (d.record, d.reason_code, d.reason) for d in slow.dead_letters
    ]
    assert (fast.skips, fast.max_ts_ms) == (slow.skips, slow.max_ts_ms)
    assert fast.extra_columns == tuple(slow.extra_columns)


def test_envelope_columns_come_first_in_the_declared_order():
    assert rows_schema(TRADES).names[: len(ENVELOPE_COLUMNS)] == list(ENVELOPE_COLUMNS)


def test_valid_creates_take_the_vectorized_path_with_typed_columns():
    records = records_of([envelope(after=trade(i)) for i in range(1, 201)])
    batch = parse_chunks([RecordChunk.of_records(records)], TRADES)
    assert (batch.vectorized_records, batch.per_record_records) == (200, 0)
    assert batch.rows.schema.field("trade_date").type == pa.date32()
    assert batch.rows.schema.field("quantity").type == pa.decimal128(24, 6)
    assert batch.rows.schema.field("version").type == pa.int64()
    assert batch.rows["source_offset"].to_pylist() == list(range(100, 300))
    assert_same_as_per_record(records, [RecordChunk.of_records(records)])


def test_mixed_input_gives_identical_rows_and_dead_letters():
    records = records_of(MIXED_VALUES)
    assert_same_as_per_record(records, [RecordChunk.of_records(records)])
    batch = parse_chunks([RecordChunk.of_records(records)], TRADES)
    assert {"rating", "desk"} <= set(batch.extra_columns)
    assert [s.kind for s in batch.skips] == ["empty"]  # no key and no value: recorded as a skip
    codes = {d.reason_code for d in batch.dead_letters}
    assert {"invalid_json", "invalid_envelope", "unknown_op", "missing_image", "missing_required_field",
            "wrong_type", "invalid_value", "wrong_table", "reserved_field"} <= codes  # fmt: skip
    assert all(d.reason.startswith(f"aladdin.trades/2@{d.record.offset}: ") for d in batch.dead_letters)


def test_poison_in_a_large_unit_only_sends_its_neighbourhood_per_record():
    values = [envelope(after=trade(i)) for i in range(1, 3001)]
    values[1234] = b'{"op": "c", "after": '  # breaks the whole JSON buffer
    values[2222] = envelope(after=trade(2222, quantity="many"))
    records = records_of(values, start=0)
    batch = parse_chunks([RecordChunk.of_records(records)], TRADES)
    assert [d.record.offset for d in batch.dead_letters] == [1234, 2222]
    assert batch.per_record_records <= 2 * 64 and batch.vectorized_records >= 3000 - 2 * 64
    assert_same_as_per_record(records, [RecordChunk.of_records(records)])


def test_chunks_of_interleaved_partitions_come_out_in_partition_offset_order():
    by_partition = {p: records_of([envelope(after=trade(p * 100 + i)) for i in range(30)], partition=p, start=0)
                    for p in (0, 1, 2)}  # fmt: skip
    by_partition[1][7] = SourceRecord("aladdin.trades", 1, 7, 0, None, b"{")
    chunks = [RecordChunk.of_records(by_partition[p][i : i + 10]) for i in (0, 10, 20) for p in (2, 0, 1)]
    parser = ColumnarParser(TRADES, unit_records=25)  # several units
    for chunk in chunks:
        parser.add(chunk)
    batch = parser.finish()
    expected = [(p, o) for p in (0, 1, 2) for o in range(30) if (p, o) != (1, 7)]
    assert (
        list(zip(batch.rows["source_partition"].to_pylist(), batch.rows["source_offset"].to_pylist(), strict=True))
        == expected
    )
    assert [(d.record.partition, d.record.offset, d.reason_code) for d in batch.dead_letters] == [
        (1, 7, "invalid_json")
    ]


def test_units_start_small_and_double_up_to_the_unit_size_so_parsing_starts_with_the_first_records():
    records = records_of([envelope(after=trade(i)) for i in range(1, 61)], start=0)
    units: list[int] = []
    parser = ColumnarParser(TRADES, unit_records=16, first_unit_records=2, on_rows=lambda t: units.append(t.num_rows))
    for i in range(0, 60, 2):  # chunks of two records, as a reader hands them over
        parser.add(RecordChunk.of_records(records[i : i + 2]))
    assert units == [2, 4, 8, 16, 16]  # 46 records parsed while the rest is still arriving
    batch = parser.finish()
    assert units == [2, 4, 8, 16, 16, 14] and batch.row_count == 60
    assert batch.rows["source_offset"].to_pylist() == list(range(60))


def test_empty_batch_has_the_row_schema_and_no_rows():
    batch = parse_chunks([], TRADES)
    assert batch.row_count == 0 and batch.max_ts_ms is None
    assert batch.rows.schema.equals(rows_schema(TRADES))


def test_the_firms_capture_parses_the_same_either_way(small_firm):
    vectorized = 0
    for topic, contract in CONTRACTS.items():
        records = []
        for line in (small_firm / "aladdin" / "cdc" / f"{topic}.jsonl").read_text().splitlines():
            r = json.loads(line)
            records.append(
                SourceRecord(
                    r["topic"],
                    r["partition"],
                    r["offset"],
                    r["timestamp_ms"],
                    r["key"].encode(),
                    r["value"].encode() if r["value"] is not None else None,
                )
            )
        records.sort(key=lambda rec: (rec.partition, rec.offset))
        chunks = [RecordChunk.of_records([rec for rec in records if rec.partition == p])
                  for p in sorted({rec.partition for rec in records})]  # fmt: skip
        slow = parse_batch(records, contract)
        fast = parse_chunks(chunks, contract)
        assert fast.rows.select(list(slow.columns)).to_pydict() == slow.columns
        assert [(d.record, d.reason) for d in fast.dead_letters] == [(d.record, d.reason) for d in slow.dead_letters]
        assert fast.tombstones == slow.tombstones
        vectorized += fast.vectorized_records
    assert vectorized > 0


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**63), max_value=2**64 - 1),  # what orjson can encode
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
    st.sampled_from(["BUY", "SELL", "2026-08-03", "2026-02-30", "0000-01-01", "2026-8-3", "USD"]),
)  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(sorted(TRADE)), json_scalars), max_size=3), st.sampled_from("cudrx"))
def test_any_field_mutation_parses_the_same_either_way(mutations, op):
    values = [envelope(after=trade(i)) for i in range(40)]
    image = trade(99)
    for name, value in mutations:
        image[name] = value
    values[17] = envelope(op=op, before=image if op == "d" else None, after=None if op == "d" else image)
    records = records_of(values)
    assert_same_as_per_record(records, [RecordChunk.of_records(records)])


@pytest.mark.parametrize(
    "raw", [b'{"op":"c"} {"op":"d"}', b"  ", b'{"op":"c",}', b'{"op": Infinity}', b"\xef\xbb\xbf{}"]
)
def test_values_that_are_not_one_json_object_are_dead_letters_either_way(raw):
    records = records_of([envelope(after=trade(1)), raw, envelope(after=trade(2))])
    assert_same_as_per_record(records, [RecordChunk.of_records(records)])
