"""Silver and gold: the dbt project as Dagster assets, and the checks beyond dbt's tests."""

from dagster import Definitions


def defs() -> Definitions:
    """dbt assets (manifest read here), with the Python checks evaluated inside their steps."""
    from mesh_assets.warehouse import assets

    return Definitions(assets=assets.build_dbt_assets())
