"""Portfolio monthly returns: daily-valued true TWR linked to calendar months, gross and net of fees.

The firm values every portfolio at every NYSE close and books external flows at the close, so each
daily return is exact (``r_d = (EMV - CF) / BMV - 1``) and a month's return is the geometric link of its
sessions' returns (GIPS 2020: portfolios valued at least monthly and at each large cash flow). Vectorised
over all portfolios at once: no Python loop per row.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from mesh_assets.lib.gips.fees import monthly_fee_rate, net_of_fee, parse_fee_schedule

#: Daily return statuses that mean a session's return is missing (the month is then incomplete).
MISSING_STATUSES = ("previous_session_missing", "incomplete_valuation")

#: Columns of the daily input (one row per portfolio and session, from gold daily returns).
DAILY_COLUMNS = ("portfolio_id", "as_of_date", "begin_value", "end_value", "external_flow", "daily_return",
                 "return_status")

#: Columns of the result, in order.
MONTHLY_COLUMNS = (
    "portfolio_id", "month", "month_first_session", "month_last_session", "first_day", "last_day", "sessions",
    "return_days", "missing_return_days", "begin_value", "end_value", "net_flows", "weighted_flows",
    "max_flow_ratio", "gross_return", "fee_rate", "net_return", "complete",
)


def month_sessions(sessions: Iterable[dt.date]) -> pd.DataFrame:
    """First session, last session and number of sessions of each calendar month (``month`` = ``YYYY-MM``)."""
    days = pd.to_datetime(pd.Series(sorted(sessions), dtype="object"))
    frame = pd.DataFrame({"day": days, "month": days.dt.to_period("M")})
    grouped = frame.groupby("month", sort=True)["day"].agg(["min", "max", "count"])
    grouped.columns = ["month_first_session", "month_last_session", "sessions"]
    return grouped.reset_index()


def portfolio_monthly_returns(
    daily: pd.DataFrame, sessions: Iterable[dt.date], fee_schedules: Mapping[str, str]
) -> pd.DataFrame:
    """Monthly gross and net returns of every portfolio in ``daily``.

    - ``gross_return = prod(1 + r_d) - 1`` over the month's sessions with a return (status ``ok``);
    - ``net_return = (1 + gross) * (1 - fee) - 1`` with ``fee`` one twelfth of the portfolio's tiered annual
      fee on the month's begin value (``fee_schedules``: portfolio id -> JSON schedule);
    - ``weighted_flows = sum CF_d * (D - day_d) / D`` (``D`` calendar days of the month, flows at the close of
      day ``day_d``) for composite weighting method (b);
    - ``max_flow_ratio = max |CF_d| / BMV_d`` over sessions with a positive begin value (significant flows);
    - ``complete``: the portfolio has a return for every session of the calendar month.
    ValueError names the portfolio when its fee schedule is missing or malformed.
    """
    missing_columns = [c for c in DAILY_COLUMNS if c not in daily.columns]
    if missing_columns:
        raise ValueError(f"daily returns lack columns {missing_columns}")
    if daily.empty:
        return pd.DataFrame({c: [] for c in MONTHLY_COLUMNS})
    frame = daily.loc[:, list(DAILY_COLUMNS)].copy()
    frame["as_of_date"] = pd.to_datetime(frame["as_of_date"])
    frame = frame.sort_values(["portfolio_id", "as_of_date"], kind="stable")
    frame["month"] = frame["as_of_date"].dt.to_period("M")
    status = frame["return_status"].to_numpy()
    returns = frame["daily_return"].to_numpy(dtype=float)
    has_return = (status == "ok") & np.isfinite(returns)
    begin = frame["begin_value"].to_numpy(dtype=float)
    flow = frame["external_flow"].to_numpy(dtype=float)
    day = frame["as_of_date"].dt.day.to_numpy()
    days_in_month = frame["as_of_date"].dt.days_in_month.to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(begin > 0, np.abs(flow) / begin, np.nan)
    frame = frame.assign(
        log_growth=np.where(has_return, np.log1p(np.where(has_return, returns, 0.0)), 0.0),
        has_return=has_return,
        is_missing=np.isin(status, MISSING_STATUSES) | ((status == "ok") & ~np.isfinite(returns)),
        weighted_flow=flow * (days_in_month - day) / days_in_month,
        flow_ratio=ratio,
    )
    grouped = frame.groupby(["portfolio_id", "month"], sort=True)
    monthly = grouped.agg(
        first_day=("as_of_date", "first"),
        last_day=("as_of_date", "last"),
        return_days=("has_return", "sum"),
        missing_return_days=("is_missing", "sum"),
        begin_value=("begin_value", "first"),
        end_value=("end_value", "last"),
        net_flows=("external_flow", "sum"),
        weighted_flows=("weighted_flow", "sum"),
        max_flow_ratio=("flow_ratio", "max"),
        log_growth=("log_growth", "sum"),
    ).reset_index()
    monthly = monthly.merge(month_sessions(_sessions_between(sessions, frame)), on="month", how="left")
    if monthly["sessions"].isna().any():
        months = sorted(str(m) for m in monthly.loc[monthly["sessions"].isna(), "month"].unique())
        raise ValueError(f"daily returns fall in months without trading sessions in the calendar: {months[:5]}")
    monthly["gross_return"] = np.expm1(monthly["log_growth"].to_numpy())
    monthly["fee_rate"] = _fee_rates(monthly, fee_schedules)
    monthly["net_return"] = net_of_fee(monthly["gross_return"].to_numpy(), monthly["fee_rate"].to_numpy())
    monthly["complete"] = (monthly["return_days"] == monthly["sessions"]) & (monthly["missing_return_days"] == 0)
    monthly["month"] = monthly["month"].astype(str)
    for column in ("sessions", "return_days", "missing_return_days"):
        monthly[column] = monthly[column].astype("int32")
    for column in ("first_day", "last_day", "month_first_session", "month_last_session"):
        monthly[column] = monthly[column].dt.date
    return monthly.loc[:, list(MONTHLY_COLUMNS)].reset_index(drop=True)


def _sessions_between(sessions: Iterable[dt.date], frame: pd.DataFrame) -> list[dt.date]:
    """The calendar's sessions of the months ``frame`` covers."""
    first = frame["as_of_date"].min().to_period("M").start_time.date()
    last = frame["as_of_date"].max().to_period("M").end_time.date()
    return [d for d in sessions if first <= d <= last]


def _fee_rates(monthly: pd.DataFrame, fee_schedules: Mapping[str, str]) -> np.ndarray:
    """Monthly fee rate of each row, one vectorised pass per distinct schedule."""
    schedule_text = monthly["portfolio_id"].map(fee_schedules)
    if schedule_text.isna().any():
        missing = sorted(monthly.loc[schedule_text.isna(), "portfolio_id"].unique())
        raise ValueError(f"no fee schedule for portfolio(s) {missing[:5]}: net-of-fee returns cannot be computed")
    rates = np.empty(len(monthly))
    begin = monthly["begin_value"].to_numpy(dtype=float)
    for text, rows in monthly.groupby(schedule_text, sort=True).indices.items():
        first_portfolio = monthly["portfolio_id"].iat[rows[0]]
        tiers = parse_fee_schedule(text, context=f"portfolio {first_portfolio}")
        rates[rows] = monthly_fee_rate(tiers, begin[rows])
    return rates
