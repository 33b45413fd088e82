"""Which CDC batch a bronze check looks at: the ranges the run just committed, not the whole table.

The CDC tables only grow, and every micro-batch run checks what it committed before the next one
starts (the checks are blocking), so scanning the whole table each run re-proves every earlier batch
and costs more each run. A check scoped here reads:

* in a micro-batch run: the Iceberg snapshot the run's materialization recorded (``snapshot_id``) and,
  from that snapshot's summary (``mesh.kafka.offsets``), the offset ranges it committed;
* otherwise (a check launched on its own, or a run whose ranges were already committed by an earlier
  attempt): the newest exactly-once commit of the table, from the snapshot summaries.

Rows are then read with a filter on their source positions, so Iceberg's file statistics skip the
files of earlier batches: the cost follows the batch, not the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mesh_assets.lib.cdc.records import OffsetRange
from mesh_assets.lib.lakehouse import tables

if TYPE_CHECKING:
    import pyarrow as pa
    from dagster import AssetCheckExecutionContext, AssetKey

    from resources.iceberg import IcebergCatalogResource


@dataclass(frozen=True)
class CheckedBatch:
    """The snapshot and ranges a check covers, and how they were found."""

    snapshot_id: int | None
    ranges: list[OffsetRange] = field(default_factory=list)
    found_by: str = "no batch committed yet"

    def metadata(self) -> dict:
        """What the check covered: snapshot id, ranges, and where they came from."""
        return {"checked_snapshot_id": str(self.snapshot_id), "checked_ranges": [r.label() for r in self.ranges],
                "checked_offsets": sum(len(r) for r in self.ranges), "checked_batch": self.found_by}


def checked_batch(context: AssetCheckExecutionContext, iceberg: IcebergCatalogResource, spec: tables.TableSpec,
                  asset_key: AssetKey) -> CheckedBatch:
    """This run's commit of ``asset_key`` when it made one, else the table's newest exactly-once commit."""
    from mesh_assets.lib.lakehouse.positions import decode_ranges, latest_summary_value
    from mesh_assets.lib.lakehouse.summary_keys import RANGES_KEY

    table = iceberg.table(spec)
    snapshot_id = _committed_in_run(context, asset_key)
    snapshot = table.snapshot_by_id(snapshot_id) if snapshot_id is not None else None
    if snapshot is not None and snapshot.summary is not None and RANGES_KEY in snapshot.summary.additional_properties:
        return CheckedBatch(snapshot_id, decode_ranges(snapshot.summary.additional_properties[RANGES_KEY]),
                            f"the ranges run {context.run.run_id[:8]} committed")  # a run exists: it committed
    latest_id, encoded = latest_summary_value(table, RANGES_KEY)
    if encoded is None:
        return CheckedBatch(None)
    return CheckedBatch(latest_id, decode_ranges(encoded), "the table's newest exactly-once commit")


def _committed_in_run(context: AssetCheckExecutionContext, asset_key: AssetKey) -> int | None:
    """The snapshot id this run's materialization of ``asset_key`` committed (None: no commit in this run)."""
    from dagster import DagsterError, DagsterEventType

    try:
        run_id = context.run.run_id
    except DagsterError:  # invoked directly (no run): nothing was committed in a run
        return None
    for entry in context.instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION):
        materialization = entry.asset_materialization
        if materialization is None or materialization.asset_key != asset_key:
            continue
        committed = materialization.metadata.get("committed")
        snapshot = materialization.metadata.get("snapshot_id")
        if committed is not None and committed.value and snapshot is not None and str(snapshot.value).isdigit():
            return int(str(snapshot.value))
    return None


def rows_in_ranges(iceberg: IcebergCatalogResource, spec: tables.TableSpec, ranges: list[OffsetRange],
                   columns: list[str]) -> pa.Table:
    """``columns`` of the rows of ``spec`` whose source position lies in ``ranges`` (one topic), read with a filter
    on the positions: the table's file statistics skip the files of other batches."""
    from functools import reduce

    from pyiceberg.expressions import And, EqualTo, GreaterThanOrEqual, LessThan, Or

    topic = ranges[0].topic
    wanted = reduce(Or, [And(EqualTo("source_partition", r.partition), GreaterThanOrEqual("source_offset", r.start),
                             LessThan("source_offset", r.end)) for r in ranges])
    return iceberg.table(spec).scan(row_filter=And(EqualTo("source_topic", topic), wanted),
                                    selected_fields=tuple(columns)).to_arrow()
