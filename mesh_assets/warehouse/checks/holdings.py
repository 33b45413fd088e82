"""Positions reconcile with trades, and every position is valued (or quarantined with its reason): per day."""

from __future__ import annotations

from dagster import AssetCheckSpec

from mesh_assets.lib.quality import Verdict
from mesh_assets.shared.partitions import trading_day_partitions
from mesh_assets.warehouse.checks.in_step import InStepCheck
from mesh_assets.warehouse.checks.window import CheckWindow, by_day, gold
from resources.warehouse import WarehouseResource

POSITIONS = gold("holdings", "positions")
VALUATIONS = gold("holdings", "valuations")
TOLERANCE = 1e-6
#: Breaks read back as samples, at most (the counts per day are exact).
MAX_SAMPLED_BREAKS = 2000


def _comparison(window: CheckWindow) -> str:
    """Per trading day of the window: holdings recomputed from silver trades and flows beside gold.positions."""
    return f"""
        with movements as (
            select portfolio_id, security_id, trade_date as move_date, signed_quantity as quantity
            from silver.trades where trade_date <= date '{window.end}'
            union all
            select portfolio_id, 'CASH' as security_id, trade_date as move_date, -signed_quantity * price as quantity
            from silver.trades where trade_date <= date '{window.end}'
            union all
            select portfolio_id, 'CASH' as security_id, flow_date as move_date, amount as quantity
            from silver.cash_flows where flow_date <= date '{window.end}'
        ),
        changes as (
            select portfolio_id, security_id, move_date, sum(quantity) as quantity
            from movements group by portfolio_id, security_id, move_date
        ),
        running as (
            select portfolio_id, security_id, move_date,
                   sum(quantity) over (partition by portfolio_id, security_id order by move_date
                                       rows between unbounded preceding and current row) as quantity,
                   lead(move_date) over (partition by portfolio_id, security_id order by move_date) as next_move
            from changes
        ),
        expected as (
            select d.trading_day as as_of_date, r.portfolio_id, r.security_id, r.quantity
            from silver.nyse_trading_days as d
            inner join running as r
                on d.trading_day >= r.move_date and (r.next_move is null or d.trading_day < r.next_move)
            where {window.sql('d.trading_day')}
        ),
        actual as (
            select as_of_date, portfolio_id, security_id, quantity from gold.positions where {window.sql('as_of_date')}
        ),
        compared as (
            select coalesce(e.as_of_date, a.as_of_date) as as_of_date,
                   coalesce(e.portfolio_id, a.portfolio_id) as portfolio_id,
                   coalesce(e.security_id, a.security_id) as security_id,
                   -- silver quantities are exact decimals, gold holds doubles: compared as doubles
                   cast(coalesce(e.quantity, 0) as double) as expected_quantity,
                   cast(coalesce(a.quantity, 0) as double) as position_quantity,
                   a.quantity is not null as in_gold
            from expected as e
            full outer join actual as a
                on a.as_of_date = e.as_of_date and a.portfolio_id = e.portfolio_id and a.security_id = e.security_id
        )
        select *, abs(expected_quantity - position_quantity)
                  > {TOLERANCE} * greatest(1.0, abs(expected_quantity)) as is_break
        from compared
    """


