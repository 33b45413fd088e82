"""Declarations of the lakehouse's Iceberg tables and how to create them."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING

from mesh_assets.lib.cdc.contracts import CONTRACTS, TopicContract

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

#: Table properties every table gets. pyiceberg's own commit retry re-applies an append after a
#: conflict, which duplicates rows: it is switched off and the writers own their retry.
BASE_PROPERTIES: dict[str, str] = {
    "commit.retry.num-retries": "0",
    "format-version": "2",
    "write.parquet.compression-codec": "zstd",
}

#: Column type names used in table declarations (Arrow is imported only when a schema is built), and
#: ``decimal(P,S)`` for exact numbers.
TYPE_NAMES = ("string", "int32", "int64", "double", "date", "timestamp", "binary", "bool")
_DECIMAL = re.compile(r"decimal\(([0-9]{1,2}),([0-9]{1,2})\)")

#: Contract field types -> column type names (decimals: ``decimal(P,S)`` of the field).
_CONTRACT_TYPES = {"string": "string", "int": "int64", "date": "date"}


def _known_type(type_name: str) -> bool:
    return type_name in TYPE_NAMES or _DECIMAL.fullmatch(type_name) is not None

Columns = tuple[tuple[str, str], ...]


def arrow_type(type_name: str) -> pa.DataType:
    """The Arrow type of a column type name (timestamps are UTC microseconds, as Iceberg stores them)."""
    import pyarrow as pa

    decimal = _DECIMAL.fullmatch(type_name)
    if decimal is not None:
        return pa.decimal128(int(decimal.group(1)), int(decimal.group(2)))
    return {
        "string": pa.string(), "int32": pa.int32(), "int64": pa.int64(), "double": pa.float64(),
        "date": pa.date32(), "timestamp": pa.timestamp("us", tz="UTC"), "binary": pa.binary(), "bool": pa.bool_(),
    }[type_name]


@cache
def arrow_schema(columns: Columns) -> pa.Schema:
    """Arrow schema of declared ``(name, type name)`` columns."""
    import pyarrow as pa

    return pa.schema([pa.field(name, arrow_type(type_name)) for name, type_name in columns])


@dataclass(frozen=True)
class TableSpec:
    """An Iceberg table: namespace, name, columns and an optional identity partition column."""

    namespace: str
    name: str
    columns: Columns
    partition_column: str | None = None
    #: ``identity`` or ``month`` (a date column partitioned by month keeps files few and large).
    partition_transform: str = "identity"
    properties: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = [f"{n}:{t}" for n, t in self.columns if not _known_type(t)]
        if unknown:
            raise ValueError(f"{self.namespace}.{self.name}: unknown column types {unknown}")

    @property
    def identifier(self) -> str:
        """``namespace.name``."""
        return f"{self.namespace}.{self.name}"

    @property
    def schema(self) -> pa.Schema:
        """The table's Arrow schema."""
        return arrow_schema(self.columns)

    @property
    def column_names(self) -> list[str]:
        """Column names in order."""
        return [name for name, _ in self.columns]


def ensure_table(catalog: Catalog, spec: TableSpec) -> Table:
    """Create the table (and its namespace) if missing, and return it."""
    catalog.create_namespace_if_not_exists(spec.namespace)
    if catalog.table_exists(spec.identifier):
        return catalog.load_table(spec.identifier)
    table = catalog.create_table_if_not_exists(
        spec.identifier, schema=spec.schema, properties={**BASE_PROPERTIES, **spec.properties}
    )
    if spec.partition_column is not None and table.spec().is_unpartitioned():
        from pyiceberg.transforms import IdentityTransform, MonthTransform

        transform = {"identity": IdentityTransform(), "month": MonthTransform()}[spec.partition_transform]
        with table.update_spec() as update:
            update.add_field(spec.partition_column, transform, f"{spec.partition_column}_{spec.partition_transform}")
        table = catalog.load_table(spec.identifier)
    return table


