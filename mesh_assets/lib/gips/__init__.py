"""GIPS 2020 return engine: pure functions and vectorised pipelines, no Dagster import.

Scalar formulas (each docstring gives its formula): ``modified_dietz``, ``time_weighted_return``,
``link_returns``, ``annualize``, ``composite_return``, ``aggregate_composite_return``,
``asset_weighted_dispersion``, ``equal_weighted_dispersion``, ``ex_post_standard_deviation``.

Vectorised pipeline over many portfolios: ``portfolio_monthly_returns`` -> ``composite_membership`` ->
``composite_monthly_returns`` (with ``benchmark_monthly_returns``) -> ``annual_statistics`` -> the report
document (``mesh_assets.lib.gips.report``).
"""

from mesh_assets.lib.gips.annual_statistics import AnnualStatistics, annual_statistics
from mesh_assets.lib.gips.benchmark_returns import benchmark_monthly_returns
from mesh_assets.lib.gips.composite_monthly import WEIGHTING_METHODS, composite_monthly_returns, cumulative_returns
from mesh_assets.lib.gips.composite_returns import aggregate_composite_return, composite_return
from mesh_assets.lib.gips.dispersion import asset_weighted_dispersion, equal_weighted_dispersion
from mesh_assets.lib.gips.fees import FeeTier, annual_fee_rate, monthly_fee_rate, parse_fee_schedule
from mesh_assets.lib.gips.membership import MembershipPolicy, composite_membership
from mesh_assets.lib.gips.monthly_returns import portfolio_monthly_returns
from mesh_assets.lib.gips.returns import annualize, link_returns, modified_dietz, time_weighted_return
from mesh_assets.lib.gips.risk import ex_post_standard_deviation

__all__ = [
    "WEIGHTING_METHODS", "AnnualStatistics", "FeeTier", "MembershipPolicy", "aggregate_composite_return",
    "annual_fee_rate", "annual_statistics", "annualize", "asset_weighted_dispersion", "benchmark_monthly_returns",
    "composite_membership", "composite_monthly_returns", "composite_return", "cumulative_returns",
    "equal_weighted_dispersion", "ex_post_standard_deviation", "link_returns", "modified_dietz", "monthly_fee_rate",
    "parse_fee_schedule", "portfolio_monthly_returns", "time_weighted_return",
]