def positions_reconcile_with_trades(warehouse: WarehouseResource, window: CheckWindow) -> dict[str, Verdict]:
    """Per day: every gold position against the running sum of current trades and flows up to that day."""
    sql = _comparison(window)
    counts = warehouse.query(f"""
        select as_of_date, count(*) as compared, sum(case when is_break then 1 else 0 end) as breaks,
               sum(case when in_gold then 1 else 0 end) as in_gold
        from ({sql}) as c group by as_of_date order by as_of_date
    """).to_pylist()
    # The samples are read only when a day has breaks: the comparison costs as much again (3-4 s a year on Trino).
    breaks = by_day(warehouse.query(f"""
        select as_of_date, portfolio_id, security_id, expected_quantity, position_quantity
        from ({sql}) as c where is_break order by as_of_date, portfolio_id, security_id limit {MAX_SAMPLED_BREAKS}
    """).to_pylist(), "as_of_date") if any(row["breaks"] for row in counts) else {}
    verdicts = {}
    for row in counts:
        day = str(row["as_of_date"])
        metadata = {"first_day": day, "last_day": day, "reconciled_day": day, "positions_compared": row["compared"],
                    "positions_in_gold": row["in_gold"], "breaks": row["breaks"], "relative_tolerance": TOLERANCE}
        if row["breaks"]:
            samples = [{**r, "as_of_date": day} for r in breaks.get(day, [])[:10]]
            first = samples[0] if samples else {"portfolio_id": "?", "security_id": "?", "position_quantity": None,
                                                "expected_quantity": None}
            verdicts[day] = Verdict(
                False, f"{row['breaks']} positions on {day} differ from trades, e.g. portfolio {first['portfolio_id']} "
                       f"{first['security_id']}: position {first['position_quantity']} vs trades "
                       f"{first['expected_quantity']}; re-materialize the affected partitions",
                {**metadata, "samples": samples})
        else:
            verdicts[day] = Verdict(True, f"all {row['compared']} positions on {day} equal the trades", metadata)
    for day in window.days_without(verdicts):
        verdicts[day] = Verdict(True, f"nothing is held on {day}, in gold.positions or by the trades",
                                {"first_day": day, "last_day": day, "positions_compared": 0, "breaks": 0,
                                 "relative_tolerance": TOLERANCE})
    return verdicts


def every_position_valued(warehouse: WarehouseResource, window: CheckWindow) -> dict[str, Verdict]:
    """Per day: count and sample gold.unvalued_positions beside the valued positions."""
    rows = by_day(warehouse.query(f"""
        select as_of_date, portfolio_id, security_id, quantity, close_date, unvalued_reason, reason
        from gold.unvalued_positions where {window.sql('as_of_date')}
        order by as_of_date, portfolio_id, security_id
    """).to_pylist(), "as_of_date")
    valued = {str(r["as_of_date"]): r["n"] for r in warehouse.query(
        f"select as_of_date, count(*) as n from gold.valuations where {window.sql('as_of_date')} "
        "group by as_of_date").to_pylist()}
    verdicts = {}
    for day in sorted({*rows, *valued, *window.days}):
        unvalued = rows.get(day, [])
        by_reason: dict[str, int] = {}
        for row in unvalued:
            by_reason[row["unvalued_reason"]] = by_reason.get(row["unvalued_reason"], 0) + 1
        metadata = {"first_day": day, "last_day": day, "valued_positions": valued.get(day, 0),
                    "unvalued_positions": len(unvalued), "unvalued_by_reason": by_reason}
        if unvalued:
            samples = [{"reason": r["reason"], "unvalued_reason": r["unvalued_reason"]} for r in unvalued[:10]]
            verdicts[day] = Verdict(False, f"{len(unvalued)} positions could not be valued on {day} ({by_reason}); "
                                           f"first: {unvalued[0]['reason']}", {**metadata, "samples": samples})
        else:
            verdicts[day] = Verdict(True, f"all {valued.get(day, 0)} positions of {day} are valued", metadata)
    return verdicts


CHECKS = [
    InStepCheck(AssetCheckSpec(
        "positions_reconcile_with_trades", asset=POSITIONS, blocking=True, partitions_def=trading_day_partitions,
        description="Holdings on each trading day equal the sum of current trades (and cash equals flows plus "
                    "sales less purchases) up to that day."), positions_reconcile_with_trades),
    InStepCheck(AssetCheckSpec(
        "every_position_valued", asset=VALUATIONS, blocking=True, partitions_def=trading_day_partitions,
        description="No position of the day is held back from valuation (negative quantity, missing or stale "
                    "close); held-back positions are in gold.unvalued_positions with their reason."),
        every_position_valued),
]
