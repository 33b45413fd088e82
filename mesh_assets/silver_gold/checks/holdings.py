"""Positions reconcile with trades; every position is valued (or quarantined with its reason)."""

from __future__ import annotations

from dagster import AssetCheckResult, asset_check

from mesh_assets.check_results import to_check_result
from mesh_assets.partitions import trading_day_partitions
from mesh_assets.quality import Verdict
from mesh_assets.silver_gold.checks.window import check_window, gold
from resources.warehouse import WarehouseResource

POSITIONS = gold("holdings", "positions")
VALUATIONS = gold("holdings", "valuations")
TOLERANCE = 1e-6


@asset_check(asset=POSITIONS, name="positions_reconcile_with_trades", blocking=True,
             partitions_def=trading_day_partitions,
             description="Holdings on the window's last built day equal the sum of current trades (and cash "
                         "equals flows plus sales less purchases) up to that day.")
def positions_reconcile_with_trades(context, warehouse: WarehouseResource) -> AssetCheckResult:
    """Recompute holdings independently from silver trades and flows and compare with gold.positions."""
    window = check_window(context)
    rows = warehouse.query(f"""
        with day as (
            select max(as_of_date) as as_of_date from gold.positions where {window.sql('as_of_date')}
        ),
        expected as (
            select portfolio_id, security_id, sum(signed_quantity) as quantity
            from silver.trades where trade_date <= (select as_of_date from day)
            group by portfolio_id, security_id
            union all
            select portfolio_id, 'CASH' as security_id, sum(amount) as quantity
            from (
                select portfolio_id, -signed_quantity * price as amount
                from silver.trades where trade_date <= (select as_of_date from day)
                union all
                select portfolio_id, amount from silver.cash_flows where flow_date <= (select as_of_date from day)
            ) as movements
            group by portfolio_id
        ),
        actual as (
            select portfolio_id, security_id, quantity from gold.positions
            where as_of_date = (select as_of_date from day)
        )
        select
            (select as_of_date from day) as as_of_date,
            coalesce(e.portfolio_id, a.portfolio_id) as portfolio_id,
            coalesce(e.security_id, a.security_id) as security_id,
            coalesce(e.quantity, 0) as expected_quantity,
            coalesce(a.quantity, 0) as position_quantity
        from expected as e
        full outer join actual as a on a.portfolio_id = e.portfolio_id and a.security_id = e.security_id
    """).to_pylist()
    as_of = next((str(r["as_of_date"]) for r in rows if r["as_of_date"] is not None), None)
    if as_of is None:
        return to_check_result(Verdict(False, f"gold.positions has no day in {window.start}..{window.end}",
                                       window.as_metadata()))
    # silver quantities are exact decimals, gold may hold doubles: compared as floats within the tolerance
    breaks = [r for r in rows if abs(float(r["expected_quantity"]) - float(r["position_quantity"]))
              > TOLERANCE * max(1.0, abs(float(r["expected_quantity"])))]
    metadata = {**window.as_metadata(), "reconciled_day": as_of, "positions_compared": len(rows),
                "breaks": len(breaks), "relative_tolerance": TOLERANCE}
    if breaks:
        first = breaks[0]
        samples = [{k: (str(v) if k == "as_of_date" else v) for k, v in r.items()} for r in breaks[:10]]
        return to_check_result(Verdict(
            False, f"{len(breaks)} positions on {as_of} differ from trades, e.g. portfolio {first['portfolio_id']} "
                   f"{first['security_id']}: position {first['position_quantity']} vs trades "
                   f"{first['expected_quantity']}; re-materialize the affected partitions",
            {**metadata, "samples": samples}))
    return to_check_result(Verdict(True, f"all {len(rows)} positions on {as_of} equal the trades", metadata))


@asset_check(asset=VALUATIONS, name="every_position_valued", blocking=True, partitions_def=trading_day_partitions,
             description="No position of the window is held back from valuation (negative quantity, missing or "
                         "stale close); held-back positions are in gold.unvalued_positions with their reason.")
def every_position_valued(context, warehouse: WarehouseResource) -> AssetCheckResult:
    """Count and sample gold.unvalued_positions over the window."""
    window = check_window(context)
    rows = warehouse.query(f"""
        select as_of_date, portfolio_id, security_id, quantity, close_date, unvalued_reason, reason
        from gold.unvalued_positions where {window.sql('as_of_date')}
        order by as_of_date, portfolio_id, security_id
    """).to_pylist()
    valued = warehouse.query(
        f"select count(*) as n from gold.valuations where {window.sql('as_of_date')}").to_pylist()[0]["n"]
    by_reason: dict[str, int] = {}
    for row in rows:
        by_reason[row["unvalued_reason"]] = by_reason.get(row["unvalued_reason"], 0) + 1
    metadata = {**window.as_metadata(), "valued_positions": valued, "unvalued_positions": len(rows),
                "unvalued_by_reason": by_reason}
    if rows:
        samples = [{"reason": r["reason"], "unvalued_reason": r["unvalued_reason"]} for r in rows[:10]]
        return to_check_result(Verdict(
            False, f"{len(rows)} positions could not be valued ({by_reason}); first: {rows[0]['reason']}",
            {**metadata, "samples": samples}))
    return to_check_result(Verdict(True, f"all {valued} positions of the window are valued", metadata))


CHECKS = [positions_reconcile_with_trades, every_position_valued]
