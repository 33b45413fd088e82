"""Asset-check history outlives its asset: real Dagster runs, the audit sensor, a real pyiceberg SQLite catalog,
and the `mesh audit export` command."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import warnings
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from dagster import (
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    MaterializeResult,
    MetadataValue,
    PreviewWarning,
    StaticPartitionsDefinition,
    asset,
    asset_check,
    build_sensor_context,
    materialize,
)
from dagster._core.definitions.sensor_definition import SensorExecutionData
from typer.testing import CliRunner

from mesh_assets.lib.audit.records import CheckEvaluation, check_results_rows
from mesh_assets.lib.audit.tables import CHECK_RESULTS, MAX_STORAGE_ID_KEY
from mesh_assets.lib.audit.writer import append_new_evaluations
from mesh_dev.audit_cli import audit_app
from resources.iceberg import IcebergCatalogResource
from sensors.audit_sensor import audit_check_results_sensor

pytestmark = pytest.mark.integration

PRICES = AssetKey(["audit_demo", "prices"])
DAILY = AssetKey(["audit_demo", "daily"])
MONTHS = StaticPartitionsDefinition(["2026-01", "2026-02"])


@asset(key=PRICES, check_specs=[AssetCheckSpec("rows_positive", asset=PRICES),
                                AssetCheckSpec("no_outliers", asset=PRICES)])
def prices():
    """A tiny asset with two checks: one passes, one fails as a warning."""
    yield MaterializeResult(metadata={"rows": 3})
    yield AssetCheckResult(check_name="rows_positive", passed=True, description="3 rows",
                           metadata={"rows": 3, "sample": MetadataValue.json({"x": [1, 2]}), "ratio": float("nan")})
    yield AssetCheckResult(check_name="no_outliers", passed=False, severity=AssetCheckSeverity.WARN,
                           description="1 outlier", metadata={"outliers": 1, "upstream": MetadataValue.asset(DAILY),
                                                              "runbook": MetadataValue.url("https://wiki/outliers")})


@asset(key=DAILY, partitions_def=MONTHS)
def daily() -> int:
    """A partitioned asset, for a partitioned check."""
    return 1


def _daily_complete(context) -> AssetCheckResult:
    """Passes, naming its partition."""
    return AssetCheckResult(passed=True, metadata={"month": context.partition_key})


with warnings.catch_warnings():  # partitioned asset checks are a preview feature in Dagster 1.13
    warnings.simplefilter("ignore", PreviewWarning)
    daily_complete = asset_check(asset=daily, name="daily_complete", partitions_def=MONTHS, blocking=True)(
        _daily_complete
    )


@pytest.fixture
def iceberg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> IcebergCatalogResource:
    """The catalog `MESH_ENV=local` uses under a temporary MESH_DATA_DIR (the export command finds it too)."""
    data = tmp_path / "data"
    monkeypatch.setenv("MESH_ENV", "local")
    monkeypatch.setenv("MESH_DATA_DIR", str(data))
    lakehouse = data / "lakehouse"
    return IcebergCatalogResource(catalog_type="sql", uri=f"sqlite:///{lakehouse / 'catalog.db'}",
                                  warehouse=f"file://{lakehouse / 'warehouse'}")


def tick(instance: DagsterInstance, iceberg: IcebergCatalogResource, cursor: str | None) -> SensorExecutionData:
    """One evaluation of the audit sensor, as the daemon would run it."""
    with build_sensor_context(instance=instance, cursor=cursor, resources={"iceberg": iceberg}) as context:
        return audit_check_results_sensor.evaluate_tick(context)


def archived(iceberg: IcebergCatalogResource) -> pa.Table:
    """Every row of audit.check_results, in storage-id order."""
    return iceberg.table(CHECK_RESULTS).scan().to_arrow().sort_by("event_storage_id")


def snapshot_count(iceberg: IcebergCatalogResource) -> int:
    return len(iceberg.table(CHECK_RESULTS).snapshots())


def event_log_evaluations(instance: DagsterInstance) -> dict[int, object]:
    """Asset-check evaluations the Dagster event log still holds, by storage id."""
    return dict(instance.event_log_storage.get_logs_for_all_runs_by_log_id(
        after_cursor=-1, dagster_event_type=DagsterEventType.ASSET_CHECK_EVALUATION))


def check_history(instance: DagsterInstance, key: AssetCheckKey) -> int:
    """How many executions of a check Dagster reports (what the UI's check history shows)."""
    return len(instance.event_log_storage.get_asset_check_execution_history(key, limit=1000))


def test_check_history_is_archived_exactly_once_and_outlives_the_asset(
    instance: DagsterInstance, iceberg: IcebergCatalogResource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = [materialize([prices], instance=instance) for _ in range(2)]
    runs.append(materialize([daily, daily_complete], instance=instance, partition_key="2026-02"))
    assert all(r.success for r in runs)
    in_event_log = event_log_evaluations(instance)
    assert len(in_event_log) == 5

    # First tick, in batches of 2: three commits, the cursor is the last storage id archived.
    monkeypatch.setenv("MESH_AUDIT_BATCH_SIZE", "2")
    first = tick(instance, iceberg, None)
    assert first.run_requests == []
    assert first.cursor == str(max(in_event_log))
    assert "archived 5 asset check evaluation(s)" in first.skip_message and "3 commit(s)" in first.skip_message
    rows = archived(iceberg)
    assert rows["event_storage_id"].to_pylist() == sorted(in_event_log)
    assert snapshot_count(iceberg) == 3
    summary = iceberg.table(CHECK_RESULTS).current_snapshot().summary.additional_properties
    assert summary[MAX_STORAGE_ID_KEY] == str(max(in_event_log))

    by_check = {}
    for row in rows.to_pylist():
        by_check.setdefault(row["check_name"], []).append(row)
    assert {name: len(found) for name, found in by_check.items()} == {
        "rows_positive": 2, "no_outliers": 2, "daily_complete": 1}
    positive, outliers, complete = (by_check[name][0] for name in ("rows_positive", "no_outliers", "daily_complete"))
    assert (positive["passed"], positive["severity"], positive["description"]) == (True, "ERROR", "3 rows")
    assert (outliers["passed"], outliers["severity"], outliers["description"]) == (False, "WARN", "1 outlier")
    assert positive["asset_key"] == "audit_demo/prices" and positive["partition_key"] is None
    assert (complete["asset_key"], complete["partition_key"], complete["blocking"]) == ("audit_demo/daily", "2026-02",
                                                                                         True)
    assert positive["metadata_json"] == '{"ratio":"NaN","rows":3,"sample":{"x":[1,2]}}'
    assert json.loads(outliers["metadata_json"]) == {"outliers": 1, "upstream": "audit_demo/daily",
                                                      "runbook": "https://wiki/outliers"}
    assert json.loads(complete["metadata_json"]) == {"month": "2026-02"}
    assert {r["run_id"] for r in rows.to_pylist()} == {r.run_id for r in runs}
    assert {r["job_name"] for r in rows.to_pylist()} == {"__ephemeral_asset_job__"}
    assert positive["target_materialization_run_id"] == positive["run_id"]
    assert positive["target_materialization_storage_id"] < positive["event_storage_id"]
    now = dt.datetime.now(dt.UTC)
    assert all(now - dt.timedelta(minutes=10) < r["evaluated_at"] <= now for r in rows.to_pylist())

    # Nothing new: the sensor skips, commits nothing, keeps its cursor.
    second = tick(instance, iceberg, first.cursor)
    assert second.cursor == first.cursor and "no asset check evaluation" in second.skip_message
    assert archived(iceberg).num_rows == 5 and snapshot_count(iceberg) == 3

    # New evaluations are committed, then the tick "dies" before Dagster saves its cursor: the next
    # tick starts from the old cursor, reads the same two evaluations again and appends none.
    monkeypatch.setenv("MESH_AUDIT_BATCH_SIZE", "1000")
    runs.append(materialize([prices], instance=instance))
    committed = tick(instance, iceberg, first.cursor)
    assert "archived 2 asset check evaluation(s)" in committed.skip_message
    assert archived(iceberg).num_rows == 7 and snapshot_count(iceberg) == 4
    replayed = tick(instance, iceberg, first.cursor)
    assert "archived 0 asset check evaluation(s)" in replayed.skip_message
    assert "(2 already there)" in replayed.skip_message and "0 commit(s)" in replayed.skip_message
    assert replayed.cursor == committed.cursor
    from_scratch = tick(instance, iceberg, None)  # a reset cursor re-reads everything, appends nothing
    assert "archived 0" in from_scratch.skip_message and "(7 already there)" in from_scratch.skip_message
    rows = archived(iceberg)
    assert rows.num_rows == 7 and snapshot_count(iceberg) == 4
    assert rows["event_storage_id"].to_pylist() == sorted(event_log_evaluations(instance))

    # Wipe the asset: Dagster forgets its check history (the evaluation events stay in the run logs);
    # delete its runs: the events are gone too. The audit table keeps every row.
    checks = [AssetCheckKey(PRICES, "rows_positive"), AssetCheckKey(PRICES, "no_outliers")]
    assert [check_history(instance, key) for key in checks] == [3, 3]
    instance.wipe_assets([PRICES])
    assert [check_history(instance, key) for key in checks] == [0, 0]
    assert instance.event_log_storage.get_latest_asset_check_execution_by_key(checks) == {}
    assert not instance.has_asset_key(PRICES)
    for result in runs:
        if PRICES in {m.asset_key for m in result.get_asset_materialization_events()}:
            instance.delete_run(result.run_id)
    assert len(event_log_evaluations(instance)) == 1  # only the daily check's run is left
    after_wipe = tick(instance, iceberg, committed.cursor)
    assert "no asset check evaluation" in after_wipe.skip_message
    rows = archived(iceberg)
    assert rows.num_rows == 7
    assert rows.filter(pa.compute.equal(rows["asset_key"], "audit_demo/prices")).num_rows == 6

    # Evaluations archived in earlier years (straight through the writer, as a years-old table holds
    # them), placed on the edges of a month, to show the export's date filter.
    edge_rows = check_results_rows([
        CheckEvaluation(event_storage_id=1, run_id="run-2025-03", asset_key="audit_demo/prices",
                        check_name="rows_positive", passed=True, severity="ERROR",
                        evaluated_at=dt.datetime(2025, 3, 31, 23, 59, 59, 999_999, tzinfo=dt.UTC)),
        CheckEvaluation(event_storage_id=2, run_id="run-2025-04", asset_key="audit_demo/prices",
                        check_name="rows_positive", passed=False, severity="ERROR",
                        evaluated_at=dt.datetime(2025, 4, 1, tzinfo=dt.UTC)),
    ], ingested_at=dt.datetime(2025, 4, 1, 1, tzinfo=dt.UTC))
    assert append_new_evaluations(iceberg.loader(CHECK_RESULTS), edge_rows).appended == 2
    days = sorted({t.date() for t in rows["evaluated_at"].to_pylist()})
    today_first, today_last = days[0], days[-1]  # the runs above (one day, two if the test crossed midnight)

    runner = CliRunner()
    names = itertools.count()

    def export(*args: str) -> tuple[str, Path]:
        out = tmp_path / "exports" / f"extract-{next(names)}"
        result = runner.invoke(audit_app, ["export", *args, "--out", str(out)])
        assert result.exit_code == 0, result.output
        return result.output, out

    output, csv_path = export("--from", "2025-01-01", "--to", today_last.isoformat(), "--format", "csv")
    assert output.startswith("9 check evaluations from 2025-01-01")
    csv_rows = pacsv.read_csv(csv_path)
    assert csv_rows.num_rows == 9 and csv_rows.column_names == CHECK_RESULTS.column_names
    assert sorted(csv_rows["event_storage_id"].to_pylist()) == sorted([1, 2, *rows["event_storage_id"].to_pylist()])

    output, parquet_path = export("--from", today_first.isoformat(), "--to", today_last.isoformat(),
                                  "--format", "parquet", "--asset", "audit_demo/prices")
    assert output.startswith("6 check evaluations")
    extract = pq.read_table(parquet_path)
    assert extract.num_rows == 6 and set(extract["check_name"].to_pylist()) == {"rows_positive", "no_outliers"}
    assert extract["evaluated_at"].to_pylist() == sorted(extract["evaluated_at"].to_pylist())

    output, march = export("--from", "2025-03-01", "--to", "2025-03-31", "--format", "parquet")
    assert output.startswith("1 check evaluations") and pq.read_table(march)["run_id"].to_pylist() == ["run-2025-03"]
    output, april = export("--from", "2025-04-01", "--to", "2025-04-01", "--format", "csv")
    assert output.startswith("1 check evaluations") and pacsv.read_csv(april)["run_id"].to_pylist() == ["run-2025-04"]
    output, _ = export("--from", "2025-04-02", "--to", "2025-12-31", "--format", "csv")
    assert output.startswith("0 check evaluations")

    backwards = ["export", "--from", "2025-02-01", "--to", "2025-01-01", "--out", str(tmp_path / "x")]
    assert runner.invoke(audit_app, backwards).exit_code == 2  # a usage error, nothing written
    assert not (tmp_path / "x").exists()


def test_export_without_an_audit_table_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MESH_ENV", "local")
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path / "empty"))
    result = CliRunner().invoke(audit_app, ["export", "--from", "2026-01-01", "--to", "2026-01-31",
                                            "--out", str(tmp_path / "out.csv")])
    assert result.exit_code == 1
    assert "audit.check_results does not exist yet" in result.output
    assert not (tmp_path / "out.csv").exists()
