"""Partitioned checks report Passed/Failed per trading day when a run is launched the way users launch it.

A fresh instance with Dagster's default run coordinator and run launcher (no ``execute_in_process``):
``bronze_sources``, then ``eod_batch`` over three trading days as one run (the run a single-run backfill
makes), both launched through GraphQL's ``launchRun`` against the code location served by a real code
server process, the run worker started by ``DefaultRunLauncher``. The check history is then read back
per partition through GraphQL (``assetCheckExecutions(partition:)``, whose status is what the UI shows)
and through the instance's event log: every checked day has its own evaluation with that day's counts,
and none is Skipped.

The three days are the firm's last three, on a fresh warehouse: the first of them has no previous session
built, so ``returns_within_bounds`` fails for that day alone (its returns are uncomputable), passes for the
two after it, and the blocking check fails the run; every other daily check passes on every day.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest
from dagster import AssetCheckKey, AssetKey, DagsterInstance

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
DAYS = 3
#: Every trading-day check of eod_batch and a count its metadata carries for that day.
DAILY_CHECKS = {
    AssetCheckKey(AssetKey(["gold", "performance", "nav_history"]), "every_fund_has_nav"): "expected_navs",
    AssetCheckKey(AssetKey(["gold", "holdings", "positions"]), "positions_reconcile_with_trades"): "positions_compared",
    AssetCheckKey(AssetKey(["gold", "holdings", "valuations"]), "every_position_valued"): "valued_positions",
    AssetCheckKey(AssetKey(["gold", "performance", "daily_returns"]), "returns_within_bounds"): "fund_days",
}

LAUNCH = """
mutation($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""

HISTORY = """
query($key: AssetKeyInput!, $check: String!, $partition: String) {
  assetCheckExecutions(assetKey: $key, checkName: $check, partition: $partition, limit: 20) {
    runId status partition
    evaluation { success metadataEntries { label ... on IntMetadataEntry { intValue } } }
  }
}
"""


@pytest.fixture
def launched(small_firm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A workspace over a fresh instance (default run launcher) and the eod_batch run it launched."""
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster._core.workspace.load_target import PythonFileTarget
    from dagster_graphql.test.utils import execute_dagster_graphql

    from mesh_assets.trading_calendar import trading_days

    home = tmp_path / "home"
    home.mkdir()
    # Dagster's default launcher (a run worker process per run); runs go straight to it, as with no daemon.
    (home / "dagster.yaml").write_text(
        "run_coordinator:\n  module: dagster._core.run_coordinator\n  class: DefaultRunCoordinator\n"
        "run_launcher:\n  module: dagster\n  class: DefaultRunLauncher\ntelemetry:\n  enabled: false\n")
    for name, value in {"MESH_ENV": "local", "MESH_DATA_DIR": str(tmp_path / "data"), "MESH_FIRM_DIR": str(small_firm),
                        "DAGSTER_HOME": str(home)}.items():
        monkeypatch.setenv(name, value)
    manifest = json.loads((small_firm / "firm.json").read_text())
    days = [d.isoformat() for d in trading_days(dt.date.fromisoformat(manifest["start_date"]),
                                                 dt.date.fromisoformat(manifest["end_date"]))][-DAYS:]
    target = PythonFileTarget(python_file=str(ROOT / "mesh_assets" / "definitions.py"), attribute="defs",
                              working_directory=str(ROOT), location_name="investment_data_mesh")
    with DagsterInstance.from_config(str(home)) as instance, WorkspaceProcessContext(instance, target) as workspace:
        def graphql(query: str, variables: dict) -> dict:
            result = execute_dagster_graphql(workspace.create_request_context(), query, variables)
            assert not result.errors, result.errors
            return result.data

        def launch(job: str, tags: dict[str, str]) -> str:
            params = {"selector": {"repositoryLocationName": "investment_data_mesh",
                                   "repositoryName": "__repository__", "jobName": job},
                      "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]}}
            answer = graphql(LAUNCH, {"params": params})["launchRun"]
            assert answer["__typename"] == "LaunchRunSuccess", answer
            run_id = answer["run"]["runId"]
            deadline = time.monotonic() + 600
            while not instance.get_run_by_id(run_id).is_finished:
                assert time.monotonic() < deadline, f"{job} run {run_id} did not finish"
                time.sleep(0.5)
            return run_id

        sources = launch("bronze_sources", {})
        assert instance.get_run_by_id(sources).status.value == "SUCCESS"
        run_id = launch("eod_batch", {"dagster/asset_partition_range_start": days[0],
                                      "dagster/asset_partition_range_end": days[-1]})
        yield {"instance": instance, "graphql": graphql, "run_id": run_id, "days": days}


def test_each_checked_day_has_its_own_verdict_in_graphql_and_the_event_log(launched):
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus
    from dagster._core.storage.event_log.base import PartitionKeyFilter

    instance, run_id, days = launched["instance"], launched["run_id"], launched["days"]
    run = instance.get_run_by_id(run_id)
    assert run.tags.get("dagster/partition") is None  # one run over a range of days
    assert run.status.value == "FAILURE"  # the blocking returns check failed on the first day
    for check_key, count_label in DAILY_CHECKS.items():
        expected = {day: True for day in days}
        if check_key.name == "returns_within_bounds":
            expected[days[0]] = False
        # Nothing of this run was recorded without a partition, and no day is left planned (Skipped).
        history = instance.event_log_storage.get_asset_check_execution_history(check_key, limit=50)
        mine = [r for r in history if r.run_id == run_id]
        assert sorted(r.partition for r in mine) == days, (check_key, [r.partition for r in mine])
        for day in days:
            [record] = instance.event_log_storage.get_asset_check_execution_history(
                check_key, limit=5, partition_filter=PartitionKeyFilter(key=day))
            status = (AssetCheckExecutionRecordStatus.SUCCEEDED if expected[day]
                      else AssetCheckExecutionRecordStatus.FAILED)
            assert record.status == status, (check_key, day, record.status)
            evaluation = record.event.asset_check_evaluation
            assert evaluation.partition == day and evaluation.passed is expected[day]
            assert evaluation.metadata["first_day"].value == evaluation.metadata["last_day"].value == day
            assert day in evaluation.metadata["reason"].value  # the reason names the day it checked
            answer = launched["graphql"](HISTORY, {"key": {"path": check_key.asset_key.path},
                                                   "check": check_key.name, "partition": day})
            [execution] = answer["assetCheckExecutions"]
            assert (execution["runId"], execution["partition"]) == (run_id, day)
            assert execution["status"] == ("SUCCEEDED" if expected[day] else "FAILED")  # what the UI shows
            counts = {e["label"]: e.get("intValue") for e in execution["evaluation"]["metadataEntries"]}
            assert counts[count_label] == evaluation.metadata[count_label].value
            if check_key.name == "every_fund_has_nav":
                assert counts["expected_navs"] > 0 and counts["missing_navs"] == 0
            if not expected[day]:
                assert counts["uncomputable"] == counts["fund_days"] > 0
                assert "previous_session_missing" in evaluation.description
