"""Source positions committed inside Iceberg snapshots: the table, not a consumer group, is the truth.

Every exactly-once commit writes, in the same Iceberg commit as its rows:

* snapshot summary ``mesh.source.positions``: the cumulative next offset per topic partition,
* snapshot summary ``mesh.kafka.offsets``: the half-open ranges this commit covers,
* table property ``mesh.source.positions``: a mirror of the cumulative positions.

Readers walk the snapshot ancestry from the current snapshot to the newest snapshot that carries
positions (snapshots from other writers, such as compaction, carry none).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

import orjson

from mesh_assets.lib.cdc.records import OffsetRange, TopicPartition

if TYPE_CHECKING:
    from pyiceberg.table import Table

from mesh_assets.lib.lakehouse.summary_keys import POSITIONS_KEY, RANGES_KEY

Positions = dict[TopicPartition, int]


def encode_positions(positions: Mapping[TopicPartition, int]) -> str:
    """JSON ``{"topic": {"partition": next_offset}}`` with sorted keys, stable across runs."""
    nested: dict[str, dict[str, int]] = {}
    for tp, offset in sorted(positions.items()):
        nested.setdefault(tp.topic, {})[str(tp.partition)] = offset
    return orjson.dumps(nested, option=orjson.OPT_SORT_KEYS).decode()


def decode_positions(text: str) -> Positions:
    """Inverse of :func:`encode_positions`."""
    nested = orjson.loads(text)
    return {TopicPartition(topic, int(p)): int(o) for topic, parts in nested.items() for p, o in parts.items()}


def encode_ranges(ranges: Iterable[OffsetRange]) -> str:
    """JSON ``{"topic": {"partition": [start, end]}}`` of the ranges a commit covers."""
    nested: dict[str, dict[str, list[int]]] = {}
    for r in sorted(ranges, key=lambda r: (r.topic, r.partition)):
        nested.setdefault(r.topic, {})[str(r.partition)] = [r.start, r.end]
    return orjson.dumps(nested, option=orjson.OPT_SORT_KEYS).decode()


def decode_ranges(text: str) -> list[OffsetRange]:
    """Inverse of :func:`encode_ranges`."""
    nested = orjson.loads(text)
    return [OffsetRange(t, int(p), se[0], se[1]) for t, parts in nested.items() for p, se in parts.items()]


def committed_positions(table: Table) -> Positions:
    """The cumulative committed positions of ``table``, read from its snapshot ancestry."""
    from pyiceberg.table.snapshots import ancestors_of

    for snapshot in ancestors_of(table.current_snapshot(), table.metadata):
        summary = snapshot.summary
        if summary is not None and POSITIONS_KEY in summary.additional_properties:
            return decode_positions(summary.additional_properties[POSITIONS_KEY])
    return {}


def committed_ranges_history(table: Table) -> list[tuple[int, list[OffsetRange]]]:
    """(snapshot id, ranges) of every exactly-once commit in the ancestry, oldest first."""
    from pyiceberg.table.snapshots import ancestors_of

    history = []
    for snapshot in ancestors_of(table.current_snapshot(), table.metadata):
        summary = snapshot.summary
        if summary is not None and RANGES_KEY in summary.additional_properties:
            history.append((snapshot.snapshot_id, decode_ranges(summary.additional_properties[RANGES_KEY])))
    history.reverse()
    return history


def total_records(table: Table) -> int:
    """Rows in the table's current snapshot, from its summary (no scan)."""
    snapshot = table.current_snapshot()
    if snapshot is None or snapshot.summary is None:
        return 0
    return int(snapshot.summary.additional_properties.get("total-records", 0))


def latest_summary_value(table: Table, key: str) -> tuple[int | None, str | None]:
    """(snapshot id, value) of the newest snapshot in the ancestry whose summary carries ``key``."""
    from pyiceberg.table.snapshots import ancestors_of

    for snapshot in ancestors_of(table.current_snapshot(), table.metadata):
        if snapshot.summary is not None and key in snapshot.summary.additional_properties:
            return snapshot.snapshot_id, snapshot.summary.additional_properties[key]
    return None, None
