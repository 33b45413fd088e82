"""Snapshot expiry and small-file compaction of one Iceberg table through pyiceberg.

Expiry follows :mod:`mesh_assets.lib.lakehouse.snapshot_retention` (the snapshots the readers of source
positions need stay) and records the proven offset floor in the same commit. pyiceberg 0.12 removes the
snapshots from the table metadata and deletes no files; once the expiry has committed, the files only expired
snapshots reached are deleted here (:mod:`mesh_assets.lib.lakehouse.expired_files`).

pyiceberg 0.12 has no ``rewrite_data_files``: the compaction here reads the small files of each partition
that holds more than one, writes their rows into new files and swaps them in one overwrite commit pinned to
the snapshot it read (a writer that committed meanwhile wins, and the compaction is skipped, never merged).
Rows are ordered by source position when they carry one, so the file statistics stay selective for the CDC
checks. The Trino and Athena engines compact with their
own bin-packing (:mod:`mesh_assets.lib.lakehouse.maintenance_sql`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mesh_assets.lib.lakehouse.expired_files import FileRemoval, remove_unreachable
from mesh_assets.lib.lakehouse.retry import commit_with_retry
from mesh_assets.lib.lakehouse.snapshot_retention import (
    ExpiryPlan,
    RetentionPolicy,
    SnapshotFacts,
    decode_floor,
    encode_floor,
    plan_expiry,
    reads_every_partition_version,
)
from mesh_assets.lib.lakehouse.summary_keys import EXPIRED_THROUGH_KEY, MAINTENANCE_KEY
from mesh_assets.lib.lakehouse.tables import OFFSET_GAPS_BY_DESIGN

if TYPE_CHECKING:
    from pyiceberg.table import Table

POSITION_ORDER = ("source_topic", "source_partition", "source_offset")


@dataclass(frozen=True)
class TableFigures:
    """One table at one moment: data files (and how many are small), snapshots, rows, current snapshot."""

    data_files: int
    small_files: int
    snapshots: int
    rows: int
    snapshot_id: int | None
    snapshot_ids: frozenset[int] = field(default_factory=frozenset)


@dataclass(frozen=True)
class ExpiryOutcome:
    """What an expiry did to one table."""

    table: str
    plan: ExpiryPlan
    expired: list[int]
    files: FileRemoval = field(default_factory=FileRemoval)


@dataclass(frozen=True)
class CompactionOutcome:
    """What a compaction did to one table (``reason`` says why when it did nothing)."""

    table: str
    compacted: bool
    files_before: int
    files_after: int
    reason: str
    snapshot_id: int | None = None


def snapshot_facts(table: Table) -> list[SnapshotFacts]:
    """Every snapshot of ``table`` as the retention rule sees it."""
    return [SnapshotFacts(s.snapshot_id, s.parent_snapshot_id, s.timestamp_ms,
                          dict(s.summary.additional_properties) if s.summary is not None else {})
            for s in table.metadata.snapshots]


def protected_ids(table: Table) -> set[int]:
    """Heads of the table's branches and tags."""
    return {ref.snapshot_id for ref in table.metadata.refs.values()}


def table_figures(table: Table, small_file_bytes: int, snapshot_id: int | None = None) -> TableFigures:
    """Files, small files, snapshots and rows of the current snapshot (or ``snapshot_id``), from the manifests
    (no data read unless delete files exist: then the rows are counted by a scan)."""
    snapshot = table.snapshot_by_id(snapshot_id) if snapshot_id is not None else table.current_snapshot()
    ids = frozenset(s.snapshot_id for s in table.metadata.snapshots)
    if snapshot is None:
        return TableFigures(0, 0, len(ids), 0, None, ids)
    scan = table.scan(snapshot_id=snapshot.snapshot_id)
    tasks = list(scan.plan_files())
    has_deletes = any(task.delete_files for task in tasks)
    rows = scan.count() if has_deletes else sum(task.file.record_count for task in tasks)
    small = sum(1 for task in tasks if task.file.file_size_in_bytes < small_file_bytes)
    return TableFigures(len(tasks), small, len(ids), rows, snapshot.snapshot_id, ids)


