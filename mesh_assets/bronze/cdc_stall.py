"""Is a CDC partition stalled? Records wait on Kafka and nothing has committed for too long.

Pure logic, no Dagster: the committed positions and commit times come from the Iceberg snapshot
summaries (``mesh.kafka.offsets`` names the ranges a commit covers; the snapshot's own timestamp
says when), the end offsets from the broker. A partition is stalled when its end offset is ahead
of its committed position *and* its newest commit (or, never committed, the moment the sensor
first saw it waiting) is older than the threshold. A caught-up partition is never stalled, however
old its last commit: a quiet topic is not a stuck one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mesh_assets.lib.cdc.records import OffsetRange, TopicPartition
from mesh_assets.lib.quality import Verdict

if TYPE_CHECKING:
    from pyiceberg.table import Table


@dataclass(frozen=True)
class PartitionStall:
    """One partition's position against the broker and the age of its newest commit."""

    topic_partition: TopicPartition
    end_offset: int
    committed_offset: int
    last_commit_ms: int | None
    age_s: float | None
    threshold_s: float

    @property
    def lag(self) -> int:
        """Records on the broker not yet committed."""
        return max(0, self.end_offset - self.committed_offset)

    @property
    def stalled(self) -> bool:
        """Behind the broker and silent for longer than the threshold."""
        return self.lag > 0 and self.age_s is not None and self.age_s > self.threshold_s

    def as_metadata(self) -> dict:
        """Topic, partition, offsets, lag, seconds since the last commit and the threshold."""
        return {"topic": self.topic_partition.topic, "partition": self.topic_partition.partition,
                "end_offset": self.end_offset, "committed_offset": self.committed_offset, "lag": self.lag,
                "last_commit_ms": self.last_commit_ms,
                "seconds_since_last_commit": None if self.age_s is None else round(self.age_s, 1),
                "threshold_seconds": self.threshold_s, "stalled": self.stalled}


def commits_with_times(table: Table) -> Iterable[tuple[int, list[OffsetRange]]]:
    """(commit time in epoch ms, ranges) of the table's exactly-once commits, newest first (metadata only)."""
    from pyiceberg.table.snapshots import ancestors_of

    from mesh_assets.lib.lakehouse.positions import decode_ranges
    from mesh_assets.lib.lakehouse.summary_keys import RANGES_KEY

    for snapshot in ancestors_of(table.current_snapshot(), table.metadata):
        summary = snapshot.summary
        if summary is not None and RANGES_KEY in summary.additional_properties:
            yield snapshot.timestamp_ms, decode_ranges(summary.additional_properties[RANGES_KEY])


def last_commit_ms(commits: Iterable[tuple[int, list[OffsetRange]]],
                   wanted: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
    """Newest commit time of each wanted partition, from commits newest first (stops once all are found)."""
    missing = set(wanted)
    found: dict[TopicPartition, int] = {}
    if not missing:
        return found
    for committed_at, ranges in commits:
        for r in ranges:
            tp = r.topic_partition
            if tp in missing and len(r):
                found[tp] = max(found.get(tp, 0), committed_at)
                missing.discard(tp)
        if not missing:
            break
    return found


def assess_partitions(
    end_offsets: Mapping[TopicPartition, int],
    committed: Mapping[TopicPartition, int],
    last_commits: Mapping[TopicPartition, int],
    now_ms: int,
    threshold_s: float,
    waiting_since_ms: Mapping[TopicPartition, int] | None = None,
) -> list[PartitionStall]:
    """Each partition's stall state; never-committed partitions age from ``waiting_since_ms`` when known."""
    waiting_since_ms = waiting_since_ms or {}
    stalls = []
    for tp in sorted(end_offsets):
        since = last_commits.get(tp, waiting_since_ms.get(tp))
        age = None if since is None else max(0.0, (now_ms - since) / 1000)
        stalls.append(PartitionStall(tp, end_offsets[tp], committed.get(tp, 0), last_commits.get(tp), age,
                                     threshold_s))
    return stalls


def stall_verdict(topic: str, stalls: list[PartitionStall], threshold_s: float) -> Verdict:
    """Red when any partition of ``topic`` is stalled; metadata per partition that lags, stalled first."""
    stalled = [s for s in stalls if s.stalled]
    lagging = sorted((s for s in stalls if s.lag), key=lambda s: (not s.stalled, -(s.age_s or 0)))
    if stalled:
        worst = stalled[0] if len(stalled) == 1 else max(stalled, key=lambda s: s.age_s or 0)
        description = (f"{len(stalled)} partition(s) of {topic} stalled: {worst.topic_partition.label()} is "
                       f"{worst.lag:,} offsets behind (end {worst.end_offset}, committed {worst.committed_offset}) "
                       f"and nothing committed for {worst.age_s:,.0f} s (threshold {threshold_s:,.0f} s)")
    elif lagging:
        description = (f"no partition of {topic} stalled: {len(lagging)} behind, each committed within "
                       f"{threshold_s:,.0f} s (or waiting for its first commit)")
    else:
        description = f"every partition of {topic} is caught up"
    return Verdict(
        passed=not stalled, description=description,
        metadata={"topic": topic, "stalled_partitions": [s.topic_partition.label() for s in stalled],
                  "threshold_seconds": threshold_s, "partitions": len(stalls),
                  "max_lag": max((s.lag for s in stalls), default=0),
                  "lagging": [s.as_metadata() for s in lagging[:10]]},
    )
