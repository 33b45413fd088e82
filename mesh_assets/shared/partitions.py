"""Partitions on the NYSE calendar: one partition per trading day, holidays and weekends excluded."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from dagster import DailyPartitionsDefinition

from mesh_assets.lib.trading_calendar import TIMEZONE, weekday_closures

#: First partition: the earliest history the platform keeps (the large synthetic firm's 5 years fit).
FIRST_TRADING_DAY = dt.date(2021, 1, 4)

_ZONE = ZoneInfo(TIMEZONE)

#: Daily partitions keyed ``YYYY-MM-DD`` in New York time, one per NYSE session. ``end_offset=1``
#: makes today's session a partition during the day, so the 18:00 end-of-day batch can target it.
trading_day_partitions = DailyPartitionsDefinition(
    start_date=FIRST_TRADING_DAY.isoformat(),
    timezone=TIMEZONE,
    end_offset=1,
    exclusions=[
        "0 0 * * 6",
        "0 0 * * 0",
        *[dt.datetime(d.year, d.month, d.day, tzinfo=_ZONE) for d in weekday_closures() if d >= FIRST_TRADING_DAY],
    ],
)
