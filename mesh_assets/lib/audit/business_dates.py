"""Which business days an audit row is about: read from its partition key (no Dagster import).

A check evaluated on a daily partition checked that trading day; one on a composite-year checked that
year; one over a run's range (``2026-09-01...2026-09-30``) checked those days. Only a row whose
partition names no date (a Kafka offset range, an unpartitioned check) falls back to the day it ran.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re

#: Dagster writes a partition range as ``start...end`` and a multi-dimensional key as ``a|b``.
RANGE_SEPARATOR = "..."
DIMENSION_SEPARATOR = "|"
_DAY = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")


def _period(value: str) -> tuple[dt.date, dt.date] | None:
    """First and last day a single key (or one dimension of it) names, if it names a date."""
    value = value.strip()
    try:
        if match := _DAY.match(value):
            day = dt.date(*map(int, match.groups()))
            return day, day
        if match := _MONTH.match(value):
            year, month = map(int, match.groups())
            return dt.date(year, month, 1), dt.date(year, month, calendar.monthrange(year, month)[1])
        if match := _YEAR.match(value):
            year = int(match.group(1))
            return dt.date(year, 1, 1), dt.date(year, 12, 31)
    except ValueError:  # 2026-13-01 and the like: not a date
        return None
    return None


def business_period(partition_key: str | None) -> tuple[dt.date, dt.date] | None:
    """The first and last business day ``partition_key`` covers, or ``None`` if it names no date.

    ``2026-09-01`` is that day, ``2026-09`` that month, ``COMP-01|2026`` (any dimension) that year,
    ``2026-09-01...2026-09-30`` the range.
    """
    if not partition_key:
        return None
    if RANGE_SEPARATOR in partition_key:
        start, _, end = partition_key.partition(RANGE_SEPARATOR)
        first, last = business_period(start), business_period(end)
        return (first[0], last[1]) if first and last else None
    for dimension in partition_key.split(DIMENSION_SEPARATOR):
        if period := _period(dimension):
            return period
    return None


def overlaps(period: tuple[dt.date, dt.date], first: dt.date, last: dt.date) -> bool:
    """Whether ``period`` shares at least one day with ``first..last``."""
    return period[0] <= last and period[1] >= first
