"""One composite-year's GIPS figures from frames already in memory: what the five per-partition assets compute,
in one call, so a firm-wide book can run every composite of a year (and many years) in one process.

The portfolio monthly returns come in already computed (one vectorised call over every portfolio of the firm);
this module only slices and combines, and reports every check verdict the assets would report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from mesh_assets.lib.gips.annual_statistics import annual_statistics
from mesh_assets.lib.gips.composite_monthly import composite_monthly_returns
from mesh_assets.lib.gips.membership import MembershipPolicy, composite_membership
from mesh_assets.lib.gips.quality import (
    benchmark_series_complete,
    composite_assets_reconcile,
    firm_assets_cover_composite,
    member_months_have_returns,
    plausible_monthly_returns,
)


@dataclass
class CompositeYear:
    """The figures of one composite-year, in the shapes the GIPS tables store, and the check verdicts."""

    composite_id: str
    year: int
    monthly: pd.DataFrame
    membership: pd.DataFrame
    composite_monthly: pd.DataFrame
    statistics: dict[str, Any] | None
    verdicts: dict[str, Any] = field(default_factory=dict)


def policy_of(composite: Mapping[str, Any]) -> MembershipPolicy:
    """The composite's membership policy from its reference row."""
    return MembershipPolicy(min_portfolio_size=float(composite["min_portfolio_size"]),
                            significant_cash_flow_pct=float(composite["significant_cash_flow_pct"]))


def composite_year(
    *, composite: Mapping[str, Any], year: int, monthly: pd.DataFrame, portfolios: pd.DataFrame,
    benchmark: pd.DataFrame, earlier_composite_monthly: pd.DataFrame, firm_assets_on: Mapping[str, float],
    data_through: dt.date | None, weighting_method: str, dispersion_measure: str, plausible_monthly_return: float,
) -> CompositeYear:
    """Membership, composite monthly returns and the year's statistics of ``composite`` in ``year``.

    ``monthly``: the composite's portfolio monthly returns of the year; ``benchmark``: the benchmark's monthly
    returns; ``earlier_composite_monthly``: its composite monthly returns of the two years before (for the
    3-year risk, with a ``year`` column); ``firm_assets_on``: total firm assets by ISO day.
    """
    cid = str(composite["composite_id"])
    verdicts = {"monthly_returns_plausible": plausible_monthly_returns(monthly, plausible_monthly_return)}
    membership = composite_membership(monthly, portfolios, policy_of(composite), data_through=data_through)
    verdicts["member_months_have_returns"] = member_months_have_returns(monthly, membership)
    result = composite_monthly_returns(monthly, membership, benchmark, weighting_method)
    result.insert(result.columns.get_loc("benchmark_return"), "benchmark_id", composite["benchmark_id"])
    verdicts["composite_assets_reconcile"] = composite_assets_reconcile(result, monthly, membership)
    verdicts["benchmark_series_complete"] = benchmark_series_complete(result)
    statistics = None
    if not result.empty:
        history = pd.concat([earlier_composite_monthly, result.assign(year=year)], ignore_index=True)
        period_end = str(result["month_last_session"].max())
        stats = annual_statistics(year, history, monthly, membership, float(firm_assets_on[period_end]),
                                  dispersion_measure, composite_id=cid)
        statistics = stats.as_dict()
        verdicts["firm_assets_cover_composite"] = firm_assets_cover_composite(pd.DataFrame([statistics]))
    return CompositeYear(cid, year, monthly, membership, result, statistics, verdicts)
