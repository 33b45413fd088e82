"""The weekly table maintenance, launched through the run launcher on a real local catalog.

A dead-letters table gets many small exactly-once appends (source positions in every snapshot summary,
written by the bronze writer's own code); the `table_maintenance` job then compacts it and expires its old
snapshots. Needed snapshots stay, the exactly-once logic and the contiguity check still hold, no row is lost.
"""

import datetime as dt
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pyarrow as pa
import pytest
from dagster import AssetKey, DagsterEventType, DagsterInstance, DagsterRunStatus

from mesh_assets.lib.cdc.records import OffsetRange, TopicPartition
from mesh_assets.lib.lakehouse.exactly_once import append_exactly_once
from mesh_assets.lib.lakehouse.partition_versions import partition_version, replace_partition_if_changed
from mesh_assets.lib.lakehouse.positions import committed_positions, committed_ranges_history
from mesh_assets.lib.lakehouse.summary_keys import EXPIRED_THROUGH_KEY, POSITIONS_KEY
from mesh_assets.lib.lakehouse.tables import DEAD_LETTERS, PRICES, TableSpec
from resources.iceberg import IcebergCatalogResource

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "aladdin.trades"
BATCHES = 12  # per partition, 2 partitions: 24 small files and 24 snapshots carrying positions
#: A GIPS-like table of partition versions (`mesh.partitions` + content hash in each snapshot summary).
VERSIONS = TableSpec("gips_like", "composite_figures", (("partition_key", "string"), ("value", "double")),
                     partition_column="partition_key")

#: A month-partitioned table with one small file per daily append (two months).
MARKS = TableSpec("maintenance_test", "daily_marks", (("day", "date"), ("value", "double")), partition_column="day",
                  partition_transform="month")
MARK_DAYS = [dt.date(2026, month, day) for month in (1, 2) for day in range(1, 6)]


def version(key: str, value: float) -> pa.Table:
    return pa.Table.from_pydict({"partition_key": [key], "value": [value]}, schema=VERSIONS.schema)


def dead_letters(partition: int, offsets: list[int]) -> pa.Table:
    n = len(offsets)
    return pa.Table.from_pydict(
        {"source_topic": [TOPIC] * n, "source_partition": [partition] * n, "source_offset": offsets,
         "source_timestamp_ms": [0] * n, "record_key": ["k"] * n, "raw_value": [b"{"] * n,
         "reason_code": ["invalid_json"] * n, "reason": ["test"] * n,
         "ingested_at": [dt.datetime(2026, 1, 1, tzinfo=dt.UTC)] * n, "batch_id": ["b"] * n},
        schema=DEAD_LETTERS.schema)


