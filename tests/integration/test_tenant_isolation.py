"""Tenant isolation over the published data products, on the small firm's end-of-day warehouse (DuckDB).

The product models (``gold.product_*``, tenant on every row) and the views ``tenant_<id>.<product>``
are built by ``eod_batch`` itself (the products are gold models; their post-hook creates the views),
so the session's ``eod_world`` holds them. For every product and every ordered pair of tenants
(A, B), A's view holds no row of B, and exactly A's rows.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from mesh_assets.lib.data_products.tenant_filters import load_filter_spec, tenant_schema_name

pytestmark = pytest.mark.integration

SPEC = load_filter_spec()
#: data product -> product table, e.g. nav_history -> gold.product_nav_history
PRODUCTS = {product: f"{SPEC.database}.{table}" for product, table in sorted(SPEC.product_tables.items())}
#: The gold model each portfolio-level product is cut from: no row may be lost to the tenant join.
SOURCES = {"nav_history": "gold.nav_history", "performance": "gold.daily_returns", "esg": "gold.portfolio_analytics"}


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


@pytest.fixture(scope="module")
def world(eod_world) -> dict[str, Any]:
    eod = eod_world["eod"]
    assert eod.success, [e.message for e in eod.all_events if e.is_failure]
    return eod_world


@pytest.fixture
def warehouse(world) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the world's warehouse (closed after the test: other tests write to it)."""
    with duckdb.connect(str(world["warehouse"]), read_only=True) as connection:
        yield connection


def scalar(connection: duckdb.DuckDBPyConnection, sql: str) -> Any:
    return connection.execute(sql).fetchone()[0]


def tenants(connection: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in connection.execute("select distinct tenant_id from silver.clients order by 1").fetchall()]


def tenants_with_portfolios(connection: duckdb.DuckDBPyConnection) -> set[str]:
    rows = connection.execute(
        "select distinct c.tenant_id from silver.portfolios as p join silver.clients as c on c.client_id = p.client_id"
    ).fetchall()
    return {r[0] for r in rows}


def test_every_tenant_has_one_read_only_view_per_product(warehouse):
    ids = tenants(warehouse)
    assert len(ids) >= 2
    rows = warehouse.execute(
        "select table_schema, table_name, table_type from information_schema.tables "
        "where table_schema like 'tenant\\_%' escape '\\'"
    ).fetchall()

    assert {(s, t) for s, t, _ in rows} == {(tenant_schema_name(i), p) for i in ids for p in PRODUCTS}
    assert {kind for _, _, kind in rows} == {"VIEW"}


def test_product_tables_attribute_every_row_to_a_tenant(warehouse):
    for product, table in PRODUCTS.items():
        assert scalar(warehouse, f"select count(*) from {table} where tenant_id is null") == 0, product
        assert scalar(warehouse, f"select count(*) from {table}") > 0, product
    for product, source in SOURCES.items():
        assert scalar(warehouse, f"select count(*) from {PRODUCTS[product]}") == scalar(
            warehouse, f"select count(*) from {source}"
        ), f"{PRODUCTS[product]} lost rows of {source}"


@pytest.mark.parametrize("product", sorted(PRODUCTS))
def test_a_tenant_sees_zero_rows_of_any_other_tenant(warehouse, product):
    ids = tenants(warehouse)
    for a, b in itertools.permutations(ids, 2):
        view = f"{tenant_schema_name(a)}.{product}"
        assert scalar(warehouse, f"select count(*) from {view} where tenant_id = {literal(b)}") == 0, (a, b)
        assert scalar(warehouse, f"select count(*) from {view} where tenant_id is distinct from {literal(a)}") == 0


@pytest.mark.parametrize("product", sorted(PRODUCTS))
def test_a_tenant_sees_exactly_its_own_rows(warehouse, product):
    table = PRODUCTS[product]
    owners = tenants_with_portfolios(warehouse)
    for tenant in tenants(warehouse):
        view = f"{tenant_schema_name(tenant)}.{product}"
        own = f"select * from {table} where tenant_id = {literal(tenant)}"
        count = scalar(warehouse, f"select count(*) from {view}")
        assert count == scalar(warehouse, f"select count(*) from ({own}) as o"), (tenant, product)
        assert scalar(warehouse, f"select count(*) from (select * from {view} except all {own}) as d") == 0
        assert scalar(warehouse, f"select count(*) from ({own} except all select * from {view}) as d") == 0
        if tenant in owners:
            assert count > 0, f"tenant {tenant} has portfolios but no {product} rows"


@pytest.mark.parametrize("product", sorted(SOURCES))
def test_portfolio_rows_in_a_view_belong_to_the_tenants_own_portfolios(warehouse, product):
    """Independent of the tenant_id column: portfolio -> client -> tenant from the reference data."""
    for tenant in tenants(warehouse):
        foreign = scalar(
            warehouse,
            f"select count(*) from {tenant_schema_name(tenant)}.{product} as v "
            "join silver.portfolios as p on p.portfolio_id = v.portfolio_id "
            "join silver.clients as c on c.client_id = p.client_id "
            f"where c.tenant_id <> {literal(tenant)}",
        )
        assert foreign == 0, (tenant, product)


