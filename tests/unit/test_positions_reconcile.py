"""The positions reconcile over a crafted DuckDB warehouse: a day whose gold position differs from the running sum of
its trades fails with that position as the sample; a day without breaks passes, and a window without breaks reads the
comparison once (its samples query is skipped)."""

from __future__ import annotations

from pathlib import Path

import pytest

from mesh_assets.warehouse.checks.holdings import positions_reconcile_with_trades
from mesh_assets.warehouse.checks.window import CheckWindow
from resources.warehouse import WarehouseResource

DAYS = ("2026-03-02", "2026-03-03")


class CountingWarehouse:
    """The DuckDB warehouse resource, counting the queries it is asked."""

    def __init__(self, path: Path) -> None:
        self.inner = WarehouseResource(engine="duckdb", duckdb_path=str(path))
        self.queries = 0

    def query(self, sql: str):
        self.queries += 1
        return self.inner.query(sql)


def warehouse_with(tmp_path: Path, day_two_quantity: float) -> CountingWarehouse:
    import duckdb

    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as db:
        db.execute("create schema silver; create schema gold")
        db.execute("create table silver.nyse_trading_days as select * from (values (date '2026-03-02'), "
                   "(date '2026-03-03')) as t(trading_day)")
        db.execute("create table silver.trades as select 'P1' as portfolio_id, 'S1' as security_id, "
                   "date '2026-03-02' as trade_date, 10.0 as signed_quantity, 2.0 as price")
        db.execute("create table silver.cash_flows as select 'P1' as portfolio_id, date '2026-03-02' as flow_date, "
                   "100.0 as amount")
        db.execute("create table gold.positions (as_of_date date, portfolio_id varchar, security_id varchar, "
                   "quantity double)")
        db.execute("insert into gold.positions values (date '2026-03-02', 'P1', 'S1', 10), "
                   "(date '2026-03-02', 'P1', 'CASH', 80), (date '2026-03-03', 'P1', 'S1', ?), "
                   "(date '2026-03-03', 'P1', 'CASH', 80)", [day_two_quantity])
    return CountingWarehouse(path)


@pytest.mark.parametrize("day_two_quantity", [10.0, 9.0])
def test_a_position_that_differs_from_its_trades_fails_its_day_with_it_as_the_sample(tmp_path, day_two_quantity):
    warehouse = warehouse_with(tmp_path, day_two_quantity)
    verdicts = positions_reconcile_with_trades(warehouse, CheckWindow(DAYS[0], DAYS[1], DAYS))
    assert set(verdicts) == set(DAYS)
    first, second = verdicts[DAYS[0]], verdicts[DAYS[1]]
    assert first.passed and first.metadata["positions_compared"] == 2 and first.metadata["breaks"] == 0
    if day_two_quantity == 10.0:
        assert second.passed and second.metadata["breaks"] == 0
        assert warehouse.queries == 1  # no break anywhere: the samples query is not run
    else:
        assert not second.passed and second.metadata["breaks"] == 1
        [sample] = second.metadata["samples"]
        assert (sample["portfolio_id"], sample["security_id"]) == ("P1", "S1")
        assert (sample["position_quantity"], sample["expected_quantity"]) == (9.0, 10.0)
        assert "portfolio P1 S1: position 9.0 vs trades 10.0" in second.description
        assert warehouse.queries == 2
