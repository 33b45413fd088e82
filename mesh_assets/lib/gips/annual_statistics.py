"""A composite's annual GIPS statistics: returns, assets, dispersion and 3-year ex-post risk."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from mesh_assets.lib.gips.dispersion import asset_weighted_dispersion, equal_weighted_dispersion
from mesh_assets.lib.gips.returns import link_returns
from mesh_assets.lib.gips.risk import ex_post_standard_deviation

#: Fewer portfolios than this (for the full year) make dispersion "not meaningful" (GIPS 2020 5.A.1.h).
MIN_PORTFOLIOS_FOR_DISPERSION = 6
RISK_MONTHS = 36
DISPERSION_MEASURES = {
    "asset_weighted": "asset-weighted standard deviation of the annual gross returns of portfolios in the "
                      "composite for the full year, weighted by beginning-of-year assets",
    "equal_weighted": "equal-weighted (population) standard deviation of the annual gross returns of portfolios "
                      "in the composite for the full year",
}
NOT_MEANINGFUL = "not meaningful: 5 or fewer portfolios in the composite for the full year"


@dataclass(frozen=True)
class AnnualStatistics:
    """One year of a composite's GIPS statistics table (returns are fractions; None = not presented)."""

    year: int
    period_start: str
    period_end: str
    partial_period: bool
    months: int
    gross_return: float
    net_return: float
    benchmark_return: float | None
    portfolios: int
    composite_assets: float
    firm_assets: float
    percent_of_firm_assets: float
    dispersion: float | None
    dispersion_measure: str
    dispersion_portfolios: int
    dispersion_note: str | None
    composite_3yr_std: float | None
    benchmark_3yr_std: float | None
    std_note: str | None

    def as_dict(self) -> dict:
        """Plain data for tables, JSON and the report."""
        return asdict(self)


def annual_statistics(
    year: int,
    composite_history: pd.DataFrame,
    monthly: pd.DataFrame,
    membership: pd.DataFrame,
    firm_assets: float,
    dispersion_measure: str = "asset_weighted",
    *,
    composite_id: str = "",
) -> AnnualStatistics:
    """Statistics of ``year`` from the composite's monthly history (all months up to the year's end),
    the year's portfolio monthly returns and membership, and the firm's assets at the period end.

    - returns: geometric link of the composite's (and benchmark's) monthly returns in the year;
    - dispersion over portfolios that were members in every composite month of the year, None (not
      meaningful) with 5 or fewer;
    - 3-year ex-post standard deviation (annualised, sample) of the composite's gross and the benchmark's
      monthly returns over the 36 months ending at the year end, None when fewer than 36 consecutive months.
    """
    context = f"composite {composite_id}, {year}" if composite_id else str(year)
    if dispersion_measure not in DISPERSION_MEASURES:
        choices = sorted(DISPERSION_MEASURES)
        raise ValueError(f"unknown dispersion measure {dispersion_measure!r}; choose one of {choices}")
    history = composite_history.sort_values("month").reset_index(drop=True)
    in_year = history[history["month"].str.startswith(f"{year}-")]
    if in_year.empty:
        raise ValueError(f"{context}: the composite has no member in any month of the year")
    last = in_year.iloc[-1]
    benchmark = in_year["benchmark_return"].to_numpy(dtype=float)
    dispersion, dispersion_count, note = _dispersion(in_year["month"].tolist(), monthly, membership,
                                                     dispersion_measure, context)
    composite_std, benchmark_std, std_note = _three_year_risk(history, last["month"], context)
    composite_assets = float(last["composite_end_assets"])
    return AnnualStatistics(
        year=year,
        period_start=str(in_year.iloc[0]["month_first_session"]),
        period_end=str(last["month_last_session"]),
        partial_period=len(in_year) < 12,
        months=len(in_year),
        gross_return=link_returns(in_year["gross_return"].tolist(), context=context),
        net_return=link_returns(in_year["net_return"].tolist(), context=context),
        benchmark_return=(link_returns(benchmark.tolist(), context=context)
                          if np.isfinite(benchmark).all() else None),
        portfolios=int(last["members"]),
        composite_assets=composite_assets,
        firm_assets=float(firm_assets),
        percent_of_firm_assets=composite_assets / firm_assets if firm_assets > 0 else float("nan"),
        dispersion=dispersion,
        dispersion_measure=dispersion_measure,
        dispersion_portfolios=dispersion_count,
        dispersion_note=note,
        composite_3yr_std=composite_std,
        benchmark_3yr_std=benchmark_std,
        std_note=std_note,
    )


def _dispersion(
    months: list[str], monthly: pd.DataFrame, membership: pd.DataFrame, measure: str, context: str
) -> tuple[float | None, int, str | None]:
    member_months = membership[membership["is_member"] & membership["month"].isin(months)]
    counts = member_months.groupby("portfolio_id")["month"].nunique()
    full_year = counts[counts == len(months)].index
    if len(full_year) < MIN_PORTFOLIOS_FOR_DISPERSION:
        return None, len(full_year), NOT_MEANINGFUL
    rows = monthly[monthly["portfolio_id"].isin(full_year) & monthly["month"].isin(months)].sort_values(
        ["portfolio_id", "month"])
    rows = rows.assign(log_growth=np.log1p(rows["gross_return"].to_numpy(dtype=float)))
    grouped = rows.groupby("portfolio_id", sort=True)
    annual = np.expm1(grouped["log_growth"].sum())
    begin = grouped["begin_value"].first()
    if measure == "equal_weighted":
        return equal_weighted_dispersion(annual.tolist(), context=context), len(full_year), None
    return (asset_weighted_dispersion(annual.tolist(), begin.reindex(annual.index).tolist(), context=context),
            len(full_year), None)


def _three_year_risk(
    history: pd.DataFrame, last_month: str, context: str
) -> tuple[float | None, float | None, str | None]:
    end = pd.Period(last_month, "M")
    wanted = [str(end - offset) for offset in range(RISK_MONTHS - 1, -1, -1)]
    window = history.set_index("month").reindex(wanted)
    if window["gross_return"].isna().any():
        available = int(window["gross_return"].notna().sum())
        return None, None, f"not presented: {available} of the {RISK_MONTHS} monthly returns needed exist"
    composite_std = ex_post_standard_deviation(window["gross_return"].tolist(), context=context)
    bench = window["benchmark_return"]
    if bench.isna().any():
        return composite_std, None, "benchmark not presented: its 36-month series has gaps"
    return composite_std, ex_post_standard_deviation(bench.tolist(), context=context), None
