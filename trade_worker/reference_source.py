"""Where the reference book is warmed from: the end-of-day batch's silver and gold tables, by SQL.

The stream takes any ``WarehouseQuery`` (SQL text -> Arrow table): :class:`DuckDbWarehouse` reads the local
warehouse file read-only (a dbt run may hold its lock: that is a failure the caller's breaker handles);
in aws the CLI hands it Athena. The SQL is standard (runs on DuckDB and Trino) and reads dbt's relations:
``silver.prices`` (one Bloomberg close per security and day), ``silver.trades`` (current trades),
``gold.positions`` (holdings per close) and ``gold.nav_history`` (NAV per portfolio and day).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from trade_worker.reference_book import Close, ReferenceSnapshot

if TYPE_CHECKING:
    import pyarrow as pa

#: Runs one SQL statement on the warehouse and returns its rows as Arrow; raises on failure.
WarehouseQuery = Callable[[str], "pa.Table"]


class MissingRelationError(LookupError):
    """The warehouse answered, but a relation is not there (the batch never built it): no data, not a failure."""


@dataclass(frozen=True)
class DuckDbWarehouse:
    """The local warehouse file, opened read-only for each query (never takes the writer's lock)."""

    path: str

    def __call__(self, sql: str) -> pa.Table:
        """Rows of ``sql``; :class:`MissingRelationError` when a relation does not exist."""
        import duckdb

        try:
            with duckdb.connect(self.path, read_only=True) as connection:
                return connection.sql(sql).to_arrow_table()
        except duckdb.CatalogException as exc:
            raise MissingRelationError(f"{self.path}: {exc}") from exc


VERSION_SQL = """
select
    (select max(as_of_date) from gold.positions) as positions_as_of,
    (select max(as_of_date) from gold.nav_history) as nav_as_of,
    (select max(price_date) from silver.prices) as prices_as_of
"""
CLOSES_SQL = """
select security_id, price_date as close_date, px_last as close_price
from (
    select security_id, price_date, px_last,
           row_number() over (partition by security_id order by price_date desc) as recency
    from silver.prices
    where px_last is not null
) as latest
where recency = 1
"""
POSITIONS_SQL = """
select portfolio_id, security_id, quantity, as_of_date
from gold.positions
where as_of_date = (select max(as_of_date) from gold.positions) and not is_cash
"""
COST_SQL = """
select portfolio_id, security_id, sum(signed_quantity * price) as cost_basis
from silver.trades
where trade_date <= date '{as_of}'
group by portfolio_id, security_id
"""
NAV_SQL = """
select portfolio_id, nav
from (
    select portfolio_id, nav, row_number() over (partition by portfolio_id order by as_of_date desc) as recency
    from gold.nav_history
    where nav is not null
) as latest
where recency = 1
"""
CLOSE_SQL = """
select price_date as close_date, px_last as close_price
from silver.prices
where security_id = '{security_id}' and px_last is not null
order by price_date desc
limit 1
"""
_SECURITY_ID = re.compile(r"^[A-Za-z0-9._:/-]{1,64}$")


def _rows(query: WarehouseQuery, sql: str) -> list[dict]:
    """Rows of ``sql`` as dicts; a relation the batch never built reads as no rows."""
    try:
        return query(sql).to_pylist()
    except MissingRelationError:
        return []


def reference_version(query: WarehouseQuery) -> str:
    """What identifies the batch's output: the newest gold position and NAV dates and the newest close."""
    try:
        row = query(VERSION_SQL).to_pylist()[0]
    except MissingRelationError:
        return "empty"
    return ";".join(f"{k}={row[k]}" for k in ("positions_as_of", "nav_as_of", "prices_as_of"))


def _date(value: object) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def load_reference(query: WarehouseQuery) -> ReferenceSnapshot:
    """Latest close per security, positions and cost basis at the latest gold close, latest NAV per portfolio."""
    version = reference_version(query)
    closes = {r["security_id"]: Close(float(r["close_price"]), _date(r["close_date"]))
              for r in _rows(query, CLOSES_SQL)}
    position_rows = _rows(query, POSITIONS_SQL)
    as_of = _date(position_rows[0]["as_of_date"]) if position_rows else None
    costs = ({(r["portfolio_id"], r["security_id"]): float(r["cost_basis"] or 0.0)
              for r in _rows(query, COST_SQL.format(as_of=as_of.isoformat()))} if as_of else {})
    positions = {(r["portfolio_id"], r["security_id"]): (float(r["quantity"]),
                                                        costs.get((r["portfolio_id"], r["security_id"]), 0.0))
                 for r in position_rows}
    navs = {r["portfolio_id"]: float(r["nav"]) for r in _rows(query, NAV_SQL)}
    return ReferenceSnapshot(closes, positions, navs, as_of, version)


def close_fetcher(query: WarehouseQuery) -> Callable[[str], Close | None]:
    """A fetcher of one security's latest close from ``silver.prices`` (``None`` when it has none)."""

    def fetch(security_id: str) -> Close | None:
        if not _SECURITY_ID.match(security_id):
            return None  # not an id the warehouse can hold; never pasted into SQL
        rows = _rows(query, CLOSE_SQL.format(security_id=security_id))
        return Close(float(rows[0]["close_price"]), _date(rows[0]["close_date"])) if rows else None

    return fetch
