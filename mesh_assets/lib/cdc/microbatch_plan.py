"""Which offset ranges the next CDC micro-batches consume: contiguous, bounded, one in flight per partition."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from mesh_assets.lib.cdc.records import OffsetRange, TopicPartition


def plan_microbatches(
    end_offsets: Mapping[TopicPartition, int],
    committed: Mapping[TopicPartition, int],
    in_flight: Collection[TopicPartition],
    max_records: int,
) -> list[OffsetRange]:
    """One range per topic partition with new records and no run in flight.

    Each range starts exactly at the committed position (so ranges never leave a gap or overlap
    what is committed) and holds at most ``max_records`` offsets.
    """
    if max_records <= 0:
        raise ValueError(f"max_records must be positive, got {max_records}")
    ranges = []
    for tp in sorted(end_offsets):
        start = committed.get(tp, 0)
        end = end_offsets[tp]
        if tp in in_flight or end <= start:
            continue
        ranges.append(OffsetRange(tp.topic, tp.partition, start, min(end, start + max_records)))
    return ranges


def lag_by_partition(end_offsets: Mapping[TopicPartition, int], committed: Mapping[TopicPartition, int]) -> dict:
    """Records on the broker not yet committed to bronze, per ``topic-partition``."""
    return {tp.label(): end - committed.get(tp, 0) for tp, end in sorted(end_offsets.items())}


def find_gaps(history: list[list[OffsetRange]], floor: Mapping[TopicPartition, int] | None = None) -> list[dict]:
    """Gaps or overlaps between successive committed ranges of each partition.

    The first range of a partition starts at 0, or at ``floor`` (where a snapshot expiry proved the history
    contiguous and then expired it: ``mesh.source.expired_through``); ranges wholly below the floor are skipped.
    """
    expected: dict[TopicPartition, int] = dict(floor or {})
    proven = dict(floor or {})
    problems = []
    for commit in history:
        for r in commit:
            if r.end <= proven.get(r.topic_partition, 0):
                continue
            start = expected.get(r.topic_partition, 0)
            if r.start != start:
                kind = "gap" if r.start > start else "overlap"
                problems.append({"partition": r.topic_partition.label(), "kind": kind, "expected_start": start,
                                 "range": r.label()})
            expected[r.topic_partition] = max(start, r.end)
    return problems
