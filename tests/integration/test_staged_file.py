"""Staged data files on a real pyiceberg SqlCatalog: written before the commit, added by it, exactly once.

A staged file must commit exactly what a plain append of the same rows commits (rows, column
statistics, positions), and must never be used when it would not hold exactly the uncommitted rows.
"""

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from mesh_assets.lib.cdc.records import OffsetRange, TopicPartition
from mesh_assets.lib.lakehouse.exactly_once import append_exactly_once
from mesh_assets.lib.lakehouse.positions import committed_positions
from mesh_assets.lib.lakehouse.staged_file import StagedDataFile
from mesh_assets.lib.lakehouse.tables import DEAD_LETTERS, TableSpec, ensure_table

TOPIC = "aladdin.trades"


@pytest.fixture
def catalog(tmp_path):
    from pyiceberg.catalog.sql import SqlCatalog

    return SqlCatalog("test", uri=f"sqlite:///{tmp_path}/catalog.db", warehouse=f"file://{tmp_path}/warehouse")


def loader(catalog, spec: TableSpec = DEAD_LETTERS):
    ensure_table(catalog, spec)
    return lambda: catalog.load_table(spec.identifier)


def rows(offsets: list[int], partition: int = 0, reason: str = "test") -> pa.Table:
    n = len(offsets)
    return pa.Table.from_pydict(
        {
            "source_topic": [TOPIC] * n, "source_partition": [partition] * n, "source_offset": offsets,
            "source_timestamp_ms": [o * 10 for o in offsets], "record_key": [f"k{o}" for o in offsets],
            "raw_value": [b"{"] * n, "reason_code": ["invalid_json"] * n,
            "reason": [None if o % 3 == 0 else reason for o in offsets],
            "ingested_at": [dt.datetime(2026, 1, 1, tzinfo=dt.UTC)] * n, "batch_id": ["b"] * n,
        },
        schema=DEAD_LETTERS.schema,
    )  # fmt: skip


def stage(load, *parts: pa.Table) -> StagedDataFile:
    staged = StagedDataFile(load())
    for part in parts:
        staged.write(part)
    return staged


def data_files(table) -> list:
    return [task.file for task in table.scan().plan_files()]


def local_path(uri: str) -> Path:
    return Path(uri.removeprefix("file://"))


def test_a_staged_file_commits_the_rows_and_statistics_a_plain_append_commits(catalog):
    staged_load = loader(catalog)
    plain_spec = TableSpec("bronze", "plain_dead_letters", DEAD_LETTERS.columns)
    plain_load = loader(catalog, plain_spec)
    first, second = rows(list(range(0, 40))), rows(list(range(40, 100)), reason="other")
    whole = pa.concat_tables([first, second])
    staged = stage(staged_load, first, second)  # written in two pieces, like two parsed units

    outcome = append_exactly_once(staged_load, [OffsetRange(TOPIC, 0, 0, 100)], whole, staged=staged)
    append_exactly_once(plain_load, [OffsetRange(TOPIC, 0, 0, 100)], whole)

    assert outcome.committed and outcome.rows_written == 100
    (staged_file,) = data_files(staged_load())
    (plain_file,) = data_files(plain_load())
    assert staged_file.file_path == staged.path
    for attribute in ("record_count", "value_counts", "null_value_counts", "lower_bounds", "upper_bounds"):
        assert getattr(staged_file, attribute) == getattr(plain_file, attribute), attribute
    assert staged_file.null_value_counts[8] == 34  # reason: null for every third offset (field 8)
    sort = [("source_offset", "ascending")]
    assert staged_load().scan().to_arrow().sort_by(sort).equals(plain_load().scan().to_arrow().sort_by(sort))
    assert committed_positions(staged_load()) == {TopicPartition(TOPIC, 0): 100}


def test_only_repeating_columns_are_dictionary_encoded_and_the_rows_read_back_the_same(catalog):
    import pyarrow.parquet as pq

    load = loader(catalog)
    first, second = rows(list(range(0, 400))), rows(list(range(400, 1000)), reason="other")
    staged = stage(load, first, second)
    outcome = append_exactly_once(load, [OffsetRange(TOPIC, 0, 0, 1000)], pa.concat_tables([first, second]),
                                  staged=staged)  # fmt: skip

    assert outcome.rows_written == 1000
    # decided on the first rows: unique per row (offset, timestamp, key) -> plain; repeating -> dictionary
    assert {"source_offset", "source_timestamp_ms", "record_key"}.isdisjoint(staged.dictionary_columns)
    assert {"source_topic", "reason_code", "reason", "batch_id"} <= set(staged.dictionary_columns)
    metadata = pq.ParquetFile(local_path(staged.path)).metadata
    encodings = {metadata.schema.column(i).name: set(metadata.row_group(0).column(i).encodings)
                 for i in range(metadata.num_columns)}  # fmt: skip
    assert "RLE_DICTIONARY" in encodings["reason_code"] and "RLE_DICTIONARY" in encodings["source_topic"]
    assert "RLE_DICTIONARY" not in encodings["record_key"] and "RLE_DICTIONARY" not in encodings["source_offset"]
    sort = [("source_offset", "ascending")]
    assert load().scan().to_arrow().sort_by(sort).to_pylist() == pa.concat_tables([first, second]).to_pylist()


def test_the_dictionary_choice_counts_distinct_values_and_writes_nested_columns_plain():
    from mesh_assets.lib.lakehouse.staged_file import dictionary_columns

    table = pa.table({
        "half_distinct": ["a", "a", "b", "b"], "mostly_distinct": ["a", "b", "c", "c"], "all_null": pa.nulls(4),
        "repeating_struct": [{"x": 1}] * 4, "ints": [7, 7, 7, 8],
    })  # fmt: skip
    assert dictionary_columns(table) == ["half_distinct", "all_null", "ints"]


