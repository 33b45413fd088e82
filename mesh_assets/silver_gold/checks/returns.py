"""Daily returns are plausible: within bounds, and computable for every fund-day after inception."""

from __future__ import annotations

from dagster import AssetCheckResult, asset_check

from mesh_assets.check_results import to_check_result
from mesh_assets.partitions import trading_day_partitions
from mesh_assets.quality import Verdict
from mesh_assets.silver_gold.checks.window import check_window, gold
from resources.warehouse import WarehouseResource

RETURNS = gold("performance", "daily_returns")
#: A daily portfolio return beyond ±25% is implausible for these long-only equity strategies.
MAX_ABS_DAILY_RETURN = 0.25
#: Statuses that mean no return could be computed although one is due.
UNCOMPUTABLE = ("previous_session_missing", "incomplete_valuation")


@asset_check(asset=RETURNS, name="returns_within_bounds", blocking=True, partitions_def=trading_day_partitions,
             description=f"Every daily return is within ±{MAX_ABS_DAILY_RETURN:.0%} and none is missing for a "
                         "reason other than inception.")
def returns_within_bounds(context, warehouse: WarehouseResource) -> AssetCheckResult:
    """Outliers beyond the bound and uncomputable returns, with samples."""
    window = check_window(context)
    rows = warehouse.query(f"""
        select as_of_date, portfolio_id, daily_return, return_status, begin_value, end_value, external_flow
        from gold.daily_returns where {window.sql('as_of_date')}
    """).to_pylist()
    outliers = [r for r in rows if r["daily_return"] is not None and abs(r["daily_return"]) > MAX_ABS_DAILY_RETURN]
    missing = [r for r in rows if r["return_status"] in UNCOMPUTABLE]
    computed = [r["daily_return"] for r in rows if r["daily_return"] is not None]
    metadata = {
        **window.as_metadata(), "fund_days": len(rows), "returns_computed": len(computed),
        "bound": MAX_ABS_DAILY_RETURN, "outliers": len(outliers), "uncomputable": len(missing),
        "min_return": min(computed) if computed else None, "max_return": max(computed) if computed else None,
    }

    def sample(r: dict) -> dict:
        return {**r, "as_of_date": str(r["as_of_date"])}

    if outliers or missing:
        worst = sorted(outliers, key=lambda r: -abs(r["daily_return"]))
        parts = []
        if outliers:
            parts.append(f"{len(outliers)} returns beyond ±{MAX_ABS_DAILY_RETURN:.0%} (worst: portfolio "
                         f"{worst[0]['portfolio_id']} {worst[0]['daily_return']:+.2%} on {worst[0]['as_of_date']})")
        if missing:
            parts.append(f"{len(missing)} returns uncomputable (e.g. portfolio {missing[0]['portfolio_id']} on "
                         f"{missing[0]['as_of_date']}: {missing[0]['return_status']})")
        return to_check_result(Verdict(False, "; ".join(parts), {
            **metadata, "outlier_samples": [sample(r) for r in worst[:10]],
            "uncomputable_samples": [sample(r) for r in missing[:10]]}))
    return to_check_result(Verdict(True, f"all {len(computed)} returns within ±{MAX_ABS_DAILY_RETURN:.0%}", metadata))


CHECKS = [returns_within_bounds]