def expire_snapshots(load_table: Callable[[], Table], policy: RetentionPolicy) -> ExpiryOutcome:
    """Expire what :func:`~mesh_assets.lib.lakehouse.snapshot_retention.plan_expiry` allows, and record the
    proven offset floor (``mesh.source.expired_through``) in the same commit; then delete the files only the
    expired snapshots reached."""
    from pyiceberg.table.update.snapshot import ExpireSnapshots

    from mesh_assets.lib.lakehouse.transactions import transaction

    def attempt(table: Table, _: int) -> ExpiryOutcome:
        name = ".".join(table.name())
        current = table.current_snapshot()
        plan = plan_expiry(snapshot_facts(table), current.snapshot_id if current else None, policy,
                           protected_ids(table), decode_floor(table.properties.get(EXPIRED_THROUGH_KEY)),
                           reads_every_partition_version(name), name in OFFSET_GAPS_BY_DESIGN)
        if not plan.expire:
            return ExpiryOutcome(name, plan, [])
        expiring = set(plan.expire)
        expired_snapshots.clear()  # a retried attempt plans again
        expired_snapshots.extend(s for s in table.metadata.snapshots if s.snapshot_id in expiring)
        with transaction(table) as tx:
            if plan.expired_through:
                tx.set_properties({EXPIRED_THROUGH_KEY: encode_floor(plan.expired_through)})
            ExpireSnapshots(tx).by_ids(plan.expire).commit()
        return ExpiryOutcome(name, plan, list(plan.expire))

    expired_snapshots: list = []
    outcome = commit_with_retry(load_table, attempt)
    if not outcome.expired:
        return outcome
    after = load_table()  # the committed metadata: whatever a writer added meanwhile is kept too
    files = remove_unreachable(after.io, expired_snapshots, after.metadata.snapshots)
    return ExpiryOutcome(outcome.table, outcome.plan, outcome.expired, files)


def compact_small_files(load_table: Callable[[], Table], small_file_bytes: int, min_small_files: int
                        ) -> CompactionOutcome:
    """Rewrite the table's small files (under ``small_file_bytes``) into few files, partition by partition, when it
    holds at least ``min_small_files`` of them; one commit on top of the snapshot read, or nothing when a writer
    got there first. Large files are left as they are."""
    from pyiceberg.exceptions import CommitFailedException

    table = load_table()
    name = ".".join(table.name())
    before = table_figures(table, small_file_bytes)
    if before.small_files < min_small_files:
        return CompactionOutcome(name, False, before.data_files, before.data_files,
                                 f"{before.small_files} small files, fewer than {min_small_files}: left as they are")
    tasks = list(table.scan(snapshot_id=before.snapshot_id).plan_files())
    if any(task.delete_files for task in tasks):
        return CompactionOutcome(name, False, before.data_files, before.data_files,
                                 "the table has delete files (merge-on-read): compact it on Trino or Athena")
    groups: dict[tuple[int, str], list] = {}
    for task in tasks:
        if task.file.file_size_in_bytes < small_file_bytes:
            groups.setdefault((task.file.spec_id, repr(task.file.partition)), []).append(task)
    groups = {key: group for key, group in groups.items() if len(group) > 1}
    if not groups:
        return CompactionOutcome(name, False, before.data_files, before.data_files,
                                 "no partition holds two small files: nothing to merge")
    try:
        _rewrite(table, list(groups.values()))
    except CommitFailedException as error:
        return CompactionOutcome(name, False, before.data_files, before.data_files,
                                 f"a writer committed while compacting ({error}): skipped until the next run")
    after = table_figures(load_table(), small_file_bytes)
    rewritten = sum(len(group) for group in groups.values())
    return CompactionOutcome(name, True, before.data_files, after.data_files,
                             f"{rewritten} small files in {len(groups)} partitions rewritten", after.snapshot_id)


def _rewrite(table: Table, groups: list[list]) -> None:
    """Replace each group's files (one partition's small files) with their rows in new files, in one commit."""
    import pyarrow.compute as pc
    from pyiceberg.expressions import AlwaysTrue
    from pyiceberg.io.pyarrow import ArrowScan, _dataframe_to_data_files

    from mesh_assets.lib.lakehouse.transactions import transaction

    summary = {MAINTENANCE_KEY: "compaction"}
    with transaction(table) as tx, tx.update_snapshot(snapshot_properties=summary).overwrite() as rewrite:
        for group in groups:
            rows = ArrowScan(table.metadata, table.io, table.schema(), AlwaysTrue()).to_table(group)
            if all(c in rows.column_names for c in POSITION_ORDER):  # file statistics stay selective on positions
                rows = rows.take(pc.sort_indices(rows, sort_keys=[(c, "ascending") for c in POSITION_ORDER]))
            for data_file in _dataframe_to_data_files(table_metadata=tx.table_metadata,
                                                      write_uuid=rewrite.commit_uuid, df=rows, io=table.io):
                rewrite.append_data_file(data_file)
            for task in group:
                rewrite.delete_data_file(task.file)