def test_a_range_partly_committed_meanwhile_appends_only_the_new_rows_and_deletes_the_staged_file(catalog):
    load = loader(catalog)
    staged = stage(load, rows([0, 1, 2, 3, 4, 5]))
    append_exactly_once(load, [OffsetRange(TOPIC, 0, 0, 3)], rows([0, 1, 2]))  # another run got there first

    outcome = append_exactly_once(load, [OffsetRange(TOPIC, 0, 0, 6)], rows([0, 1, 2, 3, 4, 5]), staged=staged)

    assert outcome.rows_written == 3 and outcome.ranges == [OffsetRange(TOPIC, 0, 3, 6)]
    assert sorted(load().scan().to_arrow()["source_offset"].to_pylist()) == [0, 1, 2, 3, 4, 5]
    assert staged.path not in {f.file_path for f in data_files(load())}
    assert not local_path(staged.path).exists()


def test_a_replayed_range_writes_nothing_and_deletes_the_staged_file(catalog):
    load = loader(catalog)
    append_exactly_once(load, [OffsetRange(TOPIC, 0, 0, 4)], rows([0, 1, 2, 3]))
    snapshots = len(load().snapshots())
    staged = stage(load, rows([0, 1, 2, 3]))

    outcome = append_exactly_once(load, [OffsetRange(TOPIC, 0, 0, 4)], rows([0, 1, 2, 3]), staged=staged)

    assert not outcome.committed and len(load().snapshots()) == snapshots
    assert not local_path(staged.path).exists()


def test_a_schema_evolved_after_staging_falls_back_to_a_plain_append(catalog):
    load = loader(catalog)
    staged = stage(load, rows([0, 1]))
    from pyiceberg.types import StringType

    with load().update_schema() as update:
        update.add_column("desk", StringType())

    outcome = append_exactly_once(load, [OffsetRange(TOPIC, 0, 0, 2)], rows([0, 1]), staged=staged)

    table = load()
    assert outcome.rows_written == 2 and staged.path not in {f.file_path for f in data_files(table)}
    result = table.scan().to_arrow()
    assert result.num_rows == 2 and pc.all(pc.is_null(result["desk"])).as_py()


def test_a_staged_file_holding_other_rows_than_the_commit_is_not_used(catalog):
    load = loader(catalog)
    staged = stage(load, rows([0, 1]))  # one row short of what is committed

    append_exactly_once(load, [OffsetRange(TOPIC, 0, 0, 3)], rows([0, 1, 2]), staged=staged)

    assert sorted(load().scan().to_arrow()["source_offset"].to_pylist()) == [0, 1, 2]
    assert staged.path not in {f.file_path for f in data_files(load())}


def test_a_conflicting_commit_is_retried_with_the_same_staged_file_and_adds_it_once(catalog):
    load = loader(catalog)
    other = TopicPartition(TOPIC, 1)
    calls = {"n": 0}

    def stale_then_fresh():
        calls["n"] += 1
        table = load()
        if calls["n"] == 1:  # another partition's batch commits after we loaded the table: our commit conflicts
            append_exactly_once(load, [OffsetRange(TOPIC, 1, 0, 2)], rows([0, 1], partition=1))
        return table

    staged = stage(load, rows([0, 1, 2]))
    outcome = append_exactly_once(stale_then_fresh, [OffsetRange(TOPIC, 0, 0, 3)], rows([0, 1, 2]), staged=staged)

    assert outcome.attempts == 2 and outcome.committed
    table = load()
    assert [f.file_path for f in data_files(table)].count(staged.path) == 1
    assert table.scan().to_arrow().num_rows == 5
    assert committed_positions(table) == {TopicPartition(TOPIC, 0): 3, other: 2}


def test_rows_with_a_column_the_table_lacks_are_refused_by_name(catalog):
    load = loader(catalog)
    staged = StagedDataFile(load())
    with pytest.raises(ValueError, match=r"bronze.aladdin_dead_letters: rows carry columns \['desk'\]"):
        staged.write(rows([0]).append_column("desk", pa.array(["x"])))


def test_later_pieces_in_another_column_order_with_other_types_or_a_missing_column_write_the_same_rows(catalog):
    # after the first piece the file reuses its projected schema (field ids): every later piece is still cast
    # to the table's types, put in the table's column order, and given nulls for the columns it lacks
    load = loader(catalog)
    first = rows(list(range(0, 10)))
    second = rows(list(range(10, 20)))
    second = second.select(list(reversed(second.column_names)))
    second = second.set_column(second.column_names.index("source_offset"), "source_offset",
                               second["source_offset"].cast(pa.int32()))  # fmt: skip
    third = rows(list(range(20, 30))).drop_columns(["reason"])
    staged = stage(load, first, second, third)
    expected = pa.concat_tables([first, rows(list(range(10, 20))),
                                 rows(list(range(20, 30))).set_column(7, "reason", pa.nulls(10, pa.string()))])
    outcome = append_exactly_once(load, [OffsetRange(TOPIC, 0, 0, 30)], expected, staged=staged)

    assert outcome.rows_written == 30
    assert [f.file_path for f in data_files(load())] == [staged.path]
    sort = [("source_offset", "ascending")]
    assert load().scan().to_arrow().sort_by(sort).to_pylist() == expected.to_pylist()


def test_a_piece_that_cannot_take_the_tables_type_is_refused_and_nothing_is_written(catalog):
    load = loader(catalog)
    staged = stage(load, rows([0, 1]))
    bad = rows([2]).set_column(2, "source_offset", pa.array(["two"]))
    with pytest.raises((pa.ArrowInvalid, pa.ArrowNotImplementedError)):
        staged.write(bad)
    assert staged.rows == 2
