"""Idempotent whole-table and per-partition replacements for file-fed bronze tables."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from pyiceberg.table import Table

from mesh_assets.lib.lakehouse.first_load import deleting_nothing_is_expected
from mesh_assets.lib.lakehouse.retry import commit_with_retry
from mesh_assets.lib.lakehouse.summary_keys import PARTITIONS_KEY, SOURCE_HASH_KEY


@dataclass(frozen=True)
class WriteOutcome:
    """What a replacement did: the snapshot it produced (or found) and the rows it wrote."""

    table: str
    committed: bool
    snapshot_id: int | None
    rows_written: int
    attempts: int


def _name(table: Table) -> str:
    return ".".join(table.name())


def slices_by_value(rows: pa.Table, column: str, transform: str = "identity") -> list[pa.Table]:
    """Zero-copy slices of ``rows`` sorted by ``column``, one per partition value (``identity`` or ``month``)."""
    import numpy as np

    if rows.num_rows == 0:
        return []
    ordered = rows.take(pc.sort_indices(rows, sort_keys=[(column, "ascending")]))
    values = ordered[column].combine_chunks()
    if transform == "month":
        values = pc.add(pc.multiply(pc.year(values), 12), pc.month(values))
    codes = pc.dictionary_encode(values).indices.to_numpy(zero_copy_only=False)
    bounds = [0, *(np.flatnonzero(np.diff(codes)) + 1).tolist(), rows.num_rows]
    return [ordered.slice(start, end - start) for start, end in pairwise(bounds)]


def overwrite_partitions(
    load_table: Callable[[], Table],
    rows: pa.Table,
    column: str,
    keys: Sequence[str],
    snapshot_properties: Mapping[str, str] | None = None,
    max_attempts: int = 8,
    transform: str = "identity",
) -> WriteOutcome:
    """Replace every row whose ``column`` is in ``keys`` with ``rows``, in one commit.

    ``transform`` is the table's partition transform on ``column`` (``identity`` or ``month``).

    Re-running with the same input gives the same table: a partition is replaced, never duplicated.
    """
    from pyiceberg.expressions import In

    if rows.num_rows and not pc.all(pc.is_in(pc.cast(rows[column], pa.string()), pa.array(list(keys)))).as_py():
        raise ValueError(f"rows hold {column} values outside the partitions being replaced: {sorted(keys)[:5]}")
    summary = {**(snapshot_properties or {}), PARTITIONS_KEY: ",".join(sorted(keys))}

    def attempt(table: Table, number: int) -> WriteOutcome:
        from pyiceberg.io.pyarrow import _dataframe_to_data_files

        conformed = rows.cast(table.schema().as_arrow())
        with table.transaction() as tx, deleting_nothing_is_expected():  # a first load replaces nothing
            tx.delete(delete_filter=In(column, set(keys)), snapshot_properties=summary)
            with tx.update_snapshot(snapshot_properties=summary).fast_append() as append:
                # pyiceberg splits a table into partitions by filtering the whole table once per
                # partition (quadratic: 20 min for 5 years of daily prices). Handing it one
                # partition's slice at a time keeps the write linear, in the same single commit.
                for part in slices_by_value(conformed, column, transform):
                    for data_file in _dataframe_to_data_files(
                        table_metadata=tx.table_metadata, write_uuid=append.commit_uuid, df=part, io=table.io
                    ):
                        append.append_data_file(data_file)
        return WriteOutcome(_name(table), True, table.current_snapshot().snapshot_id, rows.num_rows, number)

    return commit_with_retry(load_table, attempt, max_attempts)


def replace_if_changed(
    load_table: Callable[[], Table],
    rows: pa.Table,
    source_sha256: str,
    snapshot_properties: Mapping[str, str] | None = None,
    max_attempts: int = 8,
) -> WriteOutcome:
    """Replace the whole table with ``rows`` unless its last load came from the same source hash."""

    def attempt(table: Table, number: int) -> WriteOutcome:
        if table.properties.get(SOURCE_HASH_KEY) == source_sha256 and table.current_snapshot() is not None:
            return WriteOutcome(_name(table), False, table.current_snapshot().snapshot_id, 0, number)
        with table.transaction() as tx, deleting_nothing_is_expected():  # the first load of an empty table
            tx.overwrite(rows.cast(table.schema().as_arrow()),
                         snapshot_properties={**(snapshot_properties or {}), SOURCE_HASH_KEY: source_sha256})
            tx.set_properties({SOURCE_HASH_KEY: source_sha256})
        return WriteOutcome(_name(table), True, table.current_snapshot().snapshot_id, rows.num_rows, number)

    return commit_with_retry(load_table, attempt, max_attempts)


def append_new_keys(
    load_table: Callable[[], Table],
    rows: pa.Table,
    key_columns: Sequence[str],
    snapshot_properties: Mapping[str, str] | None = None,
    max_attempts: int = 8,
) -> WriteOutcome:
    """Append only rows whose key (e.g. ``Id, SystemModstamp``) the table does not hold yet."""

    def attempt(table: Table, number: int) -> WriteOutcome:
        existing = table.scan(selected_fields=tuple(key_columns)).to_arrow()
        fresh = rows
        if existing.num_rows:
            seen = set(zip(*(existing[c].to_pylist() for c in key_columns), strict=True))
            mask = [k not in seen for k in zip(*(rows[c].to_pylist() for c in key_columns), strict=True)]
            fresh = rows.filter(pa.array(mask, pa.bool_()))
        if fresh.num_rows == 0 and table.current_snapshot() is not None:
            return WriteOutcome(_name(table), False, table.current_snapshot().snapshot_id, 0, number)
        with table.transaction() as tx:
            tx.append(fresh.cast(table.schema().as_arrow()), snapshot_properties=dict(snapshot_properties or {}))
        return WriteOutcome(_name(table), True, table.current_snapshot().snapshot_id, fresh.num_rows, number)

    return commit_with_retry(load_table, attempt, max_attempts)
