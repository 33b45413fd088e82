"""GIPS composite reporting as Dagster assets (group ``gips``); the math lives in ``mesh_assets.lib.gips``."""

from dagster import Definitions


def defs() -> Definitions:
    """The six GIPS assets of one composite-year (composite × year) and the firm-wide book (year)."""
    from mesh_assets.gips.assets import GIPS_ASSETS
    from mesh_assets.gips.book import annual_book

    return Definitions(assets=[*GIPS_ASSETS, annual_book])
