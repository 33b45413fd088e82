"""Composite membership: which portfolios belong to a composite in each month, and why (or why not).

The rules, configurable per composite and recorded in the report (GIPS 2020, 3.A):
- only discretionary portfolios of the composite's strategy are members;
- a portfolio joins at the start of its first full month under management and leaves at the end of its
  last full month. The firm funds a portfolio at the close of its inception day and liquidates it at the
  close of its termination day, so the inception month (unless inception precedes the month's first
  session) and the termination month are never full;
- significant cash flow policy: a month holding an external flow of at least the threshold (a share of
  the portfolio's value just before it) removes the portfolio for that month; it rejoins the next month;
- minimum size: a month starting below the composite's minimum is excluded;
- a month whose last session is after the data's last day is still in progress: nobody is a member yet.
Membership is data: one row per portfolio and month with its status, and the join/leave events.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

#: Statuses in order of precedence (the first that applies wins).
STATUSES = (
    "month_in_progress", "non_discretionary", "before_first_full_month", "after_last_full_month", "below_minimum_size",
    "significant_cash_flow", "member",
)

MEMBERSHIP_COLUMNS = ("portfolio_id", "month", "status", "is_member", "event", "begin_value", "end_value",
                      "max_flow_ratio")


@dataclass(frozen=True)
class MembershipPolicy:
    """A composite's membership rules."""

    min_portfolio_size: float
    significant_cash_flow_pct: float | None
    join_rule: str = "first full month under management"
    leave_rule: str = "last full month under management"

    def __post_init__(self) -> None:
        if self.min_portfolio_size < 0:
            raise ValueError(f"minimum portfolio size must not be negative: {self.min_portfolio_size}")
        if self.significant_cash_flow_pct is not None and self.significant_cash_flow_pct <= 0:
            raise ValueError(f"significant cash flow threshold must be positive: {self.significant_cash_flow_pct}")

    def as_dict(self) -> dict:
        """The policy as plain data (recorded in the report and in metadata)."""
        return asdict(self)

    def describe(self) -> str:
        """The policy in the words a GIPS disclosure uses."""
        flow = (f"A portfolio with an external cash flow of {self.significant_cash_flow_pct:g}% or more of its "
                "value is removed from the composite for the month of the flow and returns the following month."
                if self.significant_cash_flow_pct is not None else "The composite has no significant cash flow policy.")
        return (f"Discretionary portfolios join the composite at the start of their {self.join_rule} and leave at "
                f"the end of their {self.leave_rule}. {flow} Portfolios below USD {self.min_portfolio_size:,.0f} "
                "at the start of a month are excluded for that month.")


def composite_membership(
    monthly: pd.DataFrame, portfolios: pd.DataFrame, policy: MembershipPolicy, data_through: object = None
) -> pd.DataFrame:
    """Membership of every portfolio-month in ``monthly`` (portfolio monthly returns) under ``policy``.

    ``data_through`` is the last day with daily returns (default: the latest ``last_day`` in ``monthly``);
    months ending after it are ``month_in_progress``.

    ``portfolios`` has ``portfolio_id, discretionary, inception_date, termination_date``. ``event`` is
    ``join`` when a member month follows a non-member month (or the portfolio's first month), ``leave`` on the
    first non-member month after a member month, else empty.
    """
    if monthly.empty:
        return pd.DataFrame({c: [] for c in MEMBERSHIP_COLUMNS})
    unknown = sorted(set(monthly["portfolio_id"]) - set(portfolios["portfolio_id"]))
    if unknown:
        raise ValueError(f"monthly returns name portfolios missing from the reference data: {unknown[:5]}")
    frame = monthly.merge(
        portfolios.loc[:, ["portfolio_id", "discretionary", "inception_date", "termination_date"]],
        on="portfolio_id", how="left",
    ).sort_values(["portfolio_id", "month"], kind="stable")
    first_session = pd.to_datetime(frame["month_first_session"])
    last_session = pd.to_datetime(frame["month_last_session"])
    inception = pd.to_datetime(frame["inception_date"])
    termination = pd.to_datetime(frame["termination_date"])
    threshold = np.inf if policy.significant_cash_flow_pct is None else policy.significant_cash_flow_pct / 100
    horizon = pd.Timestamp(data_through if data_through is not None else max(monthly["last_day"]))
    conditions = [
        (last_session > horizon).to_numpy(),
        ~frame["discretionary"].astype(bool).to_numpy(),
        (inception >= first_session).to_numpy(),
        (termination.notna() & (termination <= last_session)).to_numpy(),
        (frame["begin_value"].to_numpy(dtype=float) < policy.min_portfolio_size),
        (np.nan_to_num(frame["max_flow_ratio"].to_numpy(dtype=float), nan=0.0) >= threshold),
    ]
    frame["status"] = np.select(conditions, STATUSES[:-1], default="member")
    frame["is_member"] = frame["status"] == "member"
    previous = frame.groupby("portfolio_id", sort=False)["is_member"].shift(1, fill_value=False).astype(bool)
    frame["event"] = np.select(
        [frame["is_member"] & ~previous, ~frame["is_member"] & previous], ["join", "leave"], default=""
    )
    return frame.loc[:, list(MEMBERSHIP_COLUMNS)].reset_index(drop=True)