@pytest.fixture(scope="module")
def maintained(tmp_path_factory):
    """The catalog before and after one `table_maintenance` run launched like the UI launches it."""
    root = tmp_path_factory.mktemp("maintenance")
    data = root / "data"
    iceberg = IcebergCatalogResource(catalog_type="sql", uri=f"sqlite:///{data / 'lakehouse' / 'catalog.db'}",
                                     warehouse=f"file://{data / 'lakehouse' / 'warehouse'}")
    load = iceberg.loader(DEAD_LETTERS)
    for batch in range(BATCHES):
        for partition in (0, 1):
            start = batch * 10
            append_exactly_once(load, [OffsetRange(TOPIC, partition, start, start + 10)],
                                dead_letters(partition, [start + 1, start + 7]))
    iceberg.table(PRICES)  # an empty table: nothing to compact or expire, still maintained
    marks = iceberg.loader(MARKS)
    for number, day in enumerate(MARK_DAYS):
        marks().append(pa.Table.from_pydict({"day": [day], "value": [float(number)]}, schema=MARKS.schema))
    marks_before = sorted(marks().scan().to_arrow().to_pylist(), key=lambda r: r["day"])
    versions = iceberg.loader(VERSIONS)
    written = [replace_partition_if_changed(versions, version(key, value), "partition_key", key)
               for key, value in (("A", 1.0), ("B", 1.0), ("B", 2.0), ("B", 3.0), ("A", 2.0))]
    table = load()
    before = {"snapshots": {s.snapshot_id: s for s in table.snapshots()}, "positions": committed_positions(table),
              "rows": table.scan().to_arrow().num_rows, "files": len(list(table.scan().plan_files()))}
    home = root / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("run_coordinator:\n  module: dagster._core.run_coordinator\n"
                                       "  class: DefaultRunCoordinator\ntelemetry:\n  enabled: false\n")
    env = {**os.environ, "DAGSTER_HOME": str(home), "MESH_ENV": "local", "MESH_DATA_DIR": str(data),
           "MESH_SNAPSHOT_RETENTION_DAYS": "0", "MESH_SNAPSHOT_KEEP_LAST": "1",
           "MESH_COMPACTION_MIN_SMALL_FILES": "4"}
    run_id = str(uuid.uuid4())
    subprocess.run([str(Path(sys.executable).parent / "dagster"), "job", "launch", "-w", str(ROOT / "workspace.yaml"),
                    "-j", "table_maintenance", "--run-id", run_id], cwd=ROOT, env=env, check=True,
                   capture_output=True, timeout=300)
    os.environ["DAGSTER_HOME"], previous = str(home), os.environ.get("DAGSTER_HOME")
    try:
        with DagsterInstance.get() as instance:
            deadline = time.monotonic() + 300
            while not (run := instance.get_run_by_id(run_id)).is_finished:
                assert time.monotonic() < deadline, "the maintenance run did not finish"
                time.sleep(0.5)
            events = [r.event_log_entry.dagster_event for r in instance.get_records_for_run(run_id).records
                      if r.event_log_entry.dagster_event]
    finally:
        if previous is None:
            os.environ.pop("DAGSTER_HOME")
        else:
            os.environ["DAGSTER_HOME"] = previous
    assert run.status == DagsterRunStatus.SUCCESS, [e.step_failure_data.error.to_string() for e in events
                                                    if e.is_step_failure]
    yield {"iceberg": iceberg, "load": load, "before": before, "events": events, "versions": versions,
           "written": written, "marks": marks, "marks_before": marks_before}


def _materialization(events):
    [event] = [e for e in events if e.event_type == DagsterEventType.ASSET_MATERIALIZATION]
    assert event.asset_key == AssetKey(["maintenance", "iceberg", "tables"])
    return event.event_specific_data.materialization.metadata


def test_old_snapshots_are_expired_and_small_files_compacted(maintained):
    table = maintained["load"]()
    before = maintained["before"]
    assert len(table.snapshots()) < len(before["snapshots"]) / 2
    assert len(list(table.scan().plan_files())) == 1 < before["files"]
    per_table = {t["table"]: t for t in _materialization(maintained["events"])["per_table"].value}
    assert set(per_table) == {DEAD_LETTERS.identifier, PRICES.identifier, VERSIONS.identifier, MARKS.identifier}
    row = per_table[DEAD_LETTERS.identifier]
    assert row["files_before"] == before["files"] and row["files_after"] == 1
    assert row["snapshots_before"] == len(before["snapshots"]) and row["error"] is None
    assert row["snapshots_expired"] == len(before["snapshots"]) + 1 - len(table.snapshots())  # + the compaction


def test_the_snapshots_carrying_needed_positions_are_kept(maintained):
    table = maintained["load"]()
    kept = {s.snapshot_id for s in table.snapshots()}
    newest_per_partition = {}
    for snapshot_id, ranges in committed_ranges_history(table):
        for r in ranges:
            newest_per_partition[r.topic_partition] = snapshot_id
    assert set(newest_per_partition.values()) <= kept and len(newest_per_partition) == 2
    assert committed_positions(table) == maintained["before"]["positions"]
    assert table.current_snapshot().summary.additional_properties.get(POSITIONS_KEY) is None  # the compaction's
    row = {t["table"]: t for t in _materialization(maintained["events"])["per_table"].value}[DEAD_LETTERS.identifier]
    assert {str(i) for i in newest_per_partition.values()} <= set(row["needed_snapshot_ids"])
    assert {str(i) for i in newest_per_partition.values()} == set(row["position_carrier_ids"])
    assert any(why.startswith("positions") for why in row["needed_because"][str(max(
        newest_per_partition.values(), key=lambda i: table.snapshot_by_id(i).sequence_number))])


