"""The scheduler's view: the end-of-day schedule asks for the day on a trading day and skips a holiday with its
reason, a backfill of days is one run, and the daemon itself launches the schedule's run."""

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tests.acceptance.graphql import repository, wait_for

# the first test of the session also waits for the shared world (tests/acceptance/conftest.py)
pytestmark = [pytest.mark.integration, pytest.mark.acceptance, pytest.mark.timeout(1800)]

SCHEDULE = "eod_batch_schedule"
NEW_YORK = ZoneInfo("America/New_York")
DRY_RUN = """mutation($selector: ScheduleSelector!, $timestamp: Float) {
  scheduleDryRun(selectorData: $selector, timestamp: $timestamp) { __typename
    ... on DryRunInstigationTick { evaluationResult { skipReason error { message }
      runRequests { runKey tags { key value } } } } ... on PythonError { message } } }"""
START = """mutation($selector: ScheduleSelector!) { startSchedule(scheduleSelector: $selector) { __typename
  ... on ScheduleStateResult { scheduleState { status } } ... on PythonError { message } } }"""
STOP = """mutation($selector: ScheduleSelector!) { resetSchedule(scheduleSelector: $selector) { __typename } }"""
TICKS = """query($selector: ScheduleSelector!) { scheduleOrError(scheduleSelector: $selector) { __typename
  ... on Schedule { scheduleState { status ticks(limit: 10) { status timestamp runIds skipReason
    error { message } } } } } }"""
TERMINATE = """mutation($runId: String!) { terminateRun(runId: $runId) { __typename } }"""


def _selector() -> dict:
    return {**repository(), "scheduleName": SCHEDULE}


def _dry_run(mesh, day: dt.date) -> dict:
    at = dt.datetime.combine(day, dt.time(18), tzinfo=NEW_YORK).timestamp()
    tick = mesh["gql"](DRY_RUN, selector=_selector(), timestamp=at)["scheduleDryRun"]
    assert tick["__typename"] == "DryRunInstigationTick", tick
    result = tick["evaluationResult"]
    assert result["error"] is None, result["error"]
    return result


def test_the_schedule_requests_the_trading_day_and_skips_a_holiday_with_its_reason(mesh):
    day = dt.date.fromisoformat(mesh["days"][len(mesh["days"]) // 2])
    [request] = _dry_run(mesh, day)["runRequests"]
    tags = {t["key"]: t["value"] for t in request["tags"]}
    assert tags["dagster/partition"] == day.isoformat() and request["runKey"] == f"eod-{day.isoformat()}"
    labor_day = dt.date(2026, 9, 7)  # a Monday inside the small firm's history; NYSE is closed
    assert mesh["days"][0] < labor_day.isoformat() < mesh["days"][-1] and labor_day.isoformat() not in mesh["days"]
    skipped = _dry_run(mesh, labor_day)
    assert not skipped["runRequests"]
    assert "2026-09-07" in skipped["skipReason"] and "closed" in skipped["skipReason"]


def test_a_backfill_of_days_runs_as_one_run(mesh):
    backfill = mesh["backfill"]
    assert len(mesh["days"]) >= 3
    [run] = backfill["runs"]  # the whole range of trading days, one run (single-run backfill policy)
    tags = {t["key"]: t["value"] for t in run["tags"]}
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (
        mesh["days"][0], mesh["days"][-1])
    assert run["status"] == "SUCCESS", mesh["gql"].failure_message(run["runId"])


def test_the_daemon_launches_the_schedules_run(mesh):
    gql = mesh["gql"]
    started = gql(START, selector=_selector())["startSchedule"]
    assert started["__typename"] == "ScheduleStateResult" and started["scheduleState"]["status"] == "RUNNING"
    try:
        # MESH_EOD_CRON ticks it every minute in this world: the daemon's next tick requests today (New York)
        def ticked():
            state = gql(TICKS, selector=_selector())["scheduleOrError"]["scheduleState"]
            return next((t for t in state["ticks"] if t["status"] in ("SUCCESS", "SKIPPED", "FAILURE")), None)

        tick = wait_for(ticked, 150, "the schedule's first tick", interval=3)
        assert tick["status"] != "FAILURE", tick["error"]
        day = dt.datetime.fromtimestamp(tick["timestamp"], NEW_YORK).date()
        if tick["status"] == "SKIPPED":  # the suite ran on a weekend or an NYSE holiday
            assert day.isoformat() in tick["skipReason"] and "closed" in tick["skipReason"]
            return
        [run_id] = tick["runIds"]
        run = gql.run(run_id)
        assert run["jobName"] == "eod_batch" and run["tags"]["dagster/schedule_name"] == SCHEDULE
        assert run["tags"]["dagster/partition"] == day.isoformat()
        # queued by the schedule, launched by the daemon's run coordinator
        wait_for(lambda: gql.run(run_id)["status"] not in ("QUEUED", "NOT_STARTED"), 120, "the run to be launched")
        gql(TERMINATE, runId=run_id)  # today is outside the small firm's history: no need to build it
    finally:
        gql(STOP, selector=_selector())
