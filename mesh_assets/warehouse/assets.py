"""Silver and gold as dbt assets: the unpartitioned models, and the daily ones on NYSE partitions."""

from collections.abc import Iterator
from typing import Any

from dagster import AssetExecutionContext, BackfillPolicy, multi_asset

from mesh_assets.shared.partitions import trading_day_partitions
from mesh_assets.warehouse.checks import build_checks
from mesh_assets.warehouse.checks.in_step import run_checks, specs_for
from mesh_assets.warehouse.dbt_run import run_dbt
from mesh_assets.warehouse.dbt_specs import dbt_specs
from mesh_assets.warehouse.project import load_manifest
from resources.dbt import DbtWarehouseResource
from resources.iceberg import IcebergCatalogResource
from resources.settings import mesh_env
from resources.warehouse import WarehouseResource

#: One dbt process at a time writes the warehouse (a DuckDB file has one writer). The instance's pool limit is 1.
WAREHOUSE_POOL = "warehouse"


def daily_pool(environment: str | None = None) -> str | None:
    """The pool of the daily gold step in ``environment`` (default: ``MESH_ENV``, read at definitions load).

    ``local``: the ``warehouse`` pool, as every dbt step (DuckDB's single writer). ``cluster`` and ``aws``: none,
    so runs of different days write at once; each merges only its days' rows into Iceberg tables (partitioned by
    month), and Iceberg's optimistic commits keep both. The unpartitioned silver and gold tables stay in the
    ``warehouse`` pool everywhere: a rebuild replaces a whole table, one rebuild at a time.
    """
    return WAREHOUSE_POOL if (environment or mesh_env()) == "local" else None


# Specs from the manifest, not dagster-dbt's @dbt_assets: measured by benchmarks/definitions_load.py (median of 5
# fresh processes, same run), importing dagster_dbt at load makes the definitions take 2.3x `import dagster`
# (2.8x with @dbt_assets built) against 1.2x without it, over issue 20's 1.6x limit, and every run process pays
# it. tests/unit/test_dbt_assets_equal.py builds the same assets with @dbt_assets and the project's translator
# and proves them equal (keys, deps, groups, owners, kinds, tags, partitions, backfill policy, code versions,
# checks).
def build_dbt_assets() -> list[Any]:
    """The two dbt multi-assets (the manifest is read here, not at import), each with the dbt tests and the
    Python checks of its models evaluated in its step."""
    manifest = load_manifest()
    tables = dbt_specs(manifest, daily=False, partitions_def=None)
    daily = dbt_specs(manifest, daily=True, partitions_def=trading_day_partitions)
    checks = build_checks()
    table_checks = [c for c in checks if c.spec.asset_key in tables.unique_id_by_key]
    daily_checks = [c for c in checks if c.spec.asset_key in daily.unique_id_by_key]

    @multi_asset(name="silver_gold_tables", specs=tables.assets, can_subset=True, pool=WAREHOUSE_POOL,
                 check_specs=[*tables.checks, *specs_for(table_checks, set(tables.unique_id_by_key))])
    def silver_gold_tables(
        context: AssetExecutionContext, dbt: DbtWarehouseResource, warehouse: WarehouseResource,
        iceberg: IcebergCatalogResource,
    ) -> Iterator[Any]:
        """Silver (CDC applied, prices, closes, reference, contracts) and the unpartitioned gold tables."""
        yield from run_dbt(context, dbt, warehouse, manifest, tables.unique_id_by_key, iceberg=iceberg)
        yield from run_checks(context, warehouse, table_checks)

    @multi_asset(name="gold_daily", specs=daily.assets, can_subset=True,
                 check_specs=[*daily.checks, *specs_for(daily_checks, set(daily.unique_id_by_key))],
                 partitions_def=trading_day_partitions, backfill_policy=BackfillPolicy.single_run(),
                 pool=daily_pool())
    def gold_daily(
        context: AssetExecutionContext, dbt: DbtWarehouseResource, warehouse: WarehouseResource
    ) -> Iterator[Any]:
        """The daily gold models for the partition's trading days (a range in one run for backfills)."""
        yield from run_dbt(context, dbt, warehouse, manifest, daily.unique_id_by_key)
        yield from run_checks(context, warehouse, daily_checks)

    return [silver_gold_tables, gold_daily]
