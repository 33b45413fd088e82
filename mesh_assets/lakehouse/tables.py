"""Declarations of the lakehouse's Iceberg tables and how to create them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa

from mesh_assets.cdc.contracts import CONTRACTS, TopicContract

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

#: Table properties every table gets. pyiceberg's own commit retry re-applies an append after a
#: conflict, which duplicates rows: it is switched off and the writers own their retry.
BASE_PROPERTIES: dict[str, str] = {
    "commit.retry.num-retries": "0",
    "format-version": "2",
    "write.parquet.compression-codec": "zstd",
}

TIMESTAMP = pa.timestamp("us", tz="UTC")

_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "int": pa.int32(),
    "double": pa.float64(),
    "date": pa.date32(),
}


@dataclass(frozen=True)
class TableSpec:
    """An Iceberg table: namespace, name, Arrow schema and an optional identity partition column."""

    namespace: str
    name: str
    schema: pa.Schema
    partition_column: str | None = None
    properties: Mapping[str, str] = field(default_factory=dict)

    @property
    def identifier(self) -> str:
        """``namespace.name``."""
        return f"{self.namespace}.{self.name}"


def ensure_table(catalog: Catalog, spec: TableSpec) -> Table:
    """Create the table (and its namespace) if missing, and return it."""
    catalog.create_namespace_if_not_exists(spec.namespace)
    if catalog.table_exists(spec.identifier):
        return catalog.load_table(spec.identifier)
    table = catalog.create_table_if_not_exists(
        spec.identifier, schema=spec.schema, properties={**BASE_PROPERTIES, **spec.properties}
    )
    if spec.partition_column is not None and table.spec().is_unpartitioned():
        with table.update_spec() as update:
            update.add_identity(spec.partition_column)
        table = catalog.load_table(spec.identifier)
    return table


def cdc_schema(contract: TopicContract) -> pa.Schema:
    """Arrow schema of a bronze CDC table: envelope, source position and the contract's fields."""
    envelope = [
        pa.field("source_topic", pa.string()),
        pa.field("source_partition", pa.int32()),
        pa.field("source_offset", pa.int64()),
        pa.field("source_timestamp_ms", pa.int64()),
        pa.field("record_key", pa.string()),
        pa.field("op", pa.string()),
        pa.field("ts_ms", pa.int64()),
        pa.field("lsn", pa.int64()),
        pa.field("tx_id", pa.int64()),
        pa.field("before_json", pa.string()),
    ]
    fields = [pa.field(f.name, _ARROW_TYPES[f.type]) for f in contract.fields]
    audit = [pa.field("event_ts", TIMESTAMP), pa.field("ingested_at", TIMESTAMP), pa.field("batch_id", pa.string())]
    return pa.schema(envelope + fields + audit)


DEAD_LETTER_SCHEMA = pa.schema(
    [
        pa.field("source_topic", pa.string()),
        pa.field("source_partition", pa.int32()),
        pa.field("source_offset", pa.int64()),
        pa.field("source_timestamp_ms", pa.int64()),
        pa.field("record_key", pa.string()),
        pa.field("raw_value", pa.binary()),
        pa.field("reason_code", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("ingested_at", TIMESTAMP),
        pa.field("batch_id", pa.string()),
    ]
)

PRICES_SCHEMA = pa.schema(
    [
        pa.field("security_id", pa.string()),
        pa.field("figi", pa.string()),
        pa.field("price_date", pa.date32()),
        pa.field("px_last", pa.float64()),
        pa.field("currency", pa.string()),
        pa.field("delivery_date", pa.date32()),
        pa.field("source_file", pa.string()),
        pa.field("source_line", pa.int32()),
        pa.field("ingested_at", TIMESTAMP),
        pa.field("batch_id", pa.string()),
    ]
)

BENCHMARKS_SCHEMA = pa.schema(
    [
        pa.field("benchmark_id", pa.string()),
        pa.field("level_date", pa.date32()),
        pa.field("level", pa.float64()),
        pa.field("daily_return", pa.float64()),
        pa.field("delivery_date", pa.date32()),
        pa.field("source_file", pa.string()),
        pa.field("source_line", pa.int32()),
        pa.field("ingested_at", TIMESTAMP),
        pa.field("batch_id", pa.string()),
    ]
)

BRONZE = "bronze"

TRADES = TableSpec(BRONZE, "aladdin_trades", cdc_schema(CONTRACTS["aladdin.trades"]))
CASH_FLOWS = TableSpec(BRONZE, "aladdin_cash_flows", cdc_schema(CONTRACTS["aladdin.cash_flows"]))
DEAD_LETTERS = TableSpec(BRONZE, "aladdin_dead_letters", DEAD_LETTER_SCHEMA)
PRICES = TableSpec(BRONZE, "bloomberg_prices", PRICES_SCHEMA, partition_column="delivery_date")
BENCHMARKS = TableSpec(BRONZE, "factset_benchmarks", BENCHMARKS_SCHEMA, partition_column="delivery_date")

#: The bronze CDC table of each topic.
CDC_TABLES: dict[str, TableSpec] = {"aladdin.trades": TRADES, "aladdin.cash_flows": CASH_FLOWS}
