"""Two engines agree: the small firm's end of day on ``cluster`` (pyiceberg bronze in the JDBC catalog, dbt's ``trino``
target, checks through Trino) equals the same batch on ``local`` (DuckDB), gold table by gold table, row for row.

The local side is the session's ``eod_world`` (tests/support/eod_world.py); the cluster side runs ``bronze_sources``
then ``eod_batch`` over every trading day (one run) on the session's ``trino_cluster``, each launched through the run
launcher (tests/support/cluster_world.py). After it, GIPS, ADX publication and the entitlement reconcile run on the
cluster once each (one after the other: side by side they were slower on 2 busy cores), reading their inputs through
the Trino warehouse resource; each is compared with what the local warehouse holds.
"""

from __future__ import annotations

import datetime as dt
import math
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from tests.support.cluster_world import failure_messages, launch_job
from tests.support.warehouse import query as duckdb_query

pytestmark = pytest.mark.integration

#: Numbers agree within this relative difference (and this absolute one, for values next to zero).
REL_TOL = ABS_TOL = 1e-9


@pytest.fixture(scope="module")
def follow_ups(cluster_world, eod_world, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """GIPS (the first composite's year), ADX publication (the last day) and the entitlement reconcile (against the
    local Salesforce-compatible server) on the cluster's built warehouse: the three runs, by job name."""
    from dagster import DagsterInstance

    from mesh_dev.gips_runs import register_partitions
    from mesh_dev.local.salesforce_server.runner import start_server

    assert_succeeded(cluster_world, cluster_world["eod"])
    env = cluster_world["env"]
    year = int(eod_world["days"][-1][:4])
    [composite] = [row["composite_id"] for row in trino_warehouse(cluster_world).query(
        "select min(composite_id) as composite_id from silver.composites").to_pylist()]
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        register_partitions(instance, [composite], [year], year)
    server = start_server(tmp_path_factory.mktemp("salesforce"), export_dir=Path(env["MESH_FIRM_DIR"]) / "salesforce")
    try:
        runs = {
            "gips_report": launch_job(env, "gips_report", {
                "dagster/partition": f"{composite}|{year}", "dagster/partition/composite": composite,
                "dagster/partition/year": str(year)}),
            "adx_publish": launch_job(env, "adx_publish", {"dagster/partition": eod_world["days"][-1]}),
            "entitlement_reconcile": launch_job({**env, **server.client_environment()}, "entitlement_reconcile"),
        }
    finally:
        server.stop()
    return {"runs": runs, "composite": composite, "year": year, "day": eod_world["days"][-1]}


def run_events(world: dict[str, Any], run: Any) -> list[Any]:
    from dagster import DagsterInstance

    with DagsterInstance.from_config(world["env"]["DAGSTER_HOME"]) as instance:
        return [r.event_log_entry.dagster_event for r in instance.get_records_for_run(run.run_id).records
                if r.event_log_entry.dagster_event]


def trino_warehouse(world: dict[str, Any]):
    from resources.warehouse import WarehouseResource

    info = world["info"]
    return WarehouseResource(engine="trino", trino_host=info.host, trino_port=info.port, trino_catalog=info.catalog)


def duckdb_warehouse(eod_world: dict[str, Any]):
    from resources.warehouse import WarehouseResource

    return WarehouseResource(engine="duckdb", duckdb_path=str(eod_world["warehouse"]))


def assert_succeeded(world: dict[str, Any], run: Any) -> None:
    assert run is not None and run.is_success, (run and run.job_name, run and failure_messages(world["env"],
                                                                                           run.run_id))


def _key(row: dict[str, Any]) -> tuple:
    """Sort key: exact values first, numbers rounded (so rows of equal keys order the same on both engines)."""
    return tuple((value is None, round(value, 6) if isinstance(value, float) else str(value))
                 for value in row.values())


def _same(left: Any, right: Any) -> bool:
    if isinstance(left, float) or isinstance(right, float):
        return left is not None and right is not None and math.isclose(left, right, rel_tol=REL_TOL, abs_tol=ABS_TOL)
    return left == right


def differences(table: str, local: list[dict[str, Any]], cluster: list[dict[str, Any]]) -> list[str]:
    """What differs between two results of one table, row for row after sorting (empty: equal)."""
    if len(local) != len(cluster):
        return [f"{table}: {len(local)} rows locally, {len(cluster)} on the cluster"]
    found = []
    for index, (mine, theirs) in enumerate(zip(sorted(local, key=_key), sorted(cluster, key=_key), strict=True)):
        if set(mine) != set(theirs):
            return [f"{table}: columns {sorted(mine)} locally, {sorted(theirs)} on the cluster"]
        found += [f"{table} row {index} {column}: {mine[column]!r} locally, {theirs[column]!r} on the cluster"
                  for column in mine if not _same(mine[column], theirs[column])]
    return found[:20]


def gold_tables(eod_world: dict[str, Any]) -> list[str]:
    return [name for (name,) in duckdb_query(eod_world["warehouse"], "select table_name from information_schema.tables "
                                             "where table_schema = 'gold' and table_type = 'BASE TABLE' order by 1")]


def test_the_end_of_day_succeeds_on_the_cluster_with_the_same_check_verdicts(cluster_world, eod_world):
    from dagster import DagsterInstance

    assert eod_world["eod"].success
    assert_succeeded(cluster_world, cluster_world["sources"])
    assert_succeeded(cluster_world, cluster_world["eod"])
    with DagsterInstance.from_config(cluster_world["env"]["DAGSTER_HOME"]) as instance:
        records = instance.get_records_for_run(cluster_world["eod"].run_id).records
        evaluated = {e.asset_check_key: e.passed for e in (r.event_log_entry.dagster_event.event_specific_data
                     for r in records if r.event_log_entry.dagster_event
                     and r.event_log_entry.dagster_event.event_type_value == "ASSET_CHECK_EVALUATION")}
    local = {e.asset_check_key: e.passed for e in eod_world["eod"].get_asset_check_evaluations()}
    assert len(evaluated) > 50  # dbt tests and the in-step Python checks, all of them
    assert evaluated == local  # the same checks, with the same verdicts (the firm's seeded faults fail on both)
    assert not all(evaluated.values())


def test_the_cluster_built_the_range_in_pieces_and_reports_the_rows_of_all_of_them(cluster_world, eod_world):
    """The cluster's dbt built the range three pieces at a time (tests/support/cluster_world.py); each daily model's
    materialization still covers the whole range: its window rows equal DuckDB's one build's."""
    assert_succeeded(cluster_world, cluster_world["eod"])
    days = eod_world["days"]
    cluster = {m.asset_key: m.metadata for m in (
        e.event_specific_data.materialization for e in run_events(cluster_world, cluster_world["eod"])
        if e.event_type_value == "ASSET_MATERIALIZATION") if m.partition == days[-1]}
    local = {m.asset_key: m.metadata for m in (e.materialization for e in
                                               eod_world["eod"].get_asset_materialization_events())
             if m.partition == days[-1]}
    daily = [key for key, metadata in cluster.items() if "window_row_count" in metadata]
    assert len(daily) >= 8
    for key in daily:
        pieces = cluster[key]["dbt_vars"].value["built_in_pieces"]
        assert len(pieces) == 3
        assert pieces[0]["start_date"] == days[0] and pieces[-1]["end_date"] == days[-1]
        assert all(a["end_date"] < b["start_date"] for a, b in pairwise(pieces))
        assert cluster[key]["window_row_count"].value == local[key]["window_row_count"].value > 0, key.to_user_string()


def test_every_gold_table_is_equal_row_for_row_on_both_engines(cluster_world, eod_world):
    assert_succeeded(cluster_world, cluster_world["eod"])
    tables = gold_tables(eod_world)
    trino = trino_warehouse(cluster_world)
    on_cluster = {row["table_name"] for row in trino.query(
        "select table_name from information_schema.tables where table_schema = 'gold' and table_type = 'BASE TABLE'"
    ).to_pylist()}
    assert set(tables) == on_cluster
    assert {"positions", "valuations", "nav_history", "daily_returns", "portfolio_analytics", "price_discrepancies",
            "client_entitlements", "product_nav_history"} <= set(tables)
    local = duckdb_warehouse(eod_world)
    found, rows = [], 0
    for table in tables:
        mine = local.query(f"select * from gold.{table}").to_pylist()
        found += differences(table, mine, trino.query(f"select * from gold.{table}").to_pylist())
        rows += len(mine)
    assert not found, found
    assert rows > 10_000  # the firm's whole history, not empty tables


def test_a_whole_table_read_from_the_catalog_is_what_trino_and_duckdb_answer(cluster_world, eod_world):
    """The price checks read silver.prices whole with pyiceberg from the catalog Trino writes to (not through
    Trino's row-by-row JSON results): the same rows and types as Trino's own answer and as DuckDB's table."""
    from resources.warehouse import WarehouseResource

    assert_succeeded(cluster_world, cluster_world["eod"])
    info, env = cluster_world["info"], cluster_world["env"]
    columns = ["security_id", "figi", "price_date", "px_last", "currency"]
    from_catalog = WarehouseResource(
        engine="trino", trino_host=info.host, trino_port=info.port, trino_catalog=info.catalog,
        iceberg_catalog_uri=env["MESH_ICEBERG_CATALOG_URI"], iceberg_warehouse=env["MESH_ICEBERG_WAREHOUSE"],
    ).read_table("silver.prices", columns)
    through_trino = trino_warehouse(cluster_world).read_table("silver.prices", columns)
    assert from_catalog.schema == through_trino.schema
    assert from_catalog.num_rows > 1_000
    assert not differences("silver.prices", through_trino.to_pylist(), from_catalog.to_pylist())
    local = duckdb_warehouse(eod_world).read_table("silver.prices", columns)
    assert not differences("silver.prices", local.to_pylist(), from_catalog.to_pylist())


def test_gips_reads_its_inputs_through_trino_and_every_check_passes(cluster_world, follow_ups, eod_world):
    from dagster import AssetKey

    from mesh_assets.gips.inputs import WarehouseReads

    run, composite, year = follow_ups["runs"]["gips_report"], follow_ups["composite"], follow_ups["year"]
    assert_succeeded(cluster_world, run)
    events = run_events(cluster_world, run)
    checks = [e.event_specific_data for e in events if e.event_type_value == "ASSET_CHECK_EVALUATION"]
    [monthly] = [e.event_specific_data.materialization for e in events if e.event_type_value ==
                 "ASSET_MATERIALIZATION" and e.asset_key == AssetKey(["gips", "portfolio_monthly_returns"])]
    assert checks and all(c.passed for c in checks), [(c.check_name, c.metadata) for c in checks if not c.passed]
    read_on_cluster = monthly.metadata["inputs"].value
    local = WarehouseReads(duckdb_warehouse(eod_world))
    local.portfolios(composite)
    local.daily_returns(composite, year)
    for name in ("silver.portfolios", "gold.daily_returns"):
        assert read_on_cluster[name]["rows"] == local.fingerprints[name]["rows"] > 0, name
    report = Path(cluster_world["env"]["MESH_DATA_DIR"]) / "reports" / "gips" / composite / str(year)
    assert (report / "gips_report.json").is_file() and (report / "gips_report.pdf").stat().st_size > 1000


def test_adx_publishes_each_tenants_rows_read_through_trino(cluster_world, follow_ups, eod_world):
    import pyarrow.parquet as pq

    from mesh_assets.lib.data_products.products import PRODUCTS

    run, day = follow_ups["runs"]["adx_publish"], follow_ups["day"]
    assert_succeeded(cluster_world, run)
    events = run_events(cluster_world, run)
    published = {e.asset_key.path[1]: e.event_specific_data.materialization.metadata["revisions"].value
                 for e in events if e.event_type_value == "ASSET_MATERIALIZATION"}
    assert set(published) == set(PRODUCTS)
    local = duckdb_warehouse(eod_world)
    adx_root = Path(cluster_world["env"]["MESH_DATA_DIR"]) / "adx"
    for product, revisions in published.items():
        spec = PRODUCTS[product]
        expected = local.query(f"select * from {spec.source_table} where {spec.date_column} = date '{day}'").to_pylist()
        assert sorted({r["tenant"] for r in revisions}) == sorted({r["tenant_id"] for r in expected}), product
        for revision in revisions:
            folder = adx_root / "data_sets" / revision["data_set"] / "revisions" / revision["revision_id"]
            [parquet] = folder.glob("*.parquet")
            rows = pq.read_table(parquet).to_pylist()
            tenant_rows = [r for r in expected if r["tenant_id"] == revision["tenant"]]
            assert not differences(f"{product}/{revision['tenant']}", tenant_rows, rows)


def test_the_entitlement_reconcile_grants_what_the_local_gold_entitles(cluster_world, follow_ups, eod_world):
    from zoneinfo import ZoneInfo

    from mesh_assets.entitlements.assets import entitlements_from_gold
    from mesh_assets.entitlements.grants import parse_grant_name
    from resources.adx import AdxResource

    assert_succeeded(cluster_world, follow_ups["runs"]["entitlement_reconcile"])
    today = dt.datetime.now(ZoneInfo("America/New_York")).date()
    wanted = {(g.contract_id, g.data_product, g.receiver_account, g.data_set)
              for g in entitlements_from_gold(duckdb_warehouse(eod_world), today).grants}
    exchange = AdxResource(backend="local", root=str(Path(cluster_world["env"]["MESH_DATA_DIR"]) / "adx")).exchange()
    live = {(*parse_grant_name(g.name), g.receiver_account, g.data_set) for g in exchange.list_grants()
            if not g.expired}
    assert wanted and live == wanted

