"""The NYSE calendar table is exactly exchange_calendars' XNYS, and partitions follow it."""

import datetime as dt

from mesh_assets.lib import trading_calendar
from mesh_assets.lib._nyse_closures import FIRST_DAY, LAST_DAY


def test_generated_closures_equal_exchange_calendars():
    first, last = dt.date.fromisoformat(FIRST_DAY), dt.date.fromisoformat(LAST_DAY)
    assert trading_calendar.weekday_closures() == trading_calendar.closures_from_exchange_calendars(first, last)


def test_known_holidays_and_sessions():
    assert not trading_calendar.is_trading_day(dt.date(2026, 9, 7))  # Labor Day
    assert not trading_calendar.is_trading_day(dt.date(2025, 1, 9))  # national day of mourning
    assert not trading_calendar.is_trading_day(dt.date(2026, 10, 31))  # Saturday
    assert trading_calendar.is_trading_day(dt.date(2026, 10, 30))
    assert trading_calendar.previous_trading_day(dt.date(2026, 9, 8)) == dt.date(2026, 9, 4)


def test_partitions_are_trading_days_only():
    from dagster import PartitionKeyRange

    from mesh_assets.shared.partitions import trading_day_partitions

    keys = trading_day_partitions.get_partition_keys_in_range(PartitionKeyRange("2026-08-28", "2026-09-10"))
    expected = [d.isoformat() for d in trading_calendar.trading_days(dt.date(2026, 8, 28), dt.date(2026, 9, 10))]
    assert keys == expected
    assert "2026-09-07" not in keys


def test_outside_the_generated_range_is_a_clear_error():
    import pytest

    with pytest.raises(ValueError, match="mesh calendar refresh"):
        trading_calendar.is_trading_day(dt.date(1999, 1, 4))
