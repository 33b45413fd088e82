"""NAV staleness: every fund alive on a trading day has a positive NAV for it (checked per day)."""

from __future__ import annotations

from dagster import AssetCheckSpec

from mesh_assets.lib.quality import Verdict
from mesh_assets.shared.partitions import trading_day_partitions
from mesh_assets.warehouse.checks.in_step import InStepCheck
from mesh_assets.warehouse.checks.window import CheckWindow, by_day, gold
from resources.warehouse import WarehouseResource

NAV = gold("performance", "nav_history")


def every_fund_has_nav(warehouse: WarehouseResource, window: CheckWindow) -> dict[str, Verdict]:
    """Per trading day: portfolios between inception and termination, against their NAV rows."""
    rows = warehouse.query(f"""
        select d.trading_day, p.portfolio_id, n.nav
        from silver.nyse_trading_days as d
        inner join silver.portfolios as p
            on p.inception_date <= d.trading_day
            and (p.termination_date is null or p.termination_date >= d.trading_day)
        left join gold.nav_history as n on n.as_of_date = d.trading_day and n.portfolio_id = p.portfolio_id
        where {window.sql('d.trading_day')}
          and d.trading_day <= current_date
        order by d.trading_day, p.portfolio_id
    """).to_pylist()
    verdicts = {}
    for day, fund_days in by_day(rows, "trading_day").items():
        stale = [r for r in fund_days if r["nav"] is None or r["nav"] <= 0]
        metadata = {"first_day": day, "last_day": day, "expected_navs": len(fund_days), "missing_navs": len(stale)}
        if stale:
            samples = [{"trading_day": day, "portfolio_id": r["portfolio_id"],
                        "problem": "no NAV" if r["nav"] is None else f"NAV {r['nav']}"} for r in stale[:10]]
            verdicts[day] = Verdict(False, f"{len(stale)} of {len(fund_days)} funds have no NAV on {day}, e.g. "
                                           f"portfolio {stale[0]['portfolio_id']}", {**metadata, "samples": samples})
        else:
            verdicts[day] = Verdict(True, f"all {len(fund_days)} funds alive on {day} have a NAV", metadata)
    for day in window.days_without(verdicts):
        verdicts[day] = Verdict(False, f"no fund is alive on {day} (or it is not an NYSE session)",
                                {"first_day": day, "last_day": day, "expected_navs": 0})
    return verdicts


CHECKS = [InStepCheck(AssetCheckSpec(
    "every_fund_has_nav", asset=NAV, blocking=True, partitions_def=trading_day_partitions,
    description="Every portfolio alive on each trading day of the window has a positive NAV for it."),
    every_fund_has_nav)]
