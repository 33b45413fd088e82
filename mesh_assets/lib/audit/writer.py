"""Exactly-once appends to ``audit.check_results`` (pyiceberg only, no Dagster import).

The reader (the sensor) advances its cursor only after the commit here succeeded, and this append
skips every evaluation the table already holds, so a crash between the commit and the cursor update
makes the next read return rows that are then dropped: never a duplicate, never a gap.

Why a key check and not a high-water mark in the snapshot summary: the summary would be cheaper,
but it trusts that storage ids arrive in order and that the event log never restarts its ids (a
new instance database does). The key check costs one scan of the ``event_storage_id`` range of the
batch: Iceberg prunes data files by their column bounds, and ids grow with time, so only the last
few files are read however many years the table holds.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mesh_assets.lib.audit.tables import APPENDED_KEY, KEY_COLUMNS, MAX_STORAGE_ID_KEY
from mesh_assets.lib.lakehouse.retry import commit_with_retry

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.table import Table


@dataclass(frozen=True)
class AuditAppend:
    """What one append did: rows offered, rows appended (the others were already in the table)."""

    table: str
    offered: int
    appended: int
    committed: bool
    snapshot_id: int | None
    attempts: int

    @property
    def already_present(self) -> int:
        """Rows offered that the table held already (from an earlier commit whose cursor was not saved)."""
        return self.offered - self.appended


def _keys(rows: pa.Table) -> list[tuple]:
    return list(zip(*(rows[c].to_pylist() for c in KEY_COLUMNS), strict=True))


def new_rows(rows: pa.Table, existing: pa.Table) -> pa.Table:
    """``rows`` whose ``(event_storage_id, run_id)`` is neither in ``existing`` nor earlier in ``rows``."""
    import pyarrow as pa

    seen = set(_keys(existing))
    mask = []
    for key in _keys(rows):
        mask.append(key not in seen)
        seen.add(key)
    return rows.filter(pa.array(mask, pa.bool_()))


def append_new_evaluations(
    load_table: Callable[[], Table],
    rows: pa.Table,
    snapshot_properties: Mapping[str, str] | None = None,
    max_attempts: int = 8,
) -> AuditAppend:
    """Append the evaluations of ``rows`` the table does not hold yet, in one commit (or none).

    Each attempt reloads the table and reads the keys already stored in the batch's storage-id range
    (see the module docstring), so a conflicting concurrent writer is retried without duplicating.
    """
    import pyarrow.compute as pc
    from pyiceberg.expressions import And, GreaterThanOrEqual, LessThanOrEqual

    def attempt(table: Table, number: int) -> AuditAppend:
        name = ".".join(table.name())
        current = table.current_snapshot()
        if rows.num_rows == 0:
            return AuditAppend(name, 0, 0, False, current.snapshot_id if current else None, number)
        low, high = pc.min(rows["event_storage_id"]).as_py(), pc.max(rows["event_storage_id"]).as_py()
        existing = table.scan(
            row_filter=And(GreaterThanOrEqual("event_storage_id", low), LessThanOrEqual("event_storage_id", high)),
            selected_fields=KEY_COLUMNS,
        ).to_arrow()
        fresh = new_rows(rows, existing)
        if fresh.num_rows == 0:
            return AuditAppend(name, rows.num_rows, 0, False, current.snapshot_id if current else None, number)
        summary = {**(snapshot_properties or {}), MAX_STORAGE_ID_KEY: str(high), APPENDED_KEY: str(fresh.num_rows)}
        table.append(fresh.cast(table.schema().as_arrow()), snapshot_properties=summary)
        return AuditAppend(name, rows.num_rows, fresh.num_rows, True, table.current_snapshot().snapshot_id, number)

    return commit_with_retry(load_table, attempt, max_attempts)
