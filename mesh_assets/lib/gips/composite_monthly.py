"""Composite monthly returns: member portfolios' returns weighted by assets, month by month."""

from __future__ import annotations

import numpy as np
import pandas as pd

#: GIPS 2020 composite return methods: (a) beginning values, (b) beginning values plus day-weighted
#: external flows, (c) aggregate: the composite treated as one portfolio (Modified Dietz on pooled assets).
WEIGHTING_METHODS = {
    "beginning_value": "asset-weighted by beginning-of-month values (GIPS method a)",
    "beginning_value_plus_weighted_flows": "asset-weighted by beginning-of-month values plus day-weighted "
                                           "external cash flows (GIPS method b)",
    "aggregate": "aggregate method: combined assets and cash flows of all members (GIPS method c)",
}

COMPOSITE_MONTHLY_COLUMNS = (
    "month", "month_first_session", "month_last_session", "members", "incomplete_members", "gross_return",
    "net_return", "benchmark_return", "composite_begin_assets", "composite_end_assets", "weighting_method",
)


def composite_monthly_returns(
    monthly: pd.DataFrame, membership: pd.DataFrame, benchmark: pd.DataFrame, method: str
) -> pd.DataFrame:
    """One row per month with at least one member.

    - ``beginning_value``: ``R_c = sum(BMV_i R_i) / sum(BMV_i)``;
    - ``beginning_value_plus_weighted_flows``: weights ``BMV_i + sum_d CF_id (D - d) / D``;
    - ``aggregate``: ``R_c = (sum EMV - sum BMV - sum CF) / (sum BMV + sum weighted CF)``, and the net return
      deducts the asset-weighted fee: ``(1 + R_c)(1 - sum(BMV_i f_i) / sum BMV_i) - 1``.
    Net returns use the same weights over the members' net returns (methods a and b).
    """
    if method not in WEIGHTING_METHODS:
        raise ValueError(f"unknown composite weighting method {method!r}; choose one of {sorted(WEIGHTING_METHODS)}")
    members = monthly.merge(membership.loc[membership["is_member"], ["portfolio_id", "month"]],
                            on=["portfolio_id", "month"], how="inner")
    if members.empty:
        return pd.DataFrame({c: [] for c in COMPOSITE_MONTHLY_COLUMNS})
    begin = members["begin_value"].to_numpy(dtype=float)
    weights = begin if method == "beginning_value" else begin + members["weighted_flows"].to_numpy(dtype=float)
    members = members.assign(
        weight=weights,
        weighted_gross=weights * members["gross_return"].to_numpy(dtype=float),
        weighted_net=weights * members["net_return"].to_numpy(dtype=float),
        fee_amount=begin * members["fee_rate"].to_numpy(dtype=float),
        incomplete=~members["complete"].astype(bool),
    )
    grouped = members.groupby("month", sort=True).agg(
        month_first_session=("month_first_session", "first"),
        month_last_session=("month_last_session", "first"),
        members=("portfolio_id", "nunique"),
        incomplete_members=("incomplete", "sum"),
        weight=("weight", "sum"),
        weighted_gross=("weighted_gross", "sum"),
        weighted_net=("weighted_net", "sum"),
        composite_begin_assets=("begin_value", "sum"),
        composite_end_assets=("end_value", "sum"),
        net_flows=("net_flows", "sum"),
        weighted_flows=("weighted_flows", "sum"),
        fee_amount=("fee_amount", "sum"),
    ).reset_index()
    if (grouped["weight"] <= 0).any():
        bad = grouped.loc[grouped["weight"] <= 0, "month"].tolist()
        raise ValueError(f"composite weights are not positive in month(s) {bad}: no return can be computed")
    if method == "aggregate":
        gain = grouped["composite_end_assets"] - grouped["composite_begin_assets"] - grouped["net_flows"]
        gross = gain / (grouped["composite_begin_assets"] + grouped["weighted_flows"])
        fee = grouped["fee_amount"] / grouped["composite_begin_assets"]
        net = (1 + gross) * (1 - fee) - 1
    else:
        gross = grouped["weighted_gross"] / grouped["weight"]
        net = grouped["weighted_net"] / grouped["weight"]
    grouped["gross_return"] = gross.to_numpy(dtype=float)
    grouped["net_return"] = net.to_numpy(dtype=float)
    bench = benchmark.set_index("month")["benchmark_return"]
    grouped["benchmark_return"] = grouped["month"].map(bench).astype(float)
    grouped["members"] = grouped["members"].astype("int32")
    grouped["incomplete_members"] = grouped["incomplete_members"].astype("int32")
    grouped["weighting_method"] = method
    return grouped.loc[:, list(COMPOSITE_MONTHLY_COLUMNS)].reset_index(drop=True)


def cumulative_returns(composite_monthly: pd.DataFrame) -> pd.DataFrame:
    """Cumulative composite gross, net and benchmark returns at each month end: ``prod(1 + r) - 1``."""
    ordered = composite_monthly.sort_values("month")
    return pd.DataFrame({
        "month": ordered["month"].to_numpy(),
        "composite_gross": np.cumprod(1 + ordered["gross_return"].to_numpy(dtype=float)) - 1,
        "composite_net": np.cumprod(1 + ordered["net_return"].to_numpy(dtype=float)) - 1,
        "benchmark": np.cumprod(1 + ordered["benchmark_return"].to_numpy(dtype=float)) - 1,
    })
