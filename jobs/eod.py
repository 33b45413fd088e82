"""The end-of-day batch: vendor deliveries, reference data, silver and gold for one NYSE trading day.

Scheduled at 18:00 New York on NYSE trading days only; on weekends and exchange holidays the schedule
skips with the reason. A range of days (a backfill) runs as a single run: the bronze deliveries and
the daily dbt models each take the whole range at once.
"""

from __future__ import annotations

import datetime as dt

from dagster import (
    AssetSelection,
    RunRequest,
    ScheduleEvaluationContext,
    SkipReason,
    define_asset_job,
    schedule,
)

from jobs.bronze import DAILY_DELIVERIES
from jobs.executors import CHAIN
from mesh_assets.lib.trading_calendar import TIMEZONE, is_trading_day
from resources.settings import EOD_CRON as EOD_CRON  # the default cron, where the schedule is defined
from resources.settings import mesh_settings


def eod_cron() -> str:
    """When the schedule ticks: ``MESH_EOD_CRON`` (default :data:`EOD_CRON`; the acceptance suite ticks it
    every minute to watch the daemon launch its run)."""
    return mesh_settings().mesh_eod_cron

#: Vendor deliveries of the day, reference and Salesforce snapshots, then all of silver and gold.
EOD_SELECTION = (
    DAILY_DELIVERIES
    | AssetSelection.key_prefixes(["bronze", "reference"], ["bronze", "salesforce"])
    | AssetSelection.groups("silver", "gold")
)

eod_batch = define_asset_job(
    name="eod_batch",
    selection=EOD_SELECTION,
    description="End of day for a trading day (or a range): deliveries, reference, silver and gold with checks.",
    tags={"mesh/batch": "eod"},
    executor_def=CHAIN,  # a few short bronze loads, then two dbt steps that wait for them: a chain
)


@schedule(job=eod_batch, cron_schedule=eod_cron(), execution_timezone=TIMEZONE,
          description="18:00 New York on NYSE trading days: the end-of-day batch for that day.")
def eod_batch_schedule(context: ScheduleEvaluationContext) -> RunRequest | SkipReason:
    """Request the day's partition on a trading day; skip weekends and NYSE holidays with the reason."""
    from zoneinfo import ZoneInfo

    day: dt.date = context.scheduled_execution_time.astimezone(ZoneInfo(TIMEZONE)).date()
    if not is_trading_day(day):
        return SkipReason(f"NYSE is closed on {day.isoformat()} ({day:%A}): no end-of-day batch")
    key = day.isoformat()
    return RunRequest(run_key=f"eod-{key}", partition_key=key, tags={"mesh/trading-day": key})
