"""GIPS composite reporting as Dagster assets (group ``gips``); the math lives in ``mesh_assets.gips``."""

from dagster import Definitions


def defs() -> Definitions:
    """The five GIPS assets, partitioned by composite × year."""
    from mesh_assets.gips_reporting.assets import GIPS_ASSETS

    return Definitions(assets=GIPS_ASSETS)