def test_a_tenants_prices_are_closes_of_securities_it_held_that_day(warehouse):
    for tenant in tenants(warehouse):
        unheld = scalar(
            warehouse,
            f"select count(*) from {tenant_schema_name(tenant)}.prices as v where not exists ("
            " select 1 from gold.positions as pos"
            " join silver.portfolios as p on p.portfolio_id = pos.portfolio_id"
            " join silver.clients as c on c.client_id = p.client_id"
            f" where c.tenant_id = {literal(tenant)} and pos.security_id = v.security_id"
            " and pos.as_of_date = v.as_of_date and pos.quantity > 0)",
        )
        assert unheld == 0, tenant


def test_a_tenant_connection_cannot_write_through_its_views(warehouse):
    tenant = tenants(warehouse)[0]
    view = f"{tenant_schema_name(tenant)}.nav_history"
    before = scalar(warehouse, f"select count(*) from {view}")

    for statement in (
        f"create or replace view {view} as select * from {PRODUCTS['nav_history']}",
        f"drop view {view}",
        f"create table {tenant_schema_name(tenant)}.everything as select * from {PRODUCTS['nav_history']}",
    ):
        with pytest.raises(duckdb.Error, match="read-only"):
            warehouse.execute(statement)

    assert scalar(warehouse, f"select count(*) from {view}") == before


def copy_warehouse(world: dict[str, Any], target: Path) -> Path:
    source = Path(world["warehouse"])
    for suffix in ("", ".wal"):
        if Path(f"{source}{suffix}").exists():
            shutil.copy(f"{source}{suffix}", f"{target}{suffix}")
    return target


def test_views_are_not_tables_even_on_a_writable_connection(world, tmp_path):
    copy = copy_warehouse(world, tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(copy)) as connection:
        view = f"{tenant_schema_name(tenants(connection)[0])}.nav_history"
        with pytest.raises(duckdb.CatalogException, match="not an table"):
            connection.execute(f"insert into {view} select * from {view}")
        with pytest.raises(duckdb.BinderException, match="base table"):
            connection.execute(f"delete from {view}")


def test_run_operation_recreates_the_views_of_every_tenant(world, tmp_path):
    """`dbt run-operation create_tenant_views` (e.g. after onboarding a client) rebuilds missing views."""
    copy = copy_warehouse(world, tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(copy)) as connection:
        ids = tenants(connection)
        connection.execute(f"drop schema {tenant_schema_name(ids[-1])} cascade")
        connection.execute(f"drop view {tenant_schema_name(ids[0])}.prices")
    dbt = world["defs"].resources["dbt"]
    invocation = type(dbt)(**{**dbt.model_dump(), "duckdb_path": str(copy)}).cli(
        ["run-operation", "create_tenant_views"], raise_on_error=False
    )
    invocation.wait()
    assert invocation.is_successful(), invocation.get_error()

    with duckdb.connect(str(copy), read_only=True) as connection:
        for tenant in (ids[0], ids[-1]):
            for product in PRODUCTS:
                view = f"{tenant_schema_name(tenant)}.{product}"
                assert scalar(connection, f"select count(*) from {view} where tenant_id <> {literal(tenant)}") == 0
        assert scalar(connection, f"select count(*) from {tenant_schema_name(ids[-1])}.nav_history") > 0


def test_dbt_rejects_tenant_tnt_double_dash_0001_and_creates_no_view_for_it(world, tmp_path):
    """The review's proof, inverted on the dbt side: a client in `tnt--0001` (which the old rule folded onto
    tnt-0001's names) stops `create_tenant_views` with an error naming the value; no schema is created."""
    copy = copy_warehouse(world, tmp_path / "warehouse.duckdb")
    with duckdb.connect(str(copy)) as connection:
        connection.execute("insert into silver.clients (client_id, client_name, tenant_id, aws_account_id, "
                           "salesforce_account_id, region) values ('C-9999', 'Lookalike Trust', 'tnt--0001', "
                           "'999999999999', '001XXXXXXXXXXXXXXX', 'us-east-1')")
        schemas_before = set(connection.execute("select schema_name from information_schema.schemata").fetchall())
    dbt = world["defs"].resources["dbt"]
    invocation = type(dbt)(**{**dbt.model_dump(), "duckdb_path": str(copy)}).cli(
        ["run-operation", "create_tenant_views"], raise_on_error=False
    )
    invocation.wait()
    assert not invocation.is_successful()
    assert "silver.clients: tenant id 'tnt--0001' is not a valid tenant id" in str(invocation.get_error())

    with duckdb.connect(str(copy), read_only=True) as connection:
        schemas_after = set(connection.execute("select schema_name from information_schema.schemata").fetchall())
    assert schemas_after == schemas_before and not any(s.startswith("tenant_tnt__") for (s,) in schemas_after)
