"""The end-of-day graph for real: bronze -> silver -> gold with dbt on DuckDB, for the small firm.

One world shared by the session (tests/support/eod_world.py): bronze sources, then ``eod_batch``
over every trading day in one run. The results are compared with the generator's own economic truth
(holdings, cash, NAV), not with numbers copied from a previous run.
"""

import datetime as dt
import os
import subprocess

import pytest
from dagster import AssetKey

from mesh_assets.warehouse.project import DBT_PROJECT_DIR
from resources.dbt import dbt_executable
from tests.conftest import SMALL_SEED
from tests.support.eod_world import run_eod
from tests.support.firm_truth import firm_truth
from tests.support.warehouse import query as warehouse_query

pytestmark = pytest.mark.integration

def check_evaluations(result) -> dict[str, object]:
    return {f"{e.asset_key.to_user_string()}:{e.check_name}": e for e in result.get_asset_check_evaluations()}


@pytest.fixture(scope="module")
def world(eod_world):
    """The session's end-of-day world (tests/support/eod_world.py): bronze sources, then one eod_batch run."""
    return eod_world


def query(world, sql: str) -> list[tuple]:
    return warehouse_query(world["warehouse"], sql)


def test_the_whole_graph_materializes_and_every_error_check_passes(world):
    eod = world["eod"]
    assert eod.success, [e.message for e in eod.all_events if e.is_failure]
    materialized = {e.asset_key for e in eod.get_asset_materialization_events()}
    graph = world["defs"].resolve_asset_graph()
    expected = {k for k in graph.get_all_asset_keys() if k.path[0] in ("silver", "gold")}
    assert expected <= materialized
    evaluations = check_evaluations(eod)
    dbt_checks = [n for n in evaluations if "unique" in n or "relationships" in n]
    assert len(dbt_checks) > 20  # dbt tests arrive as Dagster asset checks
    dbt_tests = [e for e in evaluations.values() if "unique_id" in e.metadata]  # dagster-dbt's checks
    assert len(dbt_tests) > 20 and all(e.metadata["asserts"].value and e.description for e in dbt_tests)
    errors = {n: e.description for n, e in evaluations.items() if not e.passed and e.severity.value == "ERROR"}
    assert not errors, errors
    for name in ("gold/performance/nav_history:every_fund_has_nav",
                 "gold/holdings/positions:positions_reconcile_with_trades",
                 "gold/holdings/valuations:every_position_valued",
                 "gold/performance/daily_returns:returns_within_bounds",
                 "silver/market/prices:great_expectations_price_suite",
                 "silver/aladdin/quarantined_events:no_quarantined_events"):
        assert evaluations[name].passed, (name, evaluations[name].description)
        assert evaluations[name].metadata["reason"].value  # every verdict explains itself


def test_price_discrepancy_check_warns_with_exactly_the_injected_trades(world):
    discrepancy = check_evaluations(world["eod"])["gold/market/price_discrepancies:price_discrepancy_count"]
    injected = sorted(world["manifest"]["edge_cases"]["price_discrepancy_trades"])
    assert not discrepancy.passed and discrepancy.severity.value == "WARN"
    assert discrepancy.metadata["discrepancies"].value == len(injected)
    assert sorted(s["trade_id"] for s in discrepancy.metadata["samples"].value) == injected
    assert [r[0] for r in query(world, "select trade_id from gold.price_discrepancies order by 1")] == injected


def test_positions_and_nav_equal_the_generators_book(world):
    manifest = world["manifest"]
    truth = firm_truth(manifest["scale"], SMALL_SEED, dt.date.fromisoformat(manifest["end_date"]))
    last = truth.last_day.isoformat()
    rows = query(world, f"select portfolio_id, security_id, quantity from gold.positions "
                        f"where as_of_date = date '{last}' and quantity <> 0")
    positions = {(p, s): q for p, s, q in rows if s != "CASH"}
    assert positions == {k: float(v) for k, v in truth.holdings.items()}
    cash = {p: q for p, s, q in rows if s == "CASH"}
    for portfolio, amount in truth.cash.items():
        assert cash.get(portfolio, 0.0) == pytest.approx(amount, abs=0.01), portfolio
    navs = dict(query(world, f"select portfolio_id, nav from gold.nav_history where as_of_date = date '{last}'"))
    for portfolio, value in truth.value.items():
        if value > 1:  # terminated portfolios keep only a residual half cent
            assert navs[portfolio] == pytest.approx(value, rel=1e-9), portfolio


def test_cdc_edge_cases_are_applied(world):
    cases = world["manifest"]["edge_cases"]
    live = {r[0]: r[1] for r in query(world, "select trade_id, version from silver.trades")}
    assert not set(cases["cancelled_trades"]) & set(live)
    assert set(cases["rebooked_trades"]) <= set(live)
    latest = dict(query(world, "select trade_id, max(version) from bronze.aladdin_trades group by trade_id"))
    for trade_id in cases["corrected_trades"]:
        if trade_id in live:
            assert live[trade_id] == latest[trade_id] > 1, trade_id
    flows = {r[0] for r in query(world, "select flow_id from silver.cash_flows")}
    assert set(cases["corrected_cash_flows"]) <= flows


