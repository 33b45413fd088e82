"""Read ``audit.check_results`` for a range of business days and write auditors' extracts (CSV or Parquet)."""

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


class DateBasis(enum.StrEnum):
    """What ``--from``/``--to`` select: the business days checked, or the days the checks ran."""

    business = "business"
    evaluated = "evaluated"


def read_check_results(
    table: Table, first: dt.date, last: dt.date, asset_keys: Sequence[str] | None = None,
    basis: DateBasis = DateBasis.business,
) -> pa.Table:
    """Evaluations about the business days ``first..last`` (inclusive), optionally of some assets only (keys as
    ``a/b/c``), ordered by evaluation time then storage id.

    ``business`` (the default): a row is in when the days its partition key names (a trading day, a month,
    a composite-year, a run's range; :mod:`mesh_assets.lib.audit.business_dates`) share a day with the range;
    a row whose key names no date (a Kafka offset range, an unpartitioned check) counts on the UTC day it
    was evaluated. ``evaluated``: rows evaluated between ``first`` and ``last`` (UTC days), which prunes the
    table's month partitions; the business basis reads every month (the table holds one small row per
    evaluation).
    """
    import pyarrow as pa
    from pyiceberg.expressions import AlwaysTrue, And, BooleanExpression, GreaterThanOrEqual, In, LessThan

    start, end = day_bounds(first, last)
    row_filter: BooleanExpression = AlwaysTrue()
    if basis is DateBasis.evaluated:
        row_filter = And(GreaterThanOrEqual("evaluated_at", start.isoformat()),
                         LessThan("evaluated_at", end.isoformat()))
    if asset_keys:
        row_filter = And(row_filter, In("asset_key", set(asset_keys)))
    rows = table.scan(row_filter=row_filter).to_arrow()
    if basis is DateBasis.business:
        rows = rows.filter(pa.array(_about_days(rows, first, last), type=pa.bool_()))
    rows = rows.sort_by([("evaluated_at", "ascending"), ("event_storage_id", "ascending")])
    return rows


def _about_days(rows: pa.Table, first: dt.date, last: dt.date) -> list[bool]:
    """Per row: do its business days (else its evaluation day) share a day with ``first..last``?"""
    from mesh_assets.lib.audit.business_dates import business_period, overlaps

    periods: dict[str | None, tuple[dt.date, dt.date] | None] = {}
    keep = []
    for key, evaluated in zip(rows["partition_key"].to_pylist(), rows["evaluated_at"].to_pylist(), strict=True):
        if key not in periods:
            periods[key] = business_period(key)
        period = periods[key]
        if period is None:
            day = evaluated.astimezone(dt.UTC).date() if evaluated.tzinfo else evaluated.date()
            period = (day, day)
        keep.append(overlaps(period, first, last))
    return keep


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
