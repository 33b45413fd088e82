"""A bronze CDC table created under the old contract (int32 version, double quantities) is evolved before
the next batch lands: version promoted to long, doubles kept beside the new exact decimal columns, the
committed source positions untouched (the next batch continues where the old one stopped)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pyarrow as pa
import pytest

from mesh_assets.lib.cdc.records import OffsetRange, RecordChunk, SourceRecord
from mesh_assets.lib.lakehouse import tables
from mesh_assets.lib.lakehouse.exactly_once import append_exactly_once
from mesh_assets.lib.lakehouse.positions import committed_positions
from mesh_assets.lib.lakehouse.schema_evolution import pending_changes

pytestmark = pytest.mark.integration

TOPIC = "aladdin.trades"
OLD_TYPES = {"quantity": "double", "price": "double", "version": "int32"}


class ChunkSource:
    def __init__(self, records: list[SourceRecord]) -> None:
        self.records = records

    def read_chunks(self, ranges):
        yield RecordChunk.of_records(self.records)


def envelope(i: int) -> bytes:
    after = {"trade_id": f"T-{i}", "portfolio_id": "P-1", "security_id": "S-1", "side": "BUY",
             "quantity": "12345678901234567.5", "price": 10.25, "currency": "USD", "trade_date": "2026-08-03",
             "settle_date": "2026-08-04", "version": 2**40}  # fmt: skip
    return json.dumps({"op": "c", "after": after, "ts_ms": 1_785_000_000_000, "source": {"lsn": i}}).encode()


def test_an_old_table_is_evolved_and_the_next_batch_continues_where_it_stopped(tmp_path):
    from mesh_assets.bronze.aladdin_cdc import ingest_topic
    from resources.iceberg import IcebergCatalogResource

    iceberg = IcebergCatalogResource(catalog_type="sql", uri=f"sqlite:///{tmp_path}/catalog.db",
                                     warehouse=f"file://{tmp_path}/warehouse")  # fmt: skip
    old_columns = tuple((name, OLD_TYPES.get(name, kind)) for name, kind in tables.TRADES.columns)
    old = tables.TableSpec(tables.TRADES.namespace, tables.TRADES.name, old_columns)
    catalog = iceberg.catalog()
    tables.ensure_table(catalog, old)
    row = {name: None for name, _ in old_columns} | {
        "source_topic": TOPIC, "source_partition": 0, "source_offset": 0, "op": "c", "trade_id": "T-0",
        "quantity": 100.0, "version": 1, "ts_ms": 1, "lsn": 0, "event_ts": dt.datetime(2026, 8, 3, tzinfo=dt.UTC)}
    append_exactly_once(lambda: catalog.load_table(old.identifier), [OffsetRange(TOPIC, 0, 0, 1)],
                        pa.Table.from_pylist([row], schema=old.schema))  # fmt: skip
    append_exactly_once(tables.table_loader(catalog, tables.DEAD_LETTERS), [OffsetRange(TOPIC, 0, 0, 1)],
                        tables.DEAD_LETTERS.schema.empty_table())  # fmt: skip
    assert {c for c, _ in pending_changes(catalog.load_table(old.identifier), tables.TRADES)} == {
        "promote", "replace_double"}

    records = [SourceRecord(TOPIC, 0, offset, 0, None, envelope(offset)) for offset in (1, 2)]
    data, dead, _ = ingest_topic(TOPIC, [OffsetRange(TOPIC, 0, 1, 3)], ChunkSource(records), iceberg, "b2")

    assert (data.rows_written, dead.rows_written) == (2, 0)
    table = catalog.load_table(tables.TRADES.identifier)
    assert pending_changes(table, tables.TRADES) == []
    types = {f.name: str(f.field_type) for f in table.schema().fields}
    assert (types["version"], types["quantity"], types["quantity_double"]) == ("long", "decimal(24, 6)", "double")
    rows = {r["source_offset"]: r for r in table.scan().to_arrow().to_pylist()}
    assert (rows[0]["quantity"], rows[0]["quantity_double"], rows[0]["version"]) == (None, 100.0, 1)
    assert (rows[1]["quantity"], rows[1]["version"]) == (Decimal("12345678901234567.5"), 2**40)
    assert committed_positions(table)[(TOPIC, 0)] == 3
