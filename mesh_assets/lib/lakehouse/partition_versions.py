"""Versioned partitions: replace one partition only when its content changed, and find the snapshot
that last wrote it. A re-run on the same inputs commits nothing and reports the same snapshot id,
which is what makes downstream documents (GIPS reports) byte-stable."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc

from mesh_assets.lib.lakehouse.first_load import deleting_nothing_is_expected
from mesh_assets.lib.lakehouse.retry import commit_with_retry
from mesh_assets.lib.lakehouse.summary_keys import CONTENT_HASH_KEY, PARTITIONS_KEY

if TYPE_CHECKING:
    from pyiceberg.table import Table


@dataclass(frozen=True)
class PartitionVersion:
    """The snapshot holding a partition's current content, that content's SHA-256, and its rows."""

    table: str
    partition: str
    snapshot_id: int | None
    content_sha256: str
    rows: int
    committed: bool


def content_sha256(rows: pa.Table) -> str:
    """SHA-256 of ``rows`` in Arrow IPC form (same schema and values in the same order, same hash)."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, rows.schema) as writer:
        writer.write_table(rows.combine_chunks())
    return hashlib.sha256(sink.getvalue().to_pybytes()).hexdigest()


def partition_version(table: Table, partition: str) -> tuple[int | None, str | None]:
    """``(snapshot id, content hash)`` of the latest snapshot that wrote ``partition``, or ``(None, None)``."""
    from pyiceberg.table.snapshots import ancestors_of

    current = table.current_snapshot()
    if current is None:
        return None, None
    for snapshot in ancestors_of(current, table.metadata):
        props = snapshot.summary.additional_properties if snapshot.summary is not None else {}
        if partition in props.get(PARTITIONS_KEY, "").split(","):
            return snapshot.snapshot_id, props.get(CONTENT_HASH_KEY)
    return None, None


def replace_partition_if_changed(
    load_table: Callable[[], Table],
    rows: pa.Table,
    column: str,
    partition: str,
    snapshot_properties: Mapping[str, str] | None = None,
    max_attempts: int = 8,
) -> PartitionVersion:
    """Make ``rows`` the whole content of partition ``column = partition``, in one commit, unless the
    partition already holds exactly these rows (then nothing is committed)."""
    from pyiceberg.expressions import EqualTo

    if rows.num_rows and not pc.all(pc.equal(rows[column], partition)).as_py():
        raise ValueError(f"rows hold {column} values other than the partition {partition!r} being replaced")

    def attempt(table: Table, number: int) -> PartitionVersion:
        conformed = rows.cast(table.schema().as_arrow())
        digest = content_sha256(conformed)
        name = ".".join(table.name())
        snapshot_id, current_hash = partition_version(table, partition)
        if current_hash == digest:
            return PartitionVersion(name, partition, snapshot_id, digest, rows.num_rows, False)
        summary = {**(snapshot_properties or {}), PARTITIONS_KEY: partition, CONTENT_HASH_KEY: digest}
        with table.transaction() as tx, deleting_nothing_is_expected():  # a first version replaces nothing
            tx.delete(delete_filter=EqualTo(column, partition), snapshot_properties=summary)
            if conformed.num_rows:
                tx.append(conformed, snapshot_properties=summary)
            else:  # an empty partition is a version too: an append of no files records it
                with tx.update_snapshot(snapshot_properties=summary).fast_append():
                    pass
        return PartitionVersion(name, partition, table.current_snapshot().snapshot_id, digest, rows.num_rows, True)

    return commit_with_retry(load_table, attempt, max_attempts)


def read_partitions(table: Table, column: str, partitions: list[str]) -> pa.Table:
    """Rows of the given partitions (an ``In`` filter, pruned by the identity partition)."""
    from pyiceberg.expressions import In

    if not partitions:
        return table.schema().as_arrow().empty_table()
    return table.scan(row_filter=In(column, set(partitions))).to_arrow()
