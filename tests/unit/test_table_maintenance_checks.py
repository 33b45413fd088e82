"""The maintenance checks fail, naming the table, when a needed snapshot went, rows changed or a table failed;
the weekly schedule ticks Sunday 03:00 New York and starts stopped."""

from dagster import DefaultScheduleStatus

from jobs.maintenance import table_maintenance_job, table_maintenance_schedule
from mesh_assets.maintenance.assets import (
    FILES_CHECK,
    POSITIONS_CHECK,
    ROWS_CHECK,
    TableReport,
    maintenance_verdicts,
)


def verdicts(*reports: TableReport) -> dict:
    return {result.check_name: result for result in maintenance_verdicts(list(reports))}


def healthy(name: str = "bronze.aladdin_trades") -> TableReport:
    return TableReport(name, files_before=24, files_after=1, snapshots_before=24, snapshots_after=4, rows_before=48,
                       rows_after=48, expired=list(range(21)), needed={7: ["positions: newest"], 8: ["last commit"]})


def test_a_clean_run_passes_every_check_with_its_counts():
    results = verdicts(healthy(), healthy("gips.composite_annual_statistics"))
    assert all(r.passed for r in results.values())
    assert results[POSITIONS_CHECK].metadata["needed_snapshots"].value == 4
    assert results[FILES_CHECK].metadata["files_before"].value == 48
    assert results[FILES_CHECK].metadata["files_after"].value == 2


def test_a_needed_snapshot_that_disappeared_fails_naming_the_table_and_snapshot():
    lost = healthy()
    lost.missing_needed = [7]
    result = verdicts(lost, healthy("audit.check_results"))[POSITIONS_CHECK]
    assert not result.passed and "bronze.aladdin_trades" in result.description
    assert result.metadata["missing"].value == {"bronze.aladdin_trades": ["7"]}


def test_a_changed_row_count_fails_naming_the_table_and_both_counts():
    changed = healthy()
    changed.rows_after = 47
    result = verdicts(changed)[ROWS_CHECK]
    assert not result.passed and result.metadata["changed"].value == {"bronze.aladdin_trades": [48, 47]}


def test_a_table_that_could_not_be_maintained_fails_the_checks_and_the_others_stay_reported():
    failed = TableReport("stream.trades_enriched", error="CommitFailedException: ...")
    results = verdicts(healthy(), failed)
    assert not results[FILES_CHECK].passed and not results[POSITIONS_CHECK].passed
    assert "stream.trades_enriched" in results[POSITIONS_CHECK].description
    assert set(results[FILES_CHECK].metadata["per_table"].value) == {"bronze.aladdin_trades", "stream.trades_enriched"}


def test_the_weekly_schedule_ticks_sunday_three_am_new_york_and_starts_stopped():
    assert table_maintenance_schedule.cron_schedule == "0 3 * * 0"
    assert table_maintenance_schedule.execution_timezone == "America/New_York"
    assert table_maintenance_schedule.default_status == DefaultScheduleStatus.STOPPED
    assert table_maintenance_schedule.job_name == table_maintenance_job.name == "table_maintenance"
