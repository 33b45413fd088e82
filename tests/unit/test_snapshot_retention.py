"""The keep rule of snapshot expiry: what the readers of committed source positions need stays."""

import pytest

from mesh_assets.lib.cdc.microbatch_plan import find_gaps
from mesh_assets.lib.cdc.records import OffsetRange, TopicPartition
from mesh_assets.lib.lakehouse.maintenance_sql import compaction_sql
from mesh_assets.lib.lakehouse.positions import encode_positions, encode_ranges
from mesh_assets.lib.lakehouse.snapshot_retention import (
    RetentionPolicy,
    SnapshotFacts,
    plan_expiry,
    reads_every_partition_version,
)
from mesh_assets.lib.lakehouse.summary_keys import (
    CONTENT_HASH_KEY,
    MAINTENANCE_KEY,
    PARTITIONS_KEY,
    POSITIONS_KEY,
    RANGES_KEY,
)

T = "aladdin.trades"
DAY = 86_400_000


def commits(spans: list[tuple[int, int, int]], first_id: int = 1) -> list[SnapshotFacts]:
    """A chain of exactly-once commits: (partition, start, end) each, one day apart, cumulative positions."""
    chain, positions, parent = [], {}, None
    for index, (partition, start, end) in enumerate(spans):
        positions[TopicPartition(T, partition)] = end
        summary = {POSITIONS_KEY: encode_positions(positions), RANGES_KEY: encode_ranges([OffsetRange(T, partition,
                                                                                                     start, end)])}
        snapshot_id = first_id + index
        chain.append(SnapshotFacts(snapshot_id, parent, index * DAY, summary))
        parent = snapshot_id
    return chain


def plan(chain, keep_last=1, cutoff_ms=10_000 * DAY, current=None, **kwargs):
    current = current if current is not None else chain[-1].snapshot_id
    return plan_expiry(chain, current, RetentionPolicy(cutoff_ms, keep_last), **kwargs)


def test_old_commits_go_and_the_newest_positions_and_each_partitions_last_commit_stay():
    chain = commits([(0, 0, 10), (1, 0, 5), (0, 10, 20), (0, 20, 30), (0, 30, 40)])
    result = plan(chain)
    # partition 1's last commit (id 2) is the oldest anchor: the ancestry from it to the current snapshot stays
    assert sorted(result.keep) == [2, 3, 4, 5] and result.expire == [1]
    assert any(w.startswith("last commit: aladdin.trades-1") for w in result.keep[2])
    assert any(w.startswith("positions") for w in result.keep[5])
    assert result.keep[3] == ["ancestry: between the current snapshot and a kept one"]
    assert result.expired_through == {TopicPartition(T, 0): 10}


def test_a_compaction_on_top_keeps_the_commit_its_readers_walk_back_to():
    chain = commits([(0, 0, 10), (0, 10, 20)])
    chain.append(SnapshotFacts(3, 2, 3 * DAY, {MAINTENANCE_KEY: "compaction"}))
    result = plan(chain)
    assert sorted(result.keep) == [2, 3] and result.expire == [1]
    assert result.position_carriers() == [2]


def test_retention_and_keep_last_hold_young_and_newest_snapshots():
    chain = commits([(0, 0, 10), (0, 10, 20), (0, 20, 30), (0, 30, 40)])
    assert plan(chain, keep_last=3).expire == [1]
    assert plan(chain, cutoff_ms=2 * DAY).expire == [1, 2]  # ids 3 (day 2) and 4 are young
    assert plan(chain, cutoff_ms=0).expire == []


def test_snapshots_off_the_current_ancestry_expire_unless_young_or_referenced():
    chain = commits([(0, 0, 10), (0, 10, 20)])
    orphan = SnapshotFacts(9, 1, 1, {})
    assert 9 in plan([*chain, orphan], current=2).expire
    assert 9 in plan([*chain, orphan], current=2, protected_ids=[9]).keep
    assert 9 in plan([*chain, orphan], current=2, cutoff_ms=0).keep


