"""Property: whatever a CDC record holds, it ends as exactly one landed row, dead letter or recorded skip,
through the real parser (vectorized and per record) and the real Iceberg writer; no batch raises.

Envelopes are generated over the full value domain of every contract field type: integers up to and
beyond ±2^64, floats with NaN and infinities, text with non-UTF-8 bytes and lone surrogates, objects and
arrays where scalars belong, timestamps in every unit and as ISO text, decimals in every encoding, bare
and wrapped by Kafka Connect's JsonConverter. One SQLite Iceberg catalog for all examples; each example
is its own partition of the trades topic.
"""

from __future__ import annotations

import base64
import itertools
import json
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesh_assets.lib.cdc.contracts import CONTRACTS
from mesh_assets.lib.cdc.records import OffsetRange, RecordChunk, SourceRecord
from mesh_assets.lib.lakehouse import tables

pytestmark = pytest.mark.integration

TOPIC = "aladdin.trades"
CONTRACT = CONTRACTS[TOPIC]
TRADE = {
    "trade_id": "T-1", "portfolio_id": "P-0001", "security_id": "S-00001", "side": "BUY", "quantity": 100,
    "price": 25.5, "currency": "USD", "trade_date": "2026-08-03", "settle_date": "2026-08-04", "version": 1,
}  # fmt: skip
_partitions = itertools.count()


class RawNumber(str):
    """A decimal written as a bare JSON number (its exact text), not as a JSON string."""


def b64(unscaled: int) -> str:
    return base64.b64encode(unscaled.to_bytes((unscaled.bit_length() + 8) // 8, "big", signed=True)).decode()


big_ints = st.one_of(st.integers(-(2**66), 2**66), st.sampled_from([2**31, 2**63 - 1, 2**63, -(2**63) - 1, 2**64]))
floats = st.floats(allow_nan=True, allow_infinity=True)
texts = st.one_of(st.text(max_size=8), st.sampled_from(["\ud800", "a\udfffb", "BUY", "SELL", "USD", "2026-02-30",
                                                        "2026-08-03T00:00:00Z", "2026-08-03T12:00:00+02:00"]))
decimals = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=None).map(str),  # decimal text (string mode)
    st.decimals(allow_nan=False, allow_infinity=False, places=None).map(lambda d: RawNumber(str(d))),
    st.tuples(st.integers(-(2**80), 2**80), st.integers(-3, 12)).map(lambda t: {"scale": t[1], "value": b64(t[0])}),
    st.integers(-(2**80), 2**80).map(b64),  # base64 bytes (readable with a Decimal schema only)
)
timestamps = st.one_of(big_ints, st.integers(0, 2**62), texts)
scalars = st.one_of(st.none(), st.booleans(), big_ints, floats, texts, decimals)
values = st.one_of(scalars, st.lists(scalars, max_size=2), st.dictionaries(st.text(max_size=3), scalars, max_size=2))


