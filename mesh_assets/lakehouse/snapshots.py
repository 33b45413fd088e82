"""Idempotent whole-table and per-partition replacements for file-fed bronze tables."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from pyiceberg.table import Table

from mesh_assets.lakehouse.summary_keys import PARTITIONS_KEY, SOURCE_HASH_KEY


@dataclass(frozen=True)
class WriteOutcome:
    """What a replacement did: the snapshot it produced (or found) and the rows it wrote."""

    table: str
    committed: bool
    snapshot_id: int | None
    rows_written: int
    attempts: int


def _retrying(max_attempts: int):
    from pyiceberg.exceptions import CommitFailedException
    from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

    return Retrying(
        retry=retry_if_exception_type(CommitFailedException),
        stop=stop_after_attempt(max_attempts),
        wait=wait_random_exponential(multiplier=0.05, max=2.0),
        reraise=True,
    )


def overwrite_partitions(
    load_table: Callable[[], Table],
    rows: pa.Table,
    column: str,
    keys: Sequence[str],
    snapshot_properties: Mapping[str, str] | None = None,
    max_attempts: int = 8,
) -> WriteOutcome:
    """Replace every row whose ``column`` is in ``keys`` with ``rows``, in one commit.

    Re-running with the same input gives the same table: a partition is replaced, never duplicated.
    """
    from pyiceberg.expressions import In

    if rows.num_rows and not pc.all(pc.is_in(pc.cast(rows[column], pa.string()), pa.array(list(keys)))).as_py():
        raise ValueError(f"rows hold {column} values outside the partitions being replaced: {sorted(keys)[:5]}")
    summary = {**(snapshot_properties or {}), PARTITIONS_KEY: ",".join(sorted(keys))}
    attempts = 0
    for attempt in _retrying(max_attempts):
        with attempt:
            attempts += 1
            table = load_table()
            with table.transaction() as tx:
                tx.overwrite(rows.cast(table.schema().as_arrow()), overwrite_filter=In(column, set(keys)),
                             snapshot_properties=summary)
            snapshot = table.current_snapshot()
            return WriteOutcome(".".join(table.name()), True, snapshot.snapshot_id, rows.num_rows, attempts)
    raise AssertionError("unreachable")  # pragma: no cover


def replace_if_changed(
    load_table: Callable[[], Table],
    rows: pa.Table,
    source_sha256: str,
    snapshot_properties: Mapping[str, str] | None = None,
    max_attempts: int = 8,
) -> WriteOutcome:
    """Replace the whole table with ``rows`` unless its last load came from the same source hash."""
    attempts = 0
    for attempt in _retrying(max_attempts):
        with attempt:
            attempts += 1
            table = load_table()
            name = ".".join(table.name())
            if table.properties.get(SOURCE_HASH_KEY) == source_sha256 and table.current_snapshot() is not None:
                return WriteOutcome(name, False, table.current_snapshot().snapshot_id, 0, attempts)
            with table.transaction() as tx:
                tx.overwrite(rows.cast(table.schema().as_arrow()),
                             snapshot_properties={**(snapshot_properties or {}), SOURCE_HASH_KEY: source_sha256})
                tx.set_properties({SOURCE_HASH_KEY: source_sha256})
            return WriteOutcome(name, True, table.current_snapshot().snapshot_id, rows.num_rows, attempts)
    raise AssertionError("unreachable")  # pragma: no cover


def append_new_keys(
    load_table: Callable[[], Table],
    rows: pa.Table,
    key_columns: Sequence[str],
    snapshot_properties: Mapping[str, str] | None = None,
    max_attempts: int = 8,
) -> WriteOutcome:
    """Append only rows whose key (e.g. ``Id, SystemModstamp``) the table does not hold yet."""
    attempts = 0
    for attempt in _retrying(max_attempts):
        with attempt:
            attempts += 1
            table = load_table()
            name = ".".join(table.name())
            existing = table.scan(selected_fields=tuple(key_columns)).to_arrow()
            fresh = rows
            if existing.num_rows:
                seen = set(zip(*(existing[c].to_pylist() for c in key_columns), strict=True))
                mask = [k not in seen for k in zip(*(rows[c].to_pylist() for c in key_columns), strict=True)]
                fresh = rows.filter(pa.array(mask, pa.bool_()))
            if fresh.num_rows == 0 and table.current_snapshot() is not None:
                return WriteOutcome(name, False, table.current_snapshot().snapshot_id, 0, attempts)
            with table.transaction() as tx:
                tx.append(fresh.cast(table.schema().as_arrow()), snapshot_properties=dict(snapshot_properties or {}))
            return WriteOutcome(name, True, table.current_snapshot().snapshot_id, fresh.num_rows, attempts)
    raise AssertionError("unreachable")  # pragma: no cover
