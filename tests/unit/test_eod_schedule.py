"""The end-of-day schedule fires at 18:00 New York on NYSE trading days and skips holidays and weekends."""

import datetime as dt
from zoneinfo import ZoneInfo

from dagster import RunRequest, SkipReason, build_schedule_context

from jobs.eod import EOD_CRON, eod_batch_schedule

NEW_YORK = ZoneInfo("America/New_York")


def evaluate(day: dt.date):
    moment = dt.datetime(day.year, day.month, day.day, 18, 0, tzinfo=NEW_YORK)
    return eod_batch_schedule(build_schedule_context(scheduled_execution_time=moment))


def test_a_trading_day_requests_its_own_partition():
    request = evaluate(dt.date(2026, 11, 23))  # a Monday session
    assert isinstance(request, RunRequest)
    assert request.partition_key == "2026-11-23"
    assert request.run_key == "eod-2026-11-23"


def test_thanksgiving_is_skipped_with_the_reason():
    skip = evaluate(dt.date(2026, 11, 26))
    assert isinstance(skip, SkipReason)
    assert "2026-11-26" in skip.skip_message and "closed" in skip.skip_message


def test_the_day_after_a_holiday_runs_and_weekends_never_tick():
    assert isinstance(evaluate(dt.date(2026, 11, 27)), RunRequest)  # Black Friday: a (half-day) session
    assert isinstance(evaluate(dt.date(2026, 11, 28)), SkipReason)  # Saturday, if ever evaluated
    assert EOD_CRON == "0 18 * * 1-5" and eod_batch_schedule.execution_timezone == "America/New_York"


def test_the_schedule_targets_the_partition_of_the_job():
    from mesh_assets.definitions import build_definitions
    from mesh_assets.shared.partitions import trading_day_partitions

    assert build_definitions().resolve_job_def("eod_batch").partitions_def == trading_day_partitions
    keys = trading_day_partitions.get_partition_keys(current_time=dt.datetime(2026, 11, 28, tzinfo=NEW_YORK))
    assert {"2026-11-23", "2026-11-25", "2026-11-27"} <= set(keys)
    assert "2026-11-26" not in keys and "2026-11-28" not in keys
