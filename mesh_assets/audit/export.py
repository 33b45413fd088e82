"""Read ``audit.check_results`` for a date range and write auditors' extracts (CSV or Parquet)."""

from __future__ import annotations

import datetime as dt
import enum
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.table import Table


class ExportFormat(enum.StrEnum):
    """File formats of an extract."""

    csv = "csv"
    parquet = "parquet"


def day_bounds(first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """``[first 00:00 UTC, the day after last 00:00 UTC)``: both days are included, whole, in UTC."""
    if last < first:
        raise ValueError(f"the range ends ({last}) before it starts ({first})")
    start = dt.datetime.combine(first, dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return start, end


def read_check_results(
    table: Table, first: dt.date, last: dt.date, asset_keys: Sequence[str] | None = None
) -> pa.Table:
    """Evaluations made between ``first`` and ``last`` (UTC days, inclusive), optionally of some assets only
    (keys as ``a/b/c``), ordered by evaluation time then storage id.

    The filter on ``evaluated_at`` prunes the table's month partitions, so a year's extract reads a year.
    """
    from pyiceberg.expressions import And, BooleanExpression, GreaterThanOrEqual, In, LessThan

    start, end = day_bounds(first, last)
    row_filter: BooleanExpression = And(
        GreaterThanOrEqual("evaluated_at", start.isoformat()), LessThan("evaluated_at", end.isoformat())
    )
    if asset_keys:
        row_filter = And(row_filter, In("asset_key", set(asset_keys)))
    rows = table.scan(row_filter=row_filter).to_arrow()
    return rows.sort_by([("evaluated_at", "ascending"), ("event_storage_id", "ascending")])


def write_extract(rows: pa.Table, out: Path, fmt: ExportFormat) -> Path:
    """Write ``rows`` to ``out`` as CSV (header, ISO timestamps in UTC) or Parquet (zstd).

    The file appears whole or not at all: it is written beside ``out`` and renamed into place.
    """
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")
    if fmt is ExportFormat.csv:
        pacsv.write_csv(rows, partial)
    else:
        pq.write_table(rows, partial, compression="zstd")
    os.replace(partial, out)
    return out
