"""Arrow schemas of the columnar CDC parse (envelope columns, a contract's rows, what ``pyarrow.json`` reads) and the
JSON-lines buffer it parses. Pure: pyarrow is imported where used."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mesh_assets.lib.cdc.contracts import FieldSpec, TopicContract

if TYPE_CHECKING:
    import pyarrow as pa


def field_type(spec: FieldSpec) -> pa.DataType:
    """The Arrow type of a contract field (a decimal at its precision and scale)."""
    import pyarrow as pa

    if spec.type == "decimal":
        return pa.decimal128(spec.precision, spec.scale)
    return {"string": pa.string(), "int": pa.int64(), "date": pa.date32()}[spec.type]


def envelope_schema() -> pa.Schema:
    """Arrow schema of the envelope columns, as both paths produce them."""
    import pyarrow as pa

    return pa.schema([
        ("source_topic", pa.string()), ("source_partition", pa.int32()), ("source_offset", pa.int64()),
        ("source_timestamp_ms", pa.int64()), ("record_key", pa.string()), ("op", pa.string()),
        ("ts_ms", pa.int64()), ("lsn", pa.int64()), ("tx_id", pa.int64()), ("before_json", pa.string()),
        ("ts_us", pa.int64()),
    ])  # fmt: skip


def rows_schema(contract: TopicContract) -> pa.Schema:
    """Arrow schema of parsed rows: envelope columns, then the contract's fields (additive fields follow)."""
    import pyarrow as pa

    return pa.schema([*envelope_schema(), *(pa.field(f.name, field_type(f)) for f in contract.fields)])


def json_schema(contract: TopicContract) -> pa.Schema:
    """What ``pyarrow.json`` reads each line ``{"v": envelope}`` as (dates as text, checked afterwards)."""
    import pyarrow as pa

    image = pa.struct([pa.field(f.name, pa.string() if f.type == "date" else field_type(f)) for f in contract.fields])
    # Debezium's other source fields are declared too (never read): Arrow infers undeclared fields
    # record by record, which costs ~20% of the parse; a record whose field has another type fails
    # its unit, and the halving sends it to the per-record parser like any other surprise.
    source = pa.struct([("lsn", pa.int64()), ("table", pa.string()), ("txId", pa.int64()),
                        ("connector", pa.string()), ("db", pa.string()), ("ts_ms", pa.int64()),
                        ("ts_us", pa.int64()), ("ts_ns", pa.int64())])  # fmt: skip
    envelope = pa.struct([("op", pa.string()), ("ts_ms", pa.int64()), ("ts_us", pa.int64()), ("ts_ns", pa.int64()),
                          ("source", source), ("before", image), ("after", image)])  # fmt: skip
    return pa.schema([("v", envelope)])


def json_lines(values: list[bytes]) -> bytes:
    """One line ``{"v": value}`` per value: a value that is not exactly one JSON value breaks its line.

    The buffer is copied once (the wrapper's ends go on the first and last values, not around the joined
    megabytes)."""
    if len(values) <= 1:
        return b'{"v":' + b"".join(values) + b"}"
    return b'}\n{"v":'.join([b'{"v":' + values[0], *values[1:-1], values[-1] + b"}"])


def with_columns(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with ``schema``'s columns in its order; columns it lacks (additive fields) are null."""
    import pyarrow as pa

    if table.schema.equals(schema):
        return table
    return pa.Table.from_arrays(
        [table[f.name] if f.name in table.column_names else pa.nulls(table.num_rows, f.type) for f in schema],
        schema=schema,
    )
