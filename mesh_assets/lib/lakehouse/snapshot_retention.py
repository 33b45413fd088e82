"""Which Iceberg snapshots snapshot expiry must keep: the rule, as pure code over snapshot summaries.

Every reader of committed source positions walks the snapshot ancestry from the current snapshot
(:mod:`mesh_assets.lib.lakehouse.positions`) and stops at the first parent that is gone. So a snapshot
that a reader needs is not enough: the whole chain from the current snapshot back to it must stay.
The readers, and the snapshot each one needs (its *anchor*):

* the exactly-once append (``committed_positions``): the newest snapshot carrying ``mesh.source.positions``;
* the CDC stall check and the trade-stream progress (``commits_with_times``): the newest commit of every
  topic-partition (``mesh.kafka.offsets``), for its commit time;
* the CDC checks of the newest batch (``latest_summary_value`` of ``mesh.kafka.offsets``) and the freshness
  check (``mesh.source.max_ts_ms``), the trade-stream health (``mesh.stream.stats``): the newest carrier;
* partition versions (GIPS tables): the newest snapshot that wrote each partition (``mesh.partitions``), whose
  content hash says whether a rewrite changes anything; in bronze only the newest load (the delivery checks);
* the ``offset_contiguity`` checks read every exactly-once commit from offset 0. Expiring old commits is
  allowed only once their history was proven contiguous: the expiry records the proven positions as the
  table property ``mesh.source.expired_through`` and the check starts from there
  (:func:`mesh_assets.lib.cdc.microbatch_plan.find_gaps`). A history with a gap keeps its commits.

On top: the current snapshot, branch and tag heads, the newest ``keep_last`` ancestors and every snapshot
younger than the retention cut-off are kept. Everything else is expired.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from mesh_assets.lib.cdc.microbatch_plan import find_gaps
from mesh_assets.lib.cdc.records import OffsetRange, TopicPartition
from mesh_assets.lib.lakehouse.positions import decode_positions, decode_ranges, encode_positions
from mesh_assets.lib.lakehouse.summary_keys import (
    CONTENT_HASH_KEY,
    MAX_EVENT_TS_KEY,
    PARTITIONS_KEY,
    POSITIONS_KEY,
    RANGES_KEY,
    STREAM_STATS_KEY,
)


@dataclass(frozen=True)
class SnapshotFacts:
    """What the rule needs of one snapshot: its id, parent, commit time and summary properties."""

    snapshot_id: int
    parent_id: int | None
    timestamp_ms: int
    summary: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RetentionPolicy:
    """Expire snapshots older than ``cutoff_ms`` (epoch ms), always keeping the newest ``keep_last`` ancestors."""

    cutoff_ms: int
    keep_last: int = 1


@dataclass(frozen=True)
class ExpiryPlan:
    """The verdict for one table: which snapshots stay (each with its reasons), which go, and the new floor."""

    keep: dict[int, list[str]]
    expire: list[int]
    anchors: dict[int, list[str]]
    expired_through: dict[TopicPartition, int]
    contiguous: bool
    problems: list[dict] = field(default_factory=list)

    def position_carriers(self) -> list[int]:
        """Kept snapshots that carry committed source positions (the exactly-once logic reads them)."""
        return sorted(i for i, why in self.anchors.items() if any(w.startswith(("positions", "last commit"))
                                                                  for w in why))

    def reasons_by_count(self) -> dict[str, int]:
        """How many kept snapshots each kind of reason holds (the part before ':')."""
        counts: dict[str, int] = {}
        for why in self.keep.values():
            for kind in {w.split(":")[0] for w in why}:
                counts[kind] = counts.get(kind, 0) + 1
        return dict(sorted(counts.items()))


def ancestry(snapshots: Mapping[int, SnapshotFacts], current_id: int | None) -> list[SnapshotFacts]:
    """The current snapshot and its ancestors, newest first, stopping at the first parent that is gone."""
    chain: list[SnapshotFacts] = []
    seen: set[int] = set()
    snapshot = snapshots.get(current_id) if current_id is not None else None
    while snapshot is not None and snapshot.snapshot_id not in seen:
        chain.append(snapshot)
        seen.add(snapshot.snapshot_id)
        snapshot = snapshots.get(snapshot.parent_id) if snapshot.parent_id is not None else None
    return chain


#: Namespaces whose readers of ``mesh.partitions`` look only at the newest load (bronze deliveries' checks:
#: ``latest_delivery_rows``). Elsewhere (GIPS: ``partition_versions.partition_version``) every partition's newest
#: version is read, and an unknown namespace is treated that way too.
NEWEST_LOAD_ONLY_NAMESPACES = frozenset({"bronze"})


def reads_every_partition_version(identifier: str) -> bool:
    """Whether readers of table ``namespace.table`` look up the newest version of every partition."""
    return identifier.rpartition(".")[0] not in NEWEST_LOAD_ONLY_NAMESPACES


def reader_anchors(chain: Sequence[SnapshotFacts], every_partition_version: bool = True) -> dict[int, list[str]]:
    """Snapshots of the ancestry (newest first) some reader of the table needs, each with why.

    ``every_partition_version``: the newest write of every partition is needed (GIPS), not just the newest load.
    """
    anchors: dict[int, list[str]] = {}

    def anchor(snapshot: SnapshotFacts, why: str) -> None:
        anchors.setdefault(snapshot.snapshot_id, []).append(why)

    newest_of = {POSITIONS_KEY: "positions: newest committed source positions (exactly-once append)",
                 RANGES_KEY: "newest batch: the CDC checks of the newest exactly-once commit",
                 MAX_EVENT_TS_KEY: "freshness: newest committed event time",
                 STREAM_STATS_KEY: "stream stats: the trade stream's newest figures"}
    found: set[str] = set()
    partitions_seen: set[TopicPartition] = set()
    versions_seen: set[str] = set()
    for snapshot in chain:
        summary = snapshot.summary
        for key, why in newest_of.items():
            if key in summary and key not in found:
                found.add(key)
                anchor(snapshot, why)
        if RANGES_KEY in summary:
            for r in decode_ranges(summary[RANGES_KEY]):
                if r.topic_partition not in partitions_seen:
                    partitions_seen.add(r.topic_partition)
                    anchor(snapshot, f"last commit: {r.topic_partition.label()} ends at offset {r.end}")
        if PARTITIONS_KEY in summary and not every_partition_version and not versions_seen:
            versions_seen.add(PARTITIONS_KEY)
            anchor(snapshot, "newest load: the partitions the delivery checks read")
        for partition in (p for p in summary.get(PARTITIONS_KEY, "").split(",") if p and every_partition_version):
            if partition not in versions_seen:
                versions_seen.add(partition)
                hashed = " with its content hash" if CONTENT_HASH_KEY in summary else ""
                anchor(snapshot, f"partition version: newest write of {partition}{hashed}")
    return anchors


def commit_ranges(chain: Sequence[SnapshotFacts]) -> list[tuple[int, list[OffsetRange]]]:
    """(snapshot id, ranges) of the exactly-once commits of an ancestry given newest first, oldest first."""
    return [(s.snapshot_id, decode_ranges(s.summary[RANGES_KEY])) for s in reversed(chain) if RANGES_KEY in s.summary]


def plan_expiry(snapshots: Iterable[SnapshotFacts], current_id: int | None, policy: RetentionPolicy,
                protected_ids: Iterable[int] = (), expired_through: Mapping[TopicPartition, int] | None = None,
                every_partition_version: bool = True, gaps_by_design: bool = False) -> ExpiryPlan:
    """The snapshots to keep (with reasons) and to expire under ``policy`` and the readers' needs.

    ``protected_ids``: branch and tag heads. ``expired_through``: the table's proven floor so far (the
    ``mesh.source.expired_through`` property); the plan returns the floor after its expiry.
    ``every_partition_version``: see :func:`reads_every_partition_version`. ``gaps_by_design``: the table's
    offset ranges jump by design (committed only for batches with rows for it): no contiguity to prove or keep.
    """
    by_id = {s.snapshot_id: s for s in snapshots}
    chain = ancestry(by_id, current_id)
    keep: dict[int, list[str]] = {}

    def hold(snapshot_id: int, why: str) -> None:
        keep.setdefault(snapshot_id, []).append(why)

    for snapshot_id in protected_ids:
        if snapshot_id in by_id:
            hold(snapshot_id, "ref: head of a branch or tag")
    for index, snapshot in enumerate(chain):
        if index == 0:
            hold(snapshot.snapshot_id, "current snapshot")
        elif index < policy.keep_last:
            hold(snapshot.snapshot_id, f"keep last: one of the newest {policy.keep_last}")
    for snapshot in by_id.values():
        if snapshot.timestamp_ms >= policy.cutoff_ms:
            hold(snapshot.snapshot_id, "retention: younger than the cut-off")
    anchors = reader_anchors(chain, every_partition_version)
    for snapshot_id, whys in anchors.items():
        for why in whys:
            hold(snapshot_id, why)

    floor = dict(expired_through or {})
    history = commit_ranges(chain)
    problems = [] if gaps_by_design else find_gaps([ranges for _, ranges in history], floor)
    contiguous = not problems
    if not contiguous:  # the evidence of a gap or an overlap stays until someone looks at it
        for snapshot_id, _ in history:
            hold(snapshot_id, "offset history has a gap or overlap: kept as evidence")
    # readers walk the ancestry: every ancestor newer than the oldest kept one stays, or the walk stops early
    oldest_kept = max((i for i, s in enumerate(chain) if s.snapshot_id in keep), default=-1)
    for snapshot in chain[:oldest_kept + 1]:
        if snapshot.snapshot_id not in keep:
            hold(snapshot.snapshot_id, "ancestry: between the current snapshot and a kept one")
    expire = sorted(i for i in by_id if i not in keep)
    for snapshot_id, ranges in history:
        if snapshot_id in expire:
            for r in ranges:
                floor[r.topic_partition] = max(floor.get(r.topic_partition, 0), r.end)
    return ExpiryPlan(keep, expire, anchors, floor, contiguous, problems[:5])


def encode_floor(floor: Mapping[TopicPartition, int]) -> str:
    """The ``mesh.source.expired_through`` property value (same JSON form as the positions)."""
    return encode_positions(floor)


def decode_floor(text: str | None) -> dict[TopicPartition, int]:
    """Inverse of :func:`encode_floor`; an absent property is no floor."""
    return decode_positions(text) if text else {}
