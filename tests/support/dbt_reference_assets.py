"""The silver/gold dbt assets as dagster-dbt builds them: ``DbtProject`` + ``@dbt_assets`` + the project's
``DagsterDbtTranslator`` subclass (mesh_assets/warehouse/translator.py), over the same manifest and with the
same selection, partitions and backfill policy as mesh_assets/warehouse/assets.py.

The code location does not load these (see the comment in mesh_assets/warehouse/assets.py); the unit test
tests/unit/test_dbt_assets_equal.py proves them equal to the specs it builds from the manifest, and
benchmarks/definitions_load.py times building them.
"""

from typing import Any

from dagster import AssetExecutionContext, BackfillPolicy

from mesh_assets.shared.partitions import trading_day_partitions
from mesh_assets.warehouse.assets import WAREHOUSE_POOL
from mesh_assets.warehouse.project import DBT_PROJECT_DIR, load_manifest
from mesh_assets.warehouse.translator import DAILY_TAG, dagster_dbt_translator


def reference_dbt_assets() -> list[Any]:
    """``[silver_gold_tables, gold_daily]`` built by ``@dbt_assets`` (their bodies are never run)."""
    from dagster_dbt import DbtProject, dbt_assets

    project = DbtProject(project_dir=DBT_PROJECT_DIR)
    manifest = load_manifest()
    translator = dagster_dbt_translator()

    @dbt_assets(manifest=manifest, project=project, dagster_dbt_translator=translator, name="silver_gold_tables",
                exclude=f"tag:{DAILY_TAG}", pool=WAREHOUSE_POOL)
    def silver_gold_tables(context: AssetExecutionContext):  # no return hint: Dagster reads one as the outputs
        raise NotImplementedError("reference definition: compared, never run")

    @dbt_assets(manifest=manifest, project=project, dagster_dbt_translator=translator, name="gold_daily",
                select=f"tag:{DAILY_TAG}", partitions_def=trading_day_partitions,
                backfill_policy=BackfillPolicy.single_run(), pool=WAREHOUSE_POOL)
    def gold_daily(context: AssetExecutionContext):  # no return hint: Dagster reads one as the outputs
        raise NotImplementedError("reference definition: compared, never run")

    return [silver_gold_tables, gold_daily]
