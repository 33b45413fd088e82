"""Reading delivered CSV files into Arrow, tolerant of bad values so that nothing is lost.

Numeric and date columns that do not parse become nulls in the typed column; the checks beside the
asset then fail with the file and line at fault, instead of the load crashing or dropping rows.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from mesh_assets.lib.user_errors import UserError


class DeliveryFormatError(UserError):
    """A delivered file lacks columns it must have; the message names the file and the columns (not retried)."""


def _to_float(values: pa.ChunkedArray) -> pa.Array:
    out = []
    for v in values.to_pylist():
        try:
            out.append(float(v) if v not in (None, "") else None)
        except ValueError:
            out.append(None)
    return pa.array(out, pa.float64())


def _to_date(values: pa.ChunkedArray) -> pa.Array:
    out = []
    for v in values.to_pylist():
        try:
            out.append(dt.date.fromisoformat(v) if v else None)
        except ValueError:
            out.append(None)
    return pa.array(out, pa.date32())


def _to_bool(values: pa.ChunkedArray) -> pa.Array:
    return pa.array([None if v in (None, "") else v.strip().lower() == "true" for v in values.to_pylist()], pa.bool_())


_CONVERTERS = {pa.float64(): _to_float, pa.date32(): _to_date, pa.bool_(): _to_bool}


def read_delivery_csv(data: bytes, schema: pa.Schema, source_file: str) -> pa.Table:
    """Parse a CSV into ``schema``'s source columns (strings first, then lenient typed conversion).

    Adds ``source_file`` and ``source_line`` (1-based data line, header excluded) when ``schema`` has them.
    """
    source_columns = [f for f in schema if f.name not in {"source_file", "source_line", "ingested_at", "batch_id",
                                                           "delivery_date", "source_sha256"}]
    raw = pacsv.read_csv(
        io.BytesIO(data),
        convert_options=pacsv.ConvertOptions(
            column_types={f.name: pa.string() for f in source_columns}, strings_can_be_null=True
        ),
    )
    missing = [f.name for f in source_columns if f.name not in raw.column_names]
    if missing:
        raise DeliveryFormatError(f"{source_file}: missing columns {missing}; found {raw.column_names}")
    columns: dict[str, pa.Array] = {}
    for f in source_columns:
        convert = _CONVERTERS.get(f.type)
        columns[f.name] = convert(raw[f.name]) if convert else pc.cast(raw[f.name], f.type)
    n = raw.num_rows
    if "source_file" in schema.names:
        columns["source_file"] = pa.array([source_file] * n, pa.string())
    if "source_line" in schema.names:
        columns["source_line"] = pa.array(range(1, n + 1), pa.int32())
    return pa.table(columns)


def with_audit_columns(rows: pa.Table, schema: pa.Schema, constants: Mapping[str, object]) -> pa.Table:
    """Add constant columns (batch id, ingestion time, delivery date ...) and order as ``schema``."""
    n = rows.num_rows
    columns = {}
    for f in schema:
        if f.name in rows.column_names:
            columns[f.name] = rows[f.name]
        else:
            value = constants[f.name]
            columns[f.name] = pa.array([value] * n, f.type)
    return pa.table(columns, schema=schema)