def test_a_gap_in_the_offset_history_keeps_every_commit_as_evidence():
    chain = commits([(0, 0, 10), (0, 15, 20), (0, 20, 30)])
    result = plan(chain)
    assert not result.contiguous and result.expire == []
    assert result.problems[0]["kind"] == "gap"


def test_a_table_gapped_by_design_expires_its_old_commits():
    chain = commits([(0, 0, 10), (0, 15, 20), (0, 30, 40)])  # the CDC skips: committed only for batches with skips
    result = plan(chain, gaps_by_design=True)
    assert result.contiguous and result.expire == [1, 2]


def test_the_floor_of_an_earlier_expiry_makes_the_rest_contiguous():
    chain = commits([(0, 10, 20), (0, 20, 30), (0, 30, 40)], first_id=11)
    assert not plan(chain).contiguous  # from offset 0 the first kept commit starts at 10
    result = plan(chain, expired_through={TopicPartition(T, 0): 10})
    assert result.contiguous and result.expire == [11, 12]
    assert result.expired_through == {TopicPartition(T, 0): 30}


def test_the_newest_version_of_every_partition_stays_with_its_ancestry():
    versions = [("2025", "a"), ("2026", "b"), ("2026", "c"), ("2026", "d")]
    chain = [SnapshotFacts(i + 1, i or None, i * DAY, {PARTITIONS_KEY: p, CONTENT_HASH_KEY: h})
             for i, (p, h) in enumerate(versions)]
    result = plan(chain)
    assert result.expire == []  # 2025's only version is the oldest snapshot: the readers walk back to it
    chain.append(SnapshotFacts(5, 4, 5 * DAY, {PARTITIONS_KEY: "2025", CONTENT_HASH_KEY: "e"}))
    assert plan(chain).expire == [1, 2, 3]


def test_bronze_deliveries_keep_only_their_newest_load():
    days = ["2026-01-02", "2026-01-05", "2026-01-06"]
    chain = [SnapshotFacts(i + 1, i or None, i * DAY, {PARTITIONS_KEY: day}) for i, day in enumerate(days)]
    assert plan(chain).expire == []  # GIPS-like: each day's only version is read
    assert reads_every_partition_version("gips.composite_membership")
    assert not reads_every_partition_version("bronze.bloomberg_prices")
    result = plan(chain, every_partition_version=False)
    assert result.expire == [1, 2] and any(w.startswith("newest load") for w in result.keep[3])


def test_find_gaps_starts_at_the_floor_and_skips_ranges_below_it():
    tp = TopicPartition(T, 0)
    history = [[OffsetRange(T, 0, 0, 10)], [OffsetRange(T, 0, 10, 20)], [OffsetRange(T, 0, 20, 30)]]
    assert find_gaps(history[1:]) and not find_gaps(history[1:], {tp: 10})
    assert not find_gaps(history, {tp: 10})  # the proven range below the floor is not re-judged
    assert find_gaps([[OffsetRange(T, 0, 5, 20)]], {tp: 10})[0]["kind"] == "overlap"


def test_compaction_sql_per_engine():
    assert compaction_sql("trino", "bronze.aladdin_trades", 32 * 1024 * 1024) == (
        'ALTER TABLE "bronze"."aladdin_trades" EXECUTE optimize(file_size_threshold => \'32MB\')')
    assert compaction_sql("trino", "bronze.t", 1 << 20, catalog="lake").startswith('ALTER TABLE "lake"."bronze"."t"')
    assert compaction_sql("athena", "bronze.aladdin_trades", 1) == (
        "OPTIMIZE bronze.aladdin_trades REWRITE DATA USING BIN_PACK")
    with pytest.raises(ValueError, match="not a Glue name"):
        compaction_sql("athena", "bronze.x; drop table y", 1)
    with pytest.raises(ValueError, match="does not compact with SQL"):
        compaction_sql("duckdb", "bronze.t", 1)