def test_the_maintenance_checks_pass_with_their_counts(maintained):
    checks = {e.event_specific_data.check_name: e.event_specific_data for e in maintained["events"]
              if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION}
    assert set(checks) == {"source_position_snapshots_kept", "row_counts_unchanged", "files_and_snapshots"}
    assert all(c.passed for c in checks.values()), {n: c.description for n, c in checks.items()}
    assert checks["source_position_snapshots_kept"].metadata["needed_snapshots"].value >= 2
    assert checks["files_and_snapshots"].metadata["files_after"].value < \
        checks["files_and_snapshots"].metadata["files_before"].value


def test_exactly_once_still_holds_after_maintenance(maintained):
    from mesh_assets.bronze.aladdin_cdc_checks import dead_letters_offset_contiguity

    load = maintained["load"]
    table = load()
    assert table.properties[EXPIRED_THROUGH_KEY]  # the contiguity was proven up to here, then expired
    contiguity = dead_letters_offset_contiguity(iceberg=maintained["iceberg"])
    assert contiguity.passed, contiguity.description
    rows = table.scan().to_arrow()
    assert rows.num_rows == maintained["before"]["rows"]
    keys = set(zip(rows["source_partition"].to_pylist(), rows["source_offset"].to_pylist(), strict=True))
    assert len(keys) == rows.num_rows
    replay = append_exactly_once(load, [OffsetRange(TOPIC, 0, 100, 120)], dead_letters(0, [101, 111]))
    assert not replay.committed and replay.rows_written == 0  # a replay of committed offsets writes nothing
    after = append_exactly_once(load, [OffsetRange(TOPIC, 0, 120, 130)], dead_letters(0, [125]))
    assert after.committed and committed_positions(load())[TopicPartition(TOPIC, 0)] == 130
    assert dead_letters_offset_contiguity(iceberg=maintained["iceberg"]).passed



def test_the_newest_version_of_every_partition_is_kept_and_a_rewrite_of_it_still_commits_nothing(maintained):
    written, versions = maintained["written"], maintained["versions"]
    kept = {s.snapshot_id for s in versions().snapshots()}
    # each replacement is a delete and an append snapshot; only the current one is kept by count
    # (MESH_SNAPSHOT_KEEP_LAST=1): B3's append stays as B's newest version, A2's delete as the ancestry between them
    assert {written[3].snapshot_id, written[4].snapshot_id} <= kept and len(kept) == 3
    assert not kept & {w.snapshot_id for w in written[:3]}
    assert partition_version(versions(), "A")[0] == written[4].snapshot_id
    assert partition_version(versions(), "B")[0] == written[3].snapshot_id
    again = replace_partition_if_changed(versions, version("B", 3.0), "partition_key", "B")
    assert not again.committed and again.snapshot_id == written[3].snapshot_id


def test_a_partitioned_table_is_compacted_partition_by_partition(maintained):
    marks = maintained["marks"]()
    files = list(marks.scan().plan_files())
    assert len(files) == 2  # ten daily files, one per month after compaction
    assert sorted(marks.scan().to_arrow().to_pylist(), key=lambda r: r["day"]) == maintained["marks_before"]
    assert {f.file.partition[0] for f in files} == {(2026 - 1970) * 12, (2026 - 1970) * 12 + 1}


def test_the_files_only_expired_snapshots_reached_are_deleted_and_no_other(maintained):
    from mesh_assets.lib.lakehouse.expired_files import reachable_files
    from tests.support.iceberg_files import files_on_disk

    deleted = {t["table"]: t["expired_files_deleted"]
               for t in _materialization(maintained["events"])["per_table"].value}
    for load in (maintained["marks"], maintained["load"]):
        table = load()
        reached = reachable_files(table.io, table.snapshots())
        assert files_on_disk(table) == reached, ".".join(table.name())  # nothing unreachable left, nothing needed gone
        assert deleted[".".join(table.name())] > 0
    # the month table kept only its compacted snapshot: its ten daily files went with the expired appends
    marks = maintained["marks"]()
    data = [p for p in files_on_disk(marks) if p.endswith(".parquet")]
    assert len(data) == 2 and {p for p in data} == {t.file.file_path for t in marks.scan().plan_files()}
    assert deleted[MARKS.identifier] >= len(MARK_DAYS) + len(MARK_DAYS)  # ten data files and ten manifest lists
