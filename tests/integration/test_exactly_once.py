"""Exactly-once appends on a real pyiceberg SqlCatalog: replays, retries, gaps and commit conflicts."""

import datetime as dt

import pyarrow as pa
import pytest

from mesh_assets.lib.cdc.records import OffsetRange, TopicPartition
from mesh_assets.lib.lakehouse.exactly_once import OffsetGapError, append_exactly_once
from mesh_assets.lib.lakehouse.positions import POSITIONS_KEY, committed_positions, committed_ranges_history
from mesh_assets.lib.lakehouse.tables import DEAD_LETTERS, ensure_table

TOPIC = "aladdin.trades"


@pytest.fixture
def catalog(tmp_path):
    from pyiceberg.catalog.sql import SqlCatalog

    return SqlCatalog("test", uri=f"sqlite:///{tmp_path}/catalog.db", warehouse=f"file://{tmp_path}/warehouse")


@pytest.fixture
def load(catalog):
    ensure_table(catalog, DEAD_LETTERS)
    return lambda: catalog.load_table(DEAD_LETTERS.identifier)


def rows(offsets: list[int], partition: int = 0) -> pa.Table:
    n = len(offsets)
    return pa.Table.from_pydict(
        {
            "source_topic": [TOPIC] * n, "source_partition": [partition] * n, "source_offset": offsets,
            "source_timestamp_ms": [0] * n, "record_key": ["k"] * n, "raw_value": [b"{"] * n,
            "reason_code": ["invalid_json"] * n, "reason": ["test"] * n,
            "ingested_at": [dt.datetime(2026, 1, 1, tzinfo=dt.UTC)] * n, "batch_id": ["b"] * n,
        },
        schema=DEAD_LETTERS.schema,
    )


def offsets_in(load) -> list[int]:
    return sorted(load().scan().to_arrow()["source_offset"].to_pylist())


def test_first_commit_writes_rows_and_positions_in_the_same_snapshot(load):
    outcome = append_exactly_once(load, [OffsetRange(TOPIC, 0, 0, 10)], rows([1, 4]))
    assert outcome.committed and outcome.rows_written == 2
    table = load()
    assert table.current_snapshot().snapshot_id == outcome.snapshot_id
    assert committed_positions(table) == {TopicPartition(TOPIC, 0): 10}
    assert table.properties[POSITIONS_KEY] == table.current_snapshot().summary.additional_properties[POSITIONS_KEY]


def test_replaying_a_committed_range_writes_nothing(load):
    append_exactly_once(load, [OffsetRange(TOPIC, 0, 0, 10)], rows([1, 4]))
    snapshots = len(load().snapshots())
    again = append_exactly_once(load, [OffsetRange(TOPIC, 0, 0, 10)], rows([1, 4]))
    assert not again.committed and again.rows_written == 0
    assert len(load().snapshots()) == snapshots
    assert offsets_in(load) == [1, 4]


def test_overlapping_batch_commits_only_the_new_part(load):
    append_exactly_once(load, [OffsetRange(TOPIC, 0, 0, 10)], rows([1, 4]))
    outcome = append_exactly_once(load, [OffsetRange(TOPIC, 0, 5, 20)], rows([5, 12, 19]))
    assert outcome.ranges == [OffsetRange(TOPIC, 0, 10, 20)]
    assert offsets_in(load) == [1, 4, 12, 19]
    assert [r for _, r in committed_ranges_history(load())] == [[OffsetRange(TOPIC, 0, 0, 10)],
                                                                [OffsetRange(TOPIC, 0, 10, 20)]]


def test_a_gap_is_refused_and_names_the_missing_offsets(load):
    append_exactly_once(load, [OffsetRange(TOPIC, 0, 0, 10)], rows([]))
    with pytest.raises(OffsetGapError, match=r"aladdin.trades-0 is committed up to offset 10 .* offsets 10..14"):
        append_exactly_once(load, [OffsetRange(TOPIC, 0, 15, 20)], rows([16]))
    assert committed_positions(load()) == {TopicPartition(TOPIC, 0): 10}


def test_commit_conflict_is_retried_after_rereading_positions(load):
    """A concurrent writer commits the same range between our load and our commit: we add nothing."""
    calls = {"n": 0}

    def stale_then_fresh():
        calls["n"] += 1
        table = load()
        if calls["n"] == 1:
            # Someone else commits the same range after we loaded the table.
            append_exactly_once(load, [OffsetRange(TOPIC, 0, 0, 10)], rows([1, 4]))
        return table

    outcome = append_exactly_once(stale_then_fresh, [OffsetRange(TOPIC, 0, 0, 10)], rows([1, 4]))
    assert outcome.attempts == 2 and not outcome.committed
    assert offsets_in(load) == [1, 4]


def test_pyiceberg_commit_retry_is_disabled_on_every_table(load):
    assert load().properties["commit.retry.num-retries"] == "0"


def test_memoized_transaction_sees_every_staged_change_and_commits_like_pyiceberg(catalog, load):
    from mesh_assets.lib.lakehouse.transactions import transaction

    append_exactly_once(load, [OffsetRange(TOPIC, 0, 0, 3)], rows([0, 1, 2]))
    table = load()
    tx = transaction(table)
    before = tx.table_metadata
    assert tx.table_metadata is before, "not memoized: rebuilt without a change"
    assert before.properties == table.metadata.properties and before.snapshots == table.metadata.snapshots
    tx.set_properties({"mesh.test": "1"})
    staged = tx.table_metadata
    assert staged is not before and staged.properties["mesh.test"] == "1"
    tx.append(rows([3, 4]), snapshot_properties={"mesh.test.summary": "x"})
    appended = tx.table_metadata
    assert appended is not staged and len(appended.snapshots) == len(table.metadata.snapshots) + 1
    tx.commit_transaction()
    after = load()
    assert after.properties["mesh.test"] == "1"
    assert after.current_snapshot().summary.additional_properties["mesh.test.summary"] == "x"
    assert offsets_in(load) == [0, 1, 2, 3, 4]


def test_table_loader_creates_a_missing_table_once_then_only_loads_it(catalog):
    from mesh_assets.lib.lakehouse.tables import table_loader

    load = table_loader(catalog, DEAD_LETTERS)
    assert not catalog.table_exists(DEAD_LETTERS.identifier)
    first = load()
    assert catalog.table_exists(DEAD_LETTERS.identifier) and first.properties["commit.retry.num-retries"] == "0"
    append_exactly_once(load, [OffsetRange(TOPIC, 0, 0, 2)], rows([0, 1]))
    assert committed_positions(load()) == {TopicPartition(TOPIC, 0): 2}
