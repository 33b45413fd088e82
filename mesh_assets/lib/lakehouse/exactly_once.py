"""Exactly-once appends keyed by source position, with a retry we own.

pyiceberg's built-in commit retry is disabled on every table (it re-applies an append after a
conflict and so duplicates rows). Here each attempt reloads the table, re-reads the committed
positions, drops every row already covered and commits the rest together with the new positions.
A retried, replayed or re-executed batch whose range is already committed therefore writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from mesh_assets.lib.cdc.records import OffsetRange, TopicPartition
from mesh_assets.lib.lakehouse.fault_injection import crash_point
from mesh_assets.lib.lakehouse.positions import (
    POSITIONS_KEY,
    RANGES_KEY,
    Positions,
    committed_positions,
    encode_positions,
    encode_ranges,
)
from mesh_assets.lib.lakehouse.retry import commit_with_retry
from mesh_assets.lib.lakehouse.staged_file import StagedDataFile, add_staged_file
from mesh_assets.lib.lakehouse.transactions import transaction

if TYPE_CHECKING:
    from pyiceberg.table import Table


class OffsetGapError(RuntimeError):
    """A batch starts after the committed position: committing it would lose records."""


@dataclass(frozen=True)
class CommitOutcome:
    """What an exactly-once append did."""

    table: str
    committed: bool
    snapshot_id: int | None
    rows_written: int
    ranges: list[OffsetRange]
    positions: Positions
    attempts: int
    skipped_ranges: list[OffsetRange] = field(default_factory=list)


def _uncovered(
    ranges: Sequence[OffsetRange], committed: Positions, table: str, allow_gaps: bool = False
) -> list[OffsetRange]:
    """Clip ranges to what is not committed yet; raise on a gap (unless ``allow_gaps``)."""
    effective = []
    for r in ranges:
        position = committed.get(r.topic_partition, 0)
        if r.end <= position:
            continue
        if r.start > position and allow_gaps:
            effective.append(r)
            continue
        if r.start > position:
            raise OffsetGapError(
                f"{table}: {r.topic}-{r.partition} is committed up to offset {position} but the batch starts at "
                f"{r.start}; offsets {position}..{r.start - 1} would be lost"
            )
        effective.append(OffsetRange(r.topic, r.partition, position, r.end))
    return effective


def drop_committed_rows(rows: pa.Table, committed: Mapping[TopicPartition, int]) -> pa.Table:
    """Rows whose (source_topic, source_partition, source_offset) is not yet covered."""
    if rows.num_rows == 0 or not committed:
        return rows
    keep = pa.array([True] * rows.num_rows, pa.bool_())
    topics = rows["source_topic"]
    partitions = rows["source_partition"]
    offsets = rows["source_offset"]
    for tp, position in committed.items():
        covered = pc.and_(
            pc.and_(pc.equal(topics, tp.topic), pc.equal(partitions, tp.partition)), pc.less(offsets, position)
        )
        keep = pc.and_(keep, pc.invert(covered))
    return rows.filter(keep)


def conform(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    """``rows`` in ``schema``'s column order and types; columns the rows lack become nulls.

    A column the table does not have is an error: evolve the table's schema first.
    """
    unknown = sorted(set(rows.column_names) - set(schema.names))
    if unknown:
        raise ValueError(f"rows carry columns {unknown} that the table does not have; evolve its schema first")
    columns = [
        rows[f.name].cast(f.type) if f.name in rows.column_names else pa.nulls(rows.num_rows, f.type) for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def append_exactly_once(
    load_table: Callable[[], Table],
    ranges: Sequence[OffsetRange],
    rows: pa.Table,
    snapshot_properties: Mapping[str, str] | None = None,
    max_attempts: int = 8,
    staged: StagedDataFile | None = None,
    allow_gaps: bool = False,
) -> CommitOutcome:
    """Append ``rows`` (covering ``ranges``) once, whatever retries or replays happen.

    ``load_table`` must return a freshly loaded table on every call. Rows must carry
    ``source_topic``, ``source_partition`` and ``source_offset``. Commit conflicts are retried with
    exponential backoff; every attempt re-reads the committed positions first.

    ``staged``: the same rows already written as a data file of the table
    (:class:`~mesh_assets.lib.lakehouse.staged_file.StagedDataFile`). An attempt adds that file when none of
    the rows is committed yet and the table still has the schema it was staged for; otherwise it
    appends ``rows`` as usual. The file is deleted when no attempt used it.

    ``allow_gaps``: for a side table committed only for the batches that have rows for it (the CDC
    skips): a range may start after its committed position, the positions jump over the gap.
    """
    staged_file = staged.close() if staged is not None and staged.rows == rows.num_rows else None
    tried: list[bool] = []  # an attempt that staged the file may have committed it even when it reported failure

    def attempt(table: Table, number: int) -> CommitOutcome:
        name = ".".join(table.name())
        committed = committed_positions(table)
        effective = _uncovered(ranges, committed, name, allow_gaps)
        skipped = [r for r in ranges if r.end <= committed.get(r.topic_partition, 0)]
        if not effective:
            snapshot = table.current_snapshot()
            return CommitOutcome(name, False, snapshot.snapshot_id if snapshot else None, 0, [], committed, number,
                                 skipped)
        untouched = not skipped and effective == list(ranges)
        use_staged = staged_file is not None and untouched and staged is not None and staged.fits(table)
        new_rows = rows if use_staged else conform(drop_committed_rows(rows, committed), table.schema().as_arrow())
        positions = dict(committed)
        for r in effective:
            positions[r.topic_partition] = r.end
        encoded = encode_positions(positions)
        summary = {**(snapshot_properties or {}), POSITIONS_KEY: encoded, RANGES_KEY: encode_ranges(effective)}
        with transaction(table) as tx:
            if use_staged:
                tried.append(True)
                add_staged_file(tx, staged_file, summary)
            else:
                tx.append(new_rows, snapshot_properties=summary)
            tx.set_properties({POSITIONS_KEY: encoded})
            crash_point("after_data_files")
        return CommitOutcome(name, True, table.current_snapshot().snapshot_id, new_rows.num_rows, effective,
                             positions, number, skipped)

    try:
        return commit_with_retry(load_table, attempt, max_attempts)
    finally:
        if staged is not None and not tried:
            staged.discard()


def add_optional_columns(load_table: Callable[[], Table], names: Sequence[str], doc: str) -> list[str]:
    """Evolve the table's schema with optional string columns it lacks; return those added.

    Adding an optional column changes no data, so this runs as its own commit before an append and
    is a no-op when replayed.
    """
    from pyiceberg.types import StringType

    def attempt(table: Table, _: int) -> list[str]:
        existing = set(table.schema().column_names)
        missing = [name for name in names if name not in existing]
        if missing:
            with table.update_schema() as update:
                for name in missing:
                    update.add_column(name, StringType(), doc=doc)
        return missing

    return commit_with_retry(load_table, attempt)
