"""Silver and gold: the dbt project as Dagster assets, and the checks beyond dbt's tests."""

from dagster import Definitions


def defs() -> Definitions:
    """dbt assets (manifest read here) and the Python checks beside them."""
    from mesh_assets.silver_gold import assets, checks

    return Definitions(assets=assets.build_dbt_assets(), asset_checks=checks.build_checks())
