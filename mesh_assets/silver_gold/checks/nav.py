"""NAV staleness: every fund alive on a trading day has a positive NAV for it."""

from __future__ import annotations

from dagster import AssetCheckResult, asset_check

from mesh_assets.check_results import to_check_result
from mesh_assets.partitions import trading_day_partitions
from mesh_assets.quality import Verdict
from mesh_assets.silver_gold.checks.window import check_window, gold
from resources.warehouse import WarehouseResource

NAV = gold("performance", "nav_history")


@asset_check(asset=NAV, name="every_fund_has_nav", blocking=True, partitions_def=trading_day_partitions,
             description="Every portfolio alive on each trading day of the window has a positive NAV for it.")
def every_fund_has_nav(context, warehouse: WarehouseResource) -> AssetCheckResult:
    """Portfolios between inception and termination × NYSE sessions of the window, against NAV rows."""
    window = check_window(context)
    rows = warehouse.query(f"""
        select d.trading_day, p.portfolio_id, n.nav
        from silver.nyse_trading_days as d
        inner join silver.portfolios as p
            on p.inception_date <= d.trading_day
            and (p.termination_date is null or p.termination_date >= d.trading_day)
        left join gold.nav_history as n on n.as_of_date = d.trading_day and n.portfolio_id = p.portfolio_id
        where {window.sql('d.trading_day')}
          and d.trading_day <= current_date
    """).to_pylist()
    stale = [r for r in rows if r["nav"] is None or r["nav"] <= 0]
    samples = [{"trading_day": str(r["trading_day"]), "portfolio_id": r["portfolio_id"],
                "problem": "no NAV" if r["nav"] is None else f"NAV {r['nav']}"} for r in stale[:10]]
    expected_days = sorted({str(r["trading_day"]) for r in rows})
    if not rows:
        verdict = Verdict(False, f"no trading day of {window.start}..{window.end} has any fund alive",
                          {**window.as_metadata(), "expected_navs": 0})
    elif stale:
        verdict = Verdict(False, f"{len(stale)} of {len(rows)} fund-days have no NAV, e.g. portfolio "
                                 f"{stale[0]['portfolio_id']} on {stale[0]['trading_day']}",
                          {**window.as_metadata(), "expected_navs": len(rows), "missing_navs": len(stale),
                           "samples": samples})
    else:
        verdict = Verdict(True, f"all {len(rows)} fund-days over {len(expected_days)} trading days have a NAV",
                          {**window.as_metadata(), "expected_navs": len(rows), "missing_navs": 0})
    return to_check_result(verdict)


CHECKS = [every_fund_has_nav]
