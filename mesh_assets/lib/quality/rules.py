"""The rules. Every verdict says why: counts, the threshold and a few samples of offending rows."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from mesh_assets.lib.quality.verdict import Verdict

SAMPLE_SIZE = 5


def _samples(table: pa.Table, mask: pa.ChunkedArray | pa.Array, columns: Sequence[str]) -> list[dict[str, Any]]:
    rows = table.filter(mask).select([c for c in columns if c in table.column_names]).slice(0, SAMPLE_SIZE)
    return [{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()} for row in rows.to_pylist()]


def required_values(table: pa.Table, columns: Sequence[str], sample_columns: Sequence[str]) -> Verdict:
    """Every row has a value in each of ``columns``."""
    nulls = {c: table[c].null_count for c in columns}
    mask = pa.array([False] * table.num_rows, pa.bool_())
    for c in columns:
        mask = pc.or_(mask, pc.is_null(table[c]))
    offenders = pc.sum(mask).as_py() or 0
    failing = {c: n for c, n in nulls.items() if n}
    description = (
        f"all {table.num_rows} rows have {', '.join(columns)}"
        if not offenders
        else f"{offenders} of {table.num_rows} rows miss a required value: {failing}"
    )
    return Verdict(
        offenders == 0,
        description,
        {"rows_checked": table.num_rows, "rows_failing": offenders, "nulls_by_column": failing,
         "samples": _samples(table, mask, sample_columns)},
    )


def positive_values(table: pa.Table, column: str, sample_columns: Sequence[str]) -> Verdict:
    """``column`` is present and strictly positive on every row."""
    values = table[column]
    mask = pc.or_(pc.is_null(values), pc.less_equal(pc.fill_null(values, 0), 0))
    offenders = pc.sum(mask).as_py() or 0
    minimum = pc.min(values).as_py() if table.num_rows else None
    description = (
        f"all {table.num_rows} values of {column} are > 0 (min {minimum})"
        if not offenders
        else f"{offenders} of {table.num_rows} rows have a missing or non-positive {column}"
    )
    return Verdict(
        offenders == 0,
        description,
        {"rows_checked": table.num_rows, "rows_failing": offenders, "threshold": f"{column} > 0",
         "min_value": minimum, "samples": _samples(table, mask, sample_columns)},
    )


def known_values(
    table: pa.Table, column: str, known: Collection[str], reference: str, sample_columns: Sequence[str]
) -> Verdict:
    """Every non-null ``column`` value exists in ``known`` (the ids of ``reference``)."""
    values = table[column]
    mask = pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, pa.array(sorted(known), pa.string()))))
    offenders = pc.sum(mask).as_py() or 0
    unknown = sorted(set(table.filter(mask)[column].to_pylist()))
    description = (
        f"every {column} of {table.num_rows} rows is a known id of {reference}"
        if not offenders
        else f"{offenders} rows reference {len(unknown)} {column} values unknown to {reference}: "
        f"{unknown[:SAMPLE_SIZE]}"
    )
    return Verdict(
        offenders == 0,
        description,
        {"rows_checked": table.num_rows, "rows_failing": offenders, "reference": reference,
         "reference_ids": len(known), "unknown_ids": unknown[:20], "samples": _samples(table, mask, sample_columns)},
    )


def within_allowed(table: pa.Table, column: str, allowed: Collection[str], sample_columns: Sequence[str]) -> Verdict:
    """Every non-null ``column`` value is one of ``allowed``."""
    values = table[column]
    mask = pc.and_(pc.is_valid(values), pc.invert(pc.is_in(values, pa.array(sorted(allowed), pa.string()))))
    offenders = pc.sum(mask).as_py() or 0
    description = (
        f"every {column} is one of {sorted(allowed)}"
        if not offenders
        else f"{offenders} rows have a {column} outside {sorted(allowed)}"
    )
    return Verdict(
        offenders == 0,
        description,
        {"rows_checked": table.num_rows, "rows_failing": offenders, "allowed": sorted(allowed),
         "samples": _samples(table, mask, sample_columns)},
    )


def no_duplicates(table: pa.Table, key_columns: Sequence[str]) -> Verdict:
    """No two rows share ``key_columns``."""
    if table.num_rows == 0:
        return Verdict(True, "table is empty: no duplicates", {"rows_checked": 0, "duplicate_keys": 0})
    counts = table.group_by(list(key_columns)).aggregate([([], "count_all")])
    dupes = counts.filter(pc.greater(counts["count_all"], 1))
    description = (
        f"{table.num_rows} rows, each ({', '.join(key_columns)}) exactly once"
        if dupes.num_rows == 0
        else f"{dupes.num_rows} ({', '.join(key_columns)}) keys appear more than once"
    )
    return Verdict(
        dupes.num_rows == 0,
        description,
        {"rows_checked": table.num_rows, "duplicate_keys": dupes.num_rows,
         "samples": dupes.slice(0, SAMPLE_SIZE).to_pylist()},
    )


def counts_match(expected: Mapping[str, int], actual: Mapping[str, int], what: str) -> Verdict:
    """Per-key counts agree (e.g. rows per delivery file vs rows in the table)."""
    keys = sorted(set(expected) | set(actual))
    mismatches = {k: {"source": expected.get(k, 0), "table": actual.get(k, 0)}
                  for k in keys if expected.get(k, 0) != actual.get(k, 0)}
    total_expected = sum(expected.values())
    total_actual = sum(actual.values())
    description = (
        f"{what}: table holds {total_actual} rows, source has {total_expected}, per key identical ({len(keys)} keys)"
        if not mismatches
        else f"{what}: {len(mismatches)} of {len(keys)} keys differ (source {total_expected}, table {total_actual})"
    )
    return Verdict(
        not mismatches,
        description,
        {"source_rows": total_expected, "table_rows": total_actual, "keys_checked": len(keys),
         "mismatches": dict(list(mismatches.items())[:20])},
    )
