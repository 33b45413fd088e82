"""Daily returns are plausible: within bounds, and computable for every fund-day after inception (per day)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dagster import AssetCheckSpec

from mesh_assets.lib.quality import Verdict
from mesh_assets.shared.partitions import trading_day_partitions
from mesh_assets.warehouse.checks.in_step import InStepCheck
from mesh_assets.warehouse.checks.window import CheckWindow, by_day, gold
from resources.warehouse import WarehouseResource

RETURNS = gold("performance", "daily_returns")
#: A daily portfolio return beyond ±25% is implausible for these long-only equity strategies.
MAX_ABS_DAILY_RETURN = 0.25
#: Statuses that mean no return could be computed although one is due.
UNCOMPUTABLE = ("previous_session_missing", "incomplete_valuation")


def _sample(row: Mapping[str, Any]) -> dict:
    return {**row, "as_of_date": str(row["as_of_date"])}


def day_verdict(day: str, rows: list[Mapping[str, Any]]) -> Verdict:
    """Outliers beyond the bound and uncomputable returns of one day's fund-days, with samples."""
    outliers = [r for r in rows if r["daily_return"] is not None and abs(r["daily_return"]) > MAX_ABS_DAILY_RETURN]
    missing = [r for r in rows if r["return_status"] in UNCOMPUTABLE]
    computed = [r["daily_return"] for r in rows if r["daily_return"] is not None]
    metadata = {
        "first_day": day, "last_day": day, "fund_days": len(rows), "returns_computed": len(computed),
        "bound": MAX_ABS_DAILY_RETURN, "outliers": len(outliers), "uncomputable": len(missing),
        "min_return": min(computed) if computed else None, "max_return": max(computed) if computed else None,
    }
    if outliers or missing:
        worst = sorted(outliers, key=lambda r: -abs(r["daily_return"]))
        parts = []
        if outliers:
            parts.append(f"{len(outliers)} returns beyond ±{MAX_ABS_DAILY_RETURN:.0%} on {day} (worst: portfolio "
                         f"{worst[0]['portfolio_id']} {worst[0]['daily_return']:+.2%})")
        if missing:
            parts.append(f"{len(missing)} returns uncomputable on {day} (e.g. portfolio {missing[0]['portfolio_id']}: "
                         f"{missing[0]['return_status']})")
        return Verdict(False, "; ".join(parts), {
            **metadata, "outlier_samples": [_sample(r) for r in worst[:10]],
            "uncomputable_samples": [_sample(r) for r in missing[:10]]})
    return Verdict(True, f"all {len(computed)} returns of {day} within ±{MAX_ABS_DAILY_RETURN:.0%}", metadata)


def returns_within_bounds(warehouse: WarehouseResource, window: CheckWindow) -> dict[str, Verdict]:
    """A verdict per day of the window (a day without fund-days passes with ``fund_days`` 0)."""
    rows = warehouse.query(f"""
        select as_of_date, portfolio_id, daily_return, return_status, begin_value, end_value, external_flow
        from gold.daily_returns where {window.sql('as_of_date')}
        order by as_of_date, portfolio_id
    """).to_pylist()
    verdicts = {day: day_verdict(day, day_rows) for day, day_rows in by_day(rows, "as_of_date").items()}
    for day in window.days_without(verdicts):
        verdicts[day] = day_verdict(day, [])
    return verdicts


CHECKS = [InStepCheck(AssetCheckSpec(
    "returns_within_bounds", asset=RETURNS, blocking=True, partitions_def=trading_day_partitions,
    description=f"Every daily return is within ±{MAX_ABS_DAILY_RETURN:.0%} and none is missing for a reason "
                "other than inception."), returns_within_bounds)]
