"""The freshness alert's cron deadlines (public ``TimeWindowPartitionsDefinition``) agree with the cron helpers
Dagster's own freshness evaluator uses (private, so only this test imports them): time zones, DST, weekends."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from dagster._utils.schedules import get_latest_completed_cron_tick, get_next_cron_tick

from sensors.freshness_assessment import latest_cron_tick, next_cron_tick

SCHEDULES = [("0 17 * * 1-5", "America/New_York"), ("*/15 * * * *", "UTC"), ("0 0 1 * *", "Europe/London"),
             ("30 2 * * *", "America/New_York"), ("0 9 * * *", "Asia/Tokyo")]


@pytest.mark.parametrize(("cron", "timezone"), SCHEDULES)
def test_latest_and_next_tick_agree_with_dagsters_evaluator(cron: str, timezone: str) -> None:
    rng = random.Random(cron)
    moments = [datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 365 * 86400)) for _ in range(40)]
    moments += [datetime(2026, 3, 8, 7, 30, tzinfo=UTC), datetime(2026, 11, 1, 6, 30, tzinfo=UTC)]  # NY DST days
    moments += [get_latest_completed_cron_tick(cron, moments[0], timezone)]  # exactly on a tick
    for now in moments:
        assert latest_cron_tick(cron, timezone, now) == get_latest_completed_cron_tick(cron, now, timezone), now
        expected_next = get_next_cron_tick(cron, now + timedelta(microseconds=1), timezone)
        assert next_cron_tick(cron, timezone, now) == expected_next, now
