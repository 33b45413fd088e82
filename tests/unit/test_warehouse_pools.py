"""Which dbt steps share the `warehouse` pool (limit 1 in the instance files) in each environment."""

import pytest

from resources.settings import overridden_environment


@pytest.mark.parametrize(("environment", "daily"), [("local", "warehouse"), ("cluster", None), ("aws", None)])
def test_only_local_keeps_the_daily_gold_step_in_the_one_writer_pool(environment, daily):
    from mesh_assets.warehouse.assets import WAREHOUSE_POOL, build_dbt_assets, daily_pool

    with overridden_environment({"MESH_ENV": environment}):
        tables, gold_daily = build_dbt_assets()
    assert daily_pool(environment) == daily
    assert gold_daily.op.pool == daily
    # a rebuild replaces whole tables: one at a time everywhere
    assert tables.op.pool == WAREHOUSE_POOL
