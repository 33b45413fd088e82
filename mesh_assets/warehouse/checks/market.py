"""Market data checks: trade-vs-close discrepancies (warn) and robust outliers in closes (warn)."""

from __future__ import annotations

from dagster import AssetCheckSpec

from mesh_assets.lib.quality import Verdict
from mesh_assets.lib.quality.robust_outliers import mad_outliers
from mesh_assets.warehouse.checks.in_step import InStepCheck
from mesh_assets.warehouse.checks.window import CheckWindow, gold, silver
from resources.warehouse import WarehouseResource

DISCREPANCIES = gold("market", "price_discrepancies")
PRICES = silver("market", "prices")
#: Robust z-score of a daily log return above which a close is an outlier.
MAD_THRESHOLD = 8.0


def price_discrepancy_count(warehouse: WarehouseResource, _window: CheckWindow) -> Verdict:
    """Count, amount at stake and samples of trade-vs-close discrepancies."""
    rows = warehouse.query("""
        select trade_id, portfolio_id, security_id, trade_date, trade_price, bloomberg_close, relative_difference,
               amount_at_stake, threshold
        from gold.price_discrepancies order by abs(relative_difference) desc
    """).to_pylist()
    samples = [{**r, "trade_date": str(r["trade_date"])} for r in rows[:10]]
    metadata = {"discrepancies": len(rows), "threshold": rows[0]["threshold"] if rows else 0.02,
                "amount_at_stake": sum(abs(r["amount_at_stake"]) for r in rows), "samples": samples}
    if rows:
        first = rows[0]
        return Verdict(
            False, f"{len(rows)} trades priced beyond the threshold from the Bloomberg close; largest: "
                   f"{first['trade_id']} ({first['security_id']} on {first['trade_date']}) "
                   f"{first['relative_difference']:+.2%}", metadata, warn_only=True)
    return Verdict(True, "no trade priced beyond the threshold from its close", metadata, warn_only=True)


def close_outliers_mad(warehouse: WarehouseResource, _window: CheckWindow) -> Verdict:
    """Per security, MAD z-scores of daily log returns; samples of the outliers."""
    import numpy as np
    import pyarrow.compute as pc

    table = warehouse.read_table("silver.prices", ["security_id", "price_date", "px_last"])
    prices = (table.filter(pc.greater(table["px_last"], 0))
              .sort_by([("security_id", "ascending"), ("price_date", "ascending")]).to_pandas())
    found = []
    for security_id, closes in prices.groupby("security_id", sort=True):
        px = closes["px_last"].to_numpy(dtype=float)
        days = closes["price_date"].astype(str).to_numpy()
        returns = np.log(px[1:] / px[:-1])
        for outlier in mad_outliers(returns, MAD_THRESHOLD):
            i = outlier.index + 1
            found.append({"security_id": security_id, "price_date": days[i], "px_last": float(px[i]),
                          "previous_close": float(px[i - 1]), "log_return": round(outlier.value, 6),
                          "robust_z": round(outlier.robust_z, 2)})
    found.sort(key=lambda r: -r["robust_z"])
    metadata = {"securities": prices["security_id"].nunique(), "closes": len(prices),
                "threshold_robust_z": MAD_THRESHOLD, "outliers": len(found), "samples": found[:10]}
    if found:
        top = found[0]
        return Verdict(
            False, f"{len(found)} closes are robust outliers; largest: {top['security_id']} on {top['price_date']} "
                   f"(z={top['robust_z']})", metadata, warn_only=True)
    return Verdict(True, f"no outlier among {len(prices)} closes", metadata, warn_only=True)


CHECKS = [
    InStepCheck(AssetCheckSpec(
        "price_discrepancy_count", asset=DISCREPANCIES,
        description="Warns when trades were booked more than 2% away from the Bloomberg close."),
        price_discrepancy_count),
    InStepCheck(AssetCheckSpec(
        "close_outliers_mad", asset=PRICES,
        description=f"Warns on closes whose daily log return has a robust (MAD) z-score above {MAD_THRESHOLD:g} "
                    "within its security's history."), close_outliers_mad),
]
