"""What the trade-stream worker has committed, read from its hot Iceberg table, never from the worker.

Every micro-batch the worker commits carries, in its snapshot summary, the Kafka ranges it covers
(``mesh.kafka.offsets``), the cumulative positions (``mesh.source.positions``) and its figures
(``mesh.stream.stats``: records, alerts by kind, latency, breaker states, end offsets). When idle the
worker proves it is alive with the table property ``mesh.stream.heartbeat`` (same JSON, no records).
This module turns those into :class:`StreamProgress` for the companion sensor and the on-demand checks.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import orjson

from mesh_assets.lib.cdc.records import OffsetRange, TopicPartition
from mesh_assets.lib.lakehouse.positions import Positions, decode_positions, decode_ranges
from mesh_assets.lib.lakehouse.summary_keys import HEARTBEAT_PROPERTY, POSITIONS_KEY, RANGES_KEY, STREAM_STATS_KEY

if TYPE_CHECKING:
    from pyiceberg.table import Table

#: Most commits one reading walks back (a sensor that fell far behind reports the newest ones).
MAX_COMMITS = 5_000


@dataclass(frozen=True)
class StreamCommit:
    """One micro-batch the worker committed: its snapshot, ranges and figures."""

    snapshot_id: int
    committed_at_ms: int
    ranges: list[OffsetRange]
    stats: dict[str, Any]

    @property
    def records(self) -> int:
        """Rows this commit wrote."""
        return int(self.stats.get("records", 0))


@dataclass(frozen=True)
class StreamProgress:
    """The worker's committed progress since a given snapshot (oldest commit first)."""

    table: str
    commits: list[StreamCommit]
    positions: Positions
    current_snapshot_id: int | None
    newest_stats: dict[str, Any] | None
    heartbeat: dict[str, Any] | None
    truncated: bool = False
    total_rows: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def records(self) -> int:
        """Rows written by the commits read."""
        return sum(c.records for c in self.commits)

    @property
    def alerts(self) -> dict[str, int]:
        """Alerts raised by the commits read, by kind."""
        totals: dict[str, int] = {}
        for commit in self.commits:
            for kind, count in (commit.stats.get("alerts") or {}).items():
                if int(count):
                    totals[kind] = totals.get(kind, 0) + int(count)
        return totals

    @property
    def latest(self) -> dict[str, Any] | None:
        """The newest word from the worker: its last commit's figures or its heartbeat, whichever is newer."""
        candidates = [s for s in (self.newest_stats, self.heartbeat) if s]
        return max(candidates, key=lambda s: int(s.get("committed_at_ms", 0))) if candidates else None

    @property
    def last_seen_ms(self) -> int | None:
        """When the worker last committed or beat (epoch ms), if ever."""
        latest = self.latest
        return int(latest["committed_at_ms"]) if latest and "committed_at_ms" in latest else None

    def merged_ranges(self) -> dict[str, list[int]]:
        """Per partition, the span ``[first, end)`` the commits read cover (contiguous by construction)."""
        spans: dict[TopicPartition, list[int]] = {}
        for commit in self.commits:
            for r in commit.ranges:
                span = spans.setdefault(r.topic_partition, [r.start, r.end])
                span[0], span[1] = min(span[0], r.start), max(span[1], r.end)
        return {f"{tp.topic}-{tp.partition}": span for tp, span in sorted(spans.items())}

    def latency_ms(self) -> dict[str, float] | None:
        """Worst p99 and max, and the median p50, of the commits read (each commit measures its own rows)."""
        figures = [c.stats["latency_ms"] for c in self.commits if c.records and c.stats.get("latency_ms")]
        if not figures:
            return None
        return {
            "p50_median": round(statistics.median(float(f["p50"]) for f in figures), 3),
            "p99_worst": round(max(float(f["p99"]) for f in figures), 3),
            "max": round(max(float(f["max"]) for f in figures), 3),
        }

    def lag_records(self, end_offsets: Mapping[TopicPartition, int] | None = None) -> int:
        """Records on the topic not yet committed: ``end_offsets`` if given, else the worker's own last view."""
        if end_offsets is None:
            latest = self.latest or {}
            return int(latest.get("lag_records", 0))
        return sum(max(0, end - self.positions.get(tp, 0)) for tp, end in end_offsets.items())


def _stats(summary: Mapping[str, str]) -> dict[str, Any]:
    raw = summary.get(STREAM_STATS_KEY)
    return orjson.loads(raw) if raw else {}


def read_progress(table: Table, after_snapshot_id: int | None = None) -> StreamProgress:
    """The commits of ``table`` newer than ``after_snapshot_id`` (all, up to :data:`MAX_COMMITS`, if None
    or no longer in the ancestry), the cumulative positions and the heartbeat."""
    from pyiceberg.table.snapshots import ancestors_of

    name = ".".join(table.name())
    heartbeat_raw = table.properties.get(HEARTBEAT_PROPERTY)
    heartbeat = orjson.loads(heartbeat_raw) if heartbeat_raw else None
    current = table.current_snapshot()
    if current is None:
        return StreamProgress(name, [], {}, None, None, heartbeat)
    commits: list[StreamCommit] = []
    positions: Positions | None = None
    newest_stats: dict[str, Any] | None = None
    truncated = False
    for snapshot in ancestors_of(current, table.metadata):
        summary = snapshot.summary.additional_properties if snapshot.summary is not None else {}
        if positions is None and POSITIONS_KEY in summary:
            positions = decode_positions(summary[POSITIONS_KEY])
        if newest_stats is None and STREAM_STATS_KEY in summary:
            newest_stats = _stats(summary)
        if snapshot.snapshot_id == after_snapshot_id:
            break
        if RANGES_KEY in summary:
            if len(commits) == MAX_COMMITS:
                truncated = True
                break
            commits.append(StreamCommit(snapshot.snapshot_id, snapshot.timestamp_ms,
                                        decode_ranges(summary[RANGES_KEY]), _stats(summary)))
    commits.reverse()
    total = int(current.summary.additional_properties.get("total-records", 0)) if current.summary else 0
    return StreamProgress(name, commits, positions or {}, current.snapshot_id, newest_stats, heartbeat, truncated,
                          total)