def test_late_prices_replace_the_carried_forward_close(world):
    for late in world["manifest"]["edge_cases"]["late_prices"]:
        [(delivery, is_late)] = query(world, f"""
            select delivery_date, is_late from silver.prices
            where security_id = '{late['security_id']}' and price_date = date '{late['price_date']}'""")
        assert delivery.isoformat() == late["delivery_date"] and is_late
        [(age,)] = query(world, f"""select close_age_days from silver.closes
            where security_id = '{late['security_id']}' and trading_day = date '{late['price_date']}'""")
        assert age == 0


def test_large_flows_are_flagged_on_the_day_of_the_flow(world):
    large = world["manifest"]["edge_cases"]["large_cash_flows"]
    flows = query(world, f"""select portfolio_id, flow_date from silver.cash_flows
                             where flow_id in ({", ".join(f"'{f}'" for f in large)})""")
    flagged = set(query(world, "select portfolio_id, as_of_date from gold.daily_returns where is_large_flow"))
    # Every large flow after inception is flagged (an inception subscription has no begin value).
    inception = dict(query(world, "select portfolio_id, inception_date from silver.portfolios"))
    assert {(p, d) for p, d in flows if d > inception[p]} <= flagged


def test_entitlements_are_the_active_contracts(world):
    rows = query(world, "select contract_id, data_product, aws_account_id, as_of_date from gold.client_entitlements")
    assert rows
    as_of = rows[0][3]
    expected = set(query(world, f"""
        select id, data_product from bronze.salesforce_contracts
        where status = 'Activated' and start_date <= date '{as_of}' and (end_date is null or end_date >= date '{as_of}')
    """))
    assert {(r[0], r[1]) for r in rows} == expected
    assert all(r[2] and r[2].isdigit() and len(r[2]) == 12 for r in rows)


def test_materializations_record_row_counts_and_the_window(world):
    eod = world["eod"]
    events = [e for e in eod.get_asset_materialization_events()
              if e.asset_key == AssetKey(["gold", "holdings", "positions"])]
    assert len(events) == len(world["days"])  # one per partition of the range
    metadata = events[0].materialization.metadata
    [(rows,)] = query(world, "select count(*) from gold.positions")
    assert metadata["dagster/row_count"].value == rows
    assert metadata["dbt_vars"].value == {"start_date": world["days"][0], "end_date": world["days"][-1]}
    [trades] = [e for e in eod.get_asset_materialization_events()
                if e.asset_key == AssetKey(["silver", "aladdin", "trades"])]
    from mesh_assets.lib.lakehouse.tables import TRADES

    bronze = world["defs"].resources["iceberg"].table(TRADES)
    read = trades.materialization.metadata["bronze_snapshot_ids"].value
    assert read["bronze.aladdin_trades"] == bronze.current_snapshot().snapshot_id
    assert "bronze_changed_during_run" not in trades.materialization.metadata


def before_count(world, day: str) -> int:
    [(rows,)] = query(world, f"select count(*) from gold.positions where as_of_date = date '{day}'")
    return rows


def test_re_running_a_day_replaces_it_without_duplicates(world):
    last = world["days"][-1]
    before = query(world, f"select portfolio_id, security_id, quantity from gold.positions "
                          f"where as_of_date = date '{last}' order by 1, 2")
    navs_before = query(world, f"select portfolio_id, nav, nav_index from gold.nav_history "
                               f"where as_of_date = date '{last}' order by 1")
    rerun = run_eod(world["defs"], world["instance"], last, last)
    assert rerun.success
    # a one-day run (the schedule's) builds that day only, not all history
    [positions] = [e for e in rerun.get_asset_materialization_events()
                   if e.asset_key == AssetKey(["gold", "holdings", "positions"])]
    assert positions.materialization.metadata["dbt_vars"].value == {"start_date": last, "end_date": last}
    assert positions.materialization.metadata["window_row_count"].value == before_count(world, last)
    after = query(world, f"select portfolio_id, security_id, quantity from gold.positions "
                         f"where as_of_date = date '{last}' order by 1, 2")
    assert [(p, s) for p, s, _ in after] == [(p, s) for p, s, _ in before]
    # Cash sums the same movements in another order when only one day is rebuilt: equal to the cent.
    assert [q for _, _, q in after] == pytest.approx([q for _, _, q in before], abs=1e-6)
    navs_after = query(world, f"select portfolio_id, nav, nav_index from gold.nav_history "
                              f"where as_of_date = date '{last}' order by 1")
    assert [p for p, _, _ in navs_after] == [p for p, _, _ in navs_before]
    assert [n for _, n, _ in navs_after] == pytest.approx([n for _, n, _ in navs_before], abs=1e-6)
    for (_, _, index_after), (_, _, index_before) in zip(navs_after, navs_before, strict=True):
        assert index_after == pytest.approx(index_before, rel=1e-12)  # chained from the stored previous day
    [(duplicates,)] = query(world, "select count(*) - count(distinct (as_of_date, portfolio_id)) from gold.nav_history")
    assert duplicates == 0


def test_dbt_unit_tests_pass(world):
    """CDC apply rules and the TWR example (dbt unit tests) run against this warehouse's schemas."""
    dbt = world["defs"].resources["dbt"]
    env = {**os.environ, **dbt.dbt_environment()}
    project = DBT_PROJECT_DIR
    result = subprocess.run(
        [dbt_executable(), "test", "--select", "test_type:unit", "--project-dir",
         str(project), "--profiles-dir", str(project), "--target-path", str(world["root"] / "dbt-unit")],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert "PASS=4" in result.stdout  # 3 CDC apply rules (with truncate) and the TWR example