def table_loader(catalog: Catalog, spec: TableSpec) -> Callable[[], Table]:
    """A function returning the table freshly loaded (one catalog read), created on first need (for commit retries).

    Unlike :func:`ensure_table` on every call (namespace check, existence check, then load), an
    existing table costs one load.
    """
    from pyiceberg.exceptions import NoSuchTableError

    def load() -> Table:
        try:
            return catalog.load_table(spec.identifier)
        except NoSuchTableError:
            return ensure_table(catalog, spec)

    return load


def cdc_columns(contract: TopicContract) -> Columns:
    """Columns of a bronze CDC table: source position, envelope, the contract's fields, audit."""
    envelope = (
        ("source_topic", "string"), ("source_partition", "int32"), ("source_offset", "int64"),
        ("source_timestamp_ms", "int64"), ("record_key", "string"), ("op", "string"), ("ts_ms", "int64"),
        ("lsn", "int64"), ("tx_id", "int64"), ("before_json", "string"),
    )
    fields = tuple((f.name, f"decimal({f.precision},{f.scale})" if f.type == "decimal" else _CONTRACT_TYPES[f.type])
                   for f in contract.fields)
    audit = (("event_ts", "timestamp"), ("ingested_at", "timestamp"), ("batch_id", "string"))
    return envelope + fields + audit


#: Records that deliberately carry no row (tombstones, header-only records, Debezium ``m`` messages), one each.
CDC_SKIP_COLUMNS: Columns = (
    ("source_topic", "string"), ("source_partition", "int32"), ("source_offset", "int64"),
    ("source_timestamp_ms", "int64"), ("record_key", "string"), ("kind", "string"), ("ingested_at", "timestamp"),
    ("batch_id", "string"),
)
DEAD_LETTER_COLUMNS: Columns = (
    ("source_topic", "string"), ("source_partition", "int32"), ("source_offset", "int64"),
    ("source_timestamp_ms", "int64"), ("record_key", "string"), ("raw_value", "binary"), ("reason_code", "string"),
    ("reason", "string"), ("ingested_at", "timestamp"), ("batch_id", "string"),
)
_DELIVERY_AUDIT: Columns = (
    ("delivery_date", "date"), ("source_file", "string"), ("source_line", "int32"), ("ingested_at", "timestamp"),
    ("batch_id", "string"),
)
PRICES_COLUMNS: Columns = (
    ("security_id", "string"), ("figi", "string"), ("price_date", "date"), ("px_last", "double"),
    ("currency", "string"), *_DELIVERY_AUDIT,
)
BENCHMARKS_COLUMNS: Columns = (
    ("benchmark_id", "string"), ("level_date", "date"), ("level", "double"), ("daily_return", "double"),
    *_DELIVERY_AUDIT,
)

BRONZE = "bronze"

TRADES = TableSpec(BRONZE, "aladdin_trades", cdc_columns(CONTRACTS["aladdin.trades"]))
CASH_FLOWS = TableSpec(BRONZE, "aladdin_cash_flows", cdc_columns(CONTRACTS["aladdin.cash_flows"]))
DEAD_LETTERS = TableSpec(BRONZE, "aladdin_dead_letters", DEAD_LETTER_COLUMNS)
CDC_SKIPS = TableSpec(BRONZE, "aladdin_cdc_skips", CDC_SKIP_COLUMNS)
#: Tables committed only for the batches that have rows for them (``allow_gaps``): their offset ranges jump by design.
OFFSET_GAPS_BY_DESIGN = frozenset({CDC_SKIPS.identifier})
# Daily deliveries, partitioned by delivery month: one file per day would mean 1,260 small files for
# five years, and every scan pays per file. Replacing a day rewrites that month's file without it.
PRICES = TableSpec(BRONZE, "bloomberg_prices", PRICES_COLUMNS, partition_column="delivery_date",
                   partition_transform="month")
BENCHMARKS = TableSpec(BRONZE, "factset_benchmarks", BENCHMARKS_COLUMNS, partition_column="delivery_date",
                       partition_transform="month")

#: The bronze CDC table of each topic.
CDC_TABLES: dict[str, TableSpec] = {"aladdin.trades": TRADES, "aladdin.cash_flows": CASH_FLOWS}