@st.composite
def envelopes(draw) -> tuple[bytes | None, bytes | None]:
    """(key, value bytes) of one record."""
    kind = draw(st.sampled_from(["mutated", "mutated", "mutated", "tombstone", "empty", "bytes", "valid"]))
    if kind == "tombstone":
        return b"k", None
    if kind == "empty":
        return None, None
    image = dict(TRADE)
    for name in draw(st.lists(st.sampled_from([*sorted(TRADE), "extra_field"]), max_size=3)) if kind != "valid" else []:
        image[name] = draw(values)
    # the envelope is mostly well-formed, so that the row image's fields are reached and tried too
    odd = kind != "valid" and draw(st.integers(0, 3)) == 0
    op = draw(st.sampled_from(["c", "u", "d", "r", "t", "m", "x", None])) if odd else draw(st.sampled_from("cudr"))
    envelope: dict = {"op": op, "before": image if op == "d" else None, "after": None if op == "d" else image,
                      "source": {"table": "trades", "lsn": draw(big_ints) if odd else 42,
                                 "txId": draw(st.one_of(st.none(), big_ints, texts)) if odd else 7}}  # fmt: skip
    for name in draw(st.lists(st.sampled_from(["ts_ms", "ts_us", "ts_ns"]), min_size=1, max_size=2, unique=True)):
        envelope[name] = draw(timestamps) if odd else 1_785_000_000_000
    if draw(st.booleans()):
        fields = [{"field": name, "type": "bytes", "name": draw(st.sampled_from([
            "org.apache.kafka.connect.data.Decimal", "io.debezium.time.Date", "io.debezium.time.NanoTimestamp",
            "org.apache.kafka.connect.data.Time", "io.debezium.time.ZonedTimestamp"])),
            "parameters": {"scale": str(draw(st.integers(0, 8)))}} for name in ("quantity", "price", "trade_date")]
        envelope = {"schema": {"type": "struct", "fields": [{"field": "after", "type": "struct", "fields": fields}]},
                    "payload": envelope}  # fmt: skip
    raw = json.dumps(envelope, default=str).encode()
    for number in _raw_numbers(envelope):
        raw = raw.replace(json.dumps(number).encode(), number.encode(), 1)
    if kind == "bytes":
        at = draw(st.integers(0, len(raw) - 1))
        raw = raw[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\n", b"NaN", b"\x00"])) + raw[at + 1:]
    return draw(st.one_of(st.none(), st.just(b"key"))), raw


def _raw_numbers(node) -> list[RawNumber]:
    if isinstance(node, RawNumber):
        return [node]
    if isinstance(node, dict):
        return [n for v in node.values() for n in _raw_numbers(v)]
    if isinstance(node, list):
        return [n for v in node for n in _raw_numbers(v)]
    return []


class ChunkSource:
    """The records of one example, read like the CDC source reads a range (one chunk)."""

    def __init__(self, records: list[SourceRecord]) -> None:
        self.records = records

    def read_chunks(self, ranges):
        yield RecordChunk.of_records(self.records)


@pytest.fixture(scope="module")
def iceberg(tmp_path_factory):
    from resources.iceberg import IcebergCatalogResource

    root = tmp_path_factory.mktemp("total_ingest")
    return IcebergCatalogResource(catalog_type="sql", uri=f"sqlite:///{root}/catalog.db",
                                  warehouse=f"file://{root}/warehouse")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.lists(envelopes(), min_size=1, max_size=12))
def test_every_record_ends_in_exactly_one_outcome_and_no_batch_raises(iceberg, records):
    from mesh_assets.bronze.aladdin_cdc import ingest_topic

    partition = next(_partitions)
    batch_records = [SourceRecord(TOPIC, partition, offset, 1_785_000_000_000, key, value)
                     for offset, (key, value) in enumerate(records)]  # fmt: skip
    ranges = [OffsetRange(TOPIC, partition, 0, len(records))]
    data, dead, batch = ingest_topic(TOPIC, ranges, ChunkSource(batch_records), iceberg, f"example-{partition}")

    landed = batch.rows["source_offset"].to_pylist()
    dead_offsets = [d.record.offset for d in batch.dead_letters]
    skipped = [s.record.offset for s in batch.skips]
    outcomes = landed + dead_offsets + skipped
    assert sorted(outcomes) == list(range(len(records)))  # each offset exactly once
    assert data.rows_written == len(landed) and dead.rows_written == len(dead_offsets)
    for d in batch.dead_letters:
        assert d.record.value == records[d.record.offset][1]  # exact bytes kept
        assert d.reason.startswith(f"{TOPIC}/{partition}@{d.record.offset}: ") and d.reason_code
    for s in batch.skips:
        assert s.kind in ("tombstone", "empty", "message", "null_payload")
    table = iceberg.table(tables.TRADES).scan(row_filter=f"source_partition = {partition}").to_arrow()
    assert sorted(table["source_offset"].to_pylist()) == sorted(landed)
    for quantity in table["quantity"].to_pylist():
        assert quantity is None or isinstance(quantity, Decimal)
