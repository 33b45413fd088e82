"""The vectorised GIPS pipeline (fees, monthly returns, membership, composite, statistics, checks, report).

Every input is built by hand on real NYSE sessions, and every expected number is worked out in the test,
by explicit arithmetic or with the scalar engine (``returns``, ``composite_returns``, ``dispersion``,
``risk``), which has its own worked-example tests in ``test_gips_engine.py``.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mesh_assets.lib.gips.annual_statistics import NOT_MEANINGFUL, AnnualStatistics, annual_statistics
from mesh_assets.lib.gips.benchmark_returns import benchmark_monthly_returns
from mesh_assets.lib.gips.composite_monthly import (
    COMPOSITE_MONTHLY_COLUMNS,
    composite_monthly_returns,
    cumulative_returns,
)
from mesh_assets.lib.gips.composite_returns import aggregate_composite_return, composite_return
from mesh_assets.lib.gips.dispersion import asset_weighted_dispersion, equal_weighted_dispersion
from mesh_assets.lib.gips.fees import (
    FeeTier,
    annual_fee_rate,
    describe_schedule,
    monthly_fee_rate,
    net_of_fee,
    parse_fee_schedule,
)
from mesh_assets.lib.gips.membership import MEMBERSHIP_COLUMNS, MembershipPolicy, composite_membership
from mesh_assets.lib.gips.monthly_returns import MONTHLY_COLUMNS, month_sessions, portfolio_monthly_returns
from mesh_assets.lib.gips.quality import (
    benchmark_series_complete,
    composite_assets_reconcile,
    firm_assets_cover_composite,
    member_months_have_returns,
    plausible_monthly_returns,
)
from mesh_assets.lib.gips.report.document import build_report, input_fingerprint
from mesh_assets.lib.gips.report.serialize import STATISTICS_COLUMNS, report_json, statistics_csv
from mesh_assets.lib.gips.returns import link_returns
from mesh_assets.lib.gips.risk import ex_post_standard_deviation
from mesh_assets.lib.trading_calendar import trading_days

TIGHT = {"rel": 1e-12, "abs": 1e-12}
MILLION = 1_000_000.0

#: 75 bps on the first USD 50m, 50 bps above.
TIERED = '[{"up_to": 50000000, "bps": 75}, {"up_to": null, "bps": 50}]'
#: 100 bps on the first USD 10m, 60 bps on the next 40m, 40 bps above 50m.
THREE_TIERS = '[{"up_to": 10000000, "bps": 100}, {"up_to": 50000000, "bps": 60}, {"up_to": null, "bps": 40}]'

#: Real NYSE sessions of 2019 to 2026 (the generated calendar starts in 2019).
SESSIONS = trading_days(dt.date(2019, 1, 1), dt.date(2026, 12, 31))
SESSIONS_BY_MONTH: dict[str, list[dt.date]] = {}
for _session in SESSIONS:
    SESSIONS_BY_MONTH.setdefault(_session.strftime("%Y-%m"), []).append(_session)

DISCLOSURE_TITLES = ("Compliance statement and verification status", "Definition of the firm",
                     "Composite description", "Benchmark description", "Gross-of-fees returns", "Net-of-fees returns",
                     "Currency", "Internal dispersion", "Fee schedule", "Composite creation date",
                     "Composite inception date", "List of composite descriptions", "Policies available upon request",
                     "Trading expenses", "Withholding taxes", "Minimum portfolio size and significant cash flows",
                     "Three-year ex-post standard deviation", "Calculation methodology")


# --- helpers ----------------------------------------------------------------------------------------------


def sessions_of(month: str) -> list[dt.date]:
    """The NYSE sessions of ``month`` (``YYYY-MM``)."""
    return list(SESSIONS_BY_MONTH.get(month, []))


def months_between(first: str, last: str) -> list[str]:
    """``YYYY-MM`` months from ``first`` to ``last``, both inclusive."""
    return [str(p) for p in pd.period_range(first, last, freq="M")]


def daily_frame(
    portfolio_id: str,
    days: Sequence[dt.date],
    returns: Sequence[float],
    *,
    begin: float,
    flows: Mapping[dt.date, float] | None = None,
    statuses: Mapping[dt.date, str] | None = None,
) -> pd.DataFrame:
    """Gold daily returns of one portfolio: ``EMV = BMV (1 + r) + CF`` with flows booked at the close.

    A day given a status other than ``ok`` has no return (and ``previous_session_missing`` no begin value).
    """
    flows = flows or {}
    statuses = statuses or {}
    rows, value = [], begin
    for day, r in zip(days, returns, strict=True):
        flow = flows.get(day, 0.0)
        status = statuses.get(day, "ok")
        end = value * (1.0 + r) + flow
        rows.append({
            "portfolio_id": portfolio_id, "as_of_date": day,
            "begin_value": math.nan if status == "previous_session_missing" else value,
            "end_value": end, "external_flow": flow,
            "daily_return": r if status == "ok" else math.nan, "return_status": status,
        })
        value = end
    return pd.DataFrame(rows)


def varied_returns(count: int, start: int = 0) -> list[float]:
    """Distinct small daily returns: 0.001 · ((7 k) mod 11 - 5) + 0.0001 · k."""
    return [0.001 * ((7 * k) % 11 - 5) + 0.0001 * k for k in range(start, start + count)]


def month_row(portfolio_id: str, month: str, **values: Any) -> dict[str, Any]:
    """One portfolio-month shaped like ``portfolio_monthly_returns`` output (defaults for the rest)."""
    days = sessions_of(month)
    row = {
        "portfolio_id": portfolio_id, "month": month, "month_first_session": days[0], "month_last_session": days[-1],
        "first_day": days[0], "last_day": days[-1], "sessions": len(days), "return_days": len(days),
        "missing_return_days": 0, "begin_value": 10 * MILLION, "end_value": 10 * MILLION, "net_flows": 0.0,
        "weighted_flows": 0.0, "max_flow_ratio": math.nan, "gross_return": 0.0, "fee_rate": 0.0,
        "net_return": 0.0, "complete": True,
    }
    unknown = set(values) - set(row)
    assert not unknown, f"month_row does not know {unknown}"
    row.update(values)
    return row


def monthly_frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=list(MONTHLY_COLUMNS))


def portfolios_frame(*rows: tuple[str, bool, dt.date, dt.date | None]) -> pd.DataFrame:
    """Reference data: (portfolio_id, discretionary, inception_date, termination_date)."""
    return pd.DataFrame(rows, columns=["portfolio_id", "discretionary", "inception_date", "termination_date"])


def membership_frame(rows: Iterable[tuple[str, str, bool]]) -> pd.DataFrame:
    """Membership shaped like ``composite_membership`` output: (portfolio_id, month, is_member)."""
    records = [{"portfolio_id": p, "month": m, "status": "member" if member else "significant_cash_flow",
                "is_member": member, "event": "", "begin_value": 0.0, "end_value": 0.0, "max_flow_ratio": 0.0}
               for p, m, member in rows]
    frame = pd.DataFrame(records, columns=list(MEMBERSHIP_COLUMNS))
    frame["is_member"] = frame["is_member"].astype(bool)
    return frame


def statuses_by_month(membership: pd.DataFrame, portfolio_id: str) -> dict[str, tuple[str, str]]:
    """``month -> (status, event)`` of one portfolio."""
    rows = membership[membership["portfolio_id"] == portfolio_id]
    return {m: (s, e) for m, s, e in zip(rows["month"], rows["status"], rows["event"], strict=True)}


def history_frame(months: Sequence[str], gross: Sequence[float], net: Sequence[float], bench: Sequence[float],
                  *, end_assets: Sequence[float] | None = None, members: int = 7) -> pd.DataFrame:
    """A composite's monthly history shaped like ``composite_monthly_returns`` output."""
    assets = list(end_assets) if end_assets is not None else [100 * MILLION] * len(months)
    return pd.DataFrame({
        "month": list(months),
        "month_first_session": [sessions_of(m)[0] for m in months],
        "month_last_session": [sessions_of(m)[-1] for m in months],
        "members": [members] * len(months),
        "incomplete_members": [0] * len(months),
        "gross_return": list(gross),
        "net_return": list(net),
        "benchmark_return": list(bench),
        "composite_begin_assets": assets,
        "composite_end_assets": assets,
        "weighting_method": ["beginning_value"] * len(months),
    })


def empty_membership() -> pd.DataFrame:
    return membership_frame([])


POLICY = MembershipPolicy(min_portfolio_size=1 * MILLION, significant_cash_flow_pct=10.0)


# --- 1. fees ----------------------------------------------------------------------------------------------


def test_parse_fee_schedule_reads_the_tiers():
    assert parse_fee_schedule(TIERED) == (FeeTier(50_000_000.0, 75.0), FeeTier(None, 50.0))


def test_annual_fee_rate_blends_the_tiers_on_the_slice_of_assets_in_each():
    tiers = parse_fee_schedule(TIERED)
    rates = annual_fee_rate(tiers, np.array([80 * MILLION, 50 * MILLION, 20 * MILLION]))
    # 80m: 75 bps on the first 50m, 50 bps on the other 30m
    assert rates[0] == pytest.approx((50 * MILLION * 0.0075 + 30 * MILLION * 0.005) / (80 * MILLION), **TIGHT)
    assert rates[0] == pytest.approx(0.0065625, **TIGHT)
    # at or below the first bound everything pays 75 bps
    assert rates[1] == pytest.approx(0.0075, **TIGHT)
    assert rates[2] == pytest.approx(0.0075, **TIGHT)


def test_annual_fee_rate_of_three_tiers():
    tiers = parse_fee_schedule(THREE_TIERS)
    rate = annual_fee_rate(tiers, np.array([70 * MILLION]))[0]
    # 10m at 1.00% + 40m at 0.60% + 20m at 0.40% on 70m
    assert rate == pytest.approx((100_000 + 240_000 + 80_000) / (70 * MILLION), **TIGHT)


def test_annual_fee_rate_of_an_empty_portfolio_is_the_first_tier_rate():
    tiers = parse_fee_schedule(TIERED)
    assert annual_fee_rate(tiers, np.array([0.0]))[0] == pytest.approx(0.0075, **TIGHT)


def test_monthly_fee_is_a_twelfth_and_net_return_deducts_it_at_month_end():
    tiers = parse_fee_schedule(TIERED)
    fee = monthly_fee_rate(tiers, np.array([80 * MILLION]))
    assert fee[0] == pytest.approx(0.0065625 / 12, **TIGHT)
    gross = np.array([0.02, -0.03])
    fees = np.array([0.0065625 / 12, 0.0075 / 12])
    net = net_of_fee(gross, fees)
    assert net[0] == pytest.approx(1.02 * (1 - 0.0065625 / 12) - 1, **TIGHT)
    assert net[1] == pytest.approx(0.97 * (1 - 0.0075 / 12) - 1, **TIGHT)


def test_describe_schedule_in_plain_english():
    assert describe_schedule(parse_fee_schedule(TIERED)) == "0.75% on the first USD 50m; 0.50% above USD 50m"
    assert describe_schedule(parse_fee_schedule(THREE_TIERS)) == (
        "1.00% on the first USD 10m; 0.60% on the next USD 40m; 0.40% above USD 50m")
    assert describe_schedule(parse_fee_schedule('[{"up_to": null, "bps": 60}]')) == "0.60% on all assets"


def test_describe_schedule_states_breakpoints_that_are_not_whole_millions():
    # the Fee schedule disclosure must not misstate a tier: 2.5m is not "USD 2m", 12.5m is not "USD 12m"
    text = describe_schedule(parse_fee_schedule(
        '[{"up_to": 2500000, "bps": 100}, {"up_to": 12500000, "bps": 75}, {"up_to": null, "bps": 50}]'))
    assert text == "1.00% on the first USD 2.5m; 0.75% on the next USD 10m; 0.50% above USD 12.5m"


@pytest.mark.parametrize("text", [
    '[{"up_to": null, "bps": NaN}]',
    '[{"up_to": 50000000, "bps": NaN}, {"up_to": null, "bps": 50}]',
])
def test_a_fee_schedule_with_a_nan_fee_raises_naming_the_context(text: str):
    # Python's json module reads the non-standard NaN literal; a NaN fee is not a non-negative fee
    with pytest.raises(ValueError, match=r"\(portfolio P-0042\)"):
        parse_fee_schedule(text, context="portfolio P-0042")


@pytest.mark.parametrize("text", [
    "not json",
    '{"up_to": null, "bps": 50}',
    '[{"up_to": null}]',
    '[{"bps": 50}]',
    "[]",
    '[{"up_to": 50000000, "bps": 75}]',
    '[{"up_to": 50000000, "bps": 75}, {"up_to": 10000000, "bps": 60}, {"up_to": null, "bps": 50}]',
    '[{"up_to": null, "bps": 75}, {"up_to": null, "bps": 50}]',
    '[{"up_to": 50000000, "bps": -75}, {"up_to": null, "bps": 50}]',
])
def test_malformed_fee_schedule_raises_naming_the_context(text: str):
    with pytest.raises(ValueError, match=r"\(portfolio P-0042\)"):
        parse_fee_schedule(text, context="portfolio P-0042")


# --- 2. portfolio monthly returns --------------------------------------------------------------------------


def test_month_sessions_on_real_nyse_sessions():
    calendar = month_sessions(sessions_of("2025-01") + sessions_of("2025-02"))
    assert [str(m) for m in calendar["month"]] == ["2025-01", "2025-02"]
    # January 2025: 23 weekdays less New Year's Day, the 9 January national day of mourning and MLK day
    assert calendar["sessions"].tolist() == [20, 19]  # February: 20 weekdays less Presidents' Day
    assert [d.date() for d in calendar["month_first_session"]] == [dt.date(2025, 1, 2), dt.date(2025, 2, 3)]
    assert [d.date() for d in calendar["month_last_session"]] == [dt.date(2025, 1, 31), dt.date(2025, 2, 28)]


def two_month_portfolio() -> tuple[pd.DataFrame, dict[dt.date, float]]:
    """P-1 over January and February 2025 from 80m, with flows on 10 and 31 January and 3 February."""
    days = sessions_of("2025-01") + sessions_of("2025-02")
    flows = {dt.date(2025, 1, 10): 4 * MILLION, dt.date(2025, 1, 31): -2 * MILLION, dt.date(2025, 2, 3): 3 * MILLION}
    return daily_frame("P-1", days, varied_returns(len(days)), begin=80 * MILLION, flows=flows), flows


def test_monthly_gross_return_links_the_daily_returns_of_each_month():
    daily, _ = two_month_portfolio()
    monthly = portfolio_monthly_returns(daily, SESSIONS, {"P-1": TIERED})
    assert list(monthly.columns) == list(MONTHLY_COLUMNS)
    assert monthly["month"].tolist() == ["2025-01", "2025-02"]
    assert all(isinstance(m, str) for m in monthly["month"])
    january = daily[pd.to_datetime(daily["as_of_date"]).dt.month == 1]
    february = daily[pd.to_datetime(daily["as_of_date"]).dt.month == 2]
    assert monthly.loc[0, "gross_return"] == pytest.approx(math.prod(1 + r for r in january["daily_return"]) - 1,
                                                           **TIGHT)
    assert monthly.loc[1, "gross_return"] == pytest.approx(link_returns(february["daily_return"].tolist()), **TIGHT)
    assert monthly["sessions"].tolist() == [20, 19]
    assert monthly["return_days"].tolist() == [20, 19]
    assert monthly["missing_return_days"].tolist() == [0, 0]
    assert monthly["complete"].tolist() == [True, True]
    assert monthly["month_first_session"].tolist() == [dt.date(2025, 1, 2), dt.date(2025, 2, 3)]
    assert monthly["month_last_session"].tolist() == [dt.date(2025, 1, 31), dt.date(2025, 2, 28)]


def test_monthly_values_and_net_flows_come_from_the_first_and_last_sessions():
    daily, _ = two_month_portfolio()
    monthly = portfolio_monthly_returns(daily, SESSIONS, {"P-1": TIERED})
    january = daily[pd.to_datetime(daily["as_of_date"]).dt.month == 1]
    assert monthly.loc[0, "begin_value"] == 80 * MILLION
    assert monthly.loc[0, "end_value"] == january["end_value"].iloc[-1]
    assert monthly.loc[1, "begin_value"] == january["end_value"].iloc[-1]
    assert monthly["net_flows"].tolist() == pytest.approx([4 * MILLION - 2 * MILLION, 3 * MILLION], **TIGHT)


def test_weighted_flows_weight_a_flow_on_day_d_of_a_d_day_month_by_d_minus_day_over_d():
    daily, _ = two_month_portfolio()
    monthly = portfolio_monthly_returns(daily, SESSIONS, {"P-1": TIERED})
    # January (31 days): +4m at the close of the 10th weighs 21/31; -2m on the 31st weighs nothing
    assert monthly.loc[0, "weighted_flows"] == pytest.approx(4 * MILLION * (31 - 10) / 31 + -2 * MILLION * 0 / 31,
                                                             **TIGHT)
    # February 2025 (28 days): +3m on the 3rd weighs 25/28
    assert monthly.loc[1, "weighted_flows"] == pytest.approx(3 * MILLION * (28 - 3) / 28, **TIGHT)


def test_max_flow_ratio_is_the_largest_flow_over_the_begin_value_of_its_day():
    daily, flows = two_month_portfolio()
    monthly = portfolio_monthly_returns(daily, SESSIONS, {"P-1": TIERED})
    begin_of = dict(zip(daily["as_of_date"], daily["begin_value"], strict=True))
    ratios = {day: abs(amount) / begin_of[day] for day, amount in flows.items()}
    assert monthly.loc[0, "max_flow_ratio"] == pytest.approx(
        max(ratios[dt.date(2025, 1, 10)], ratios[dt.date(2025, 1, 31)]), **TIGHT)
    assert monthly.loc[0, "max_flow_ratio"] == pytest.approx(ratios[dt.date(2025, 1, 10)], **TIGHT)  # 4m > 2m
    assert monthly.loc[1, "max_flow_ratio"] == pytest.approx(ratios[dt.date(2025, 2, 3)], **TIGHT)


def test_monthly_fee_and_net_return_use_the_tiered_fee_on_the_month_begin_value():
    daily, _ = two_month_portfolio()
    monthly = portfolio_monthly_returns(daily, SESSIONS, {"P-1": TIERED})
    fee_january = (50 * MILLION * 0.0075 + 30 * MILLION * 0.005) / (80 * MILLION) / 12
    assert monthly.loc[0, "fee_rate"] == pytest.approx(fee_january, **TIGHT)
    gross = monthly.loc[0, "gross_return"]
    assert monthly.loc[0, "net_return"] == pytest.approx((1 + gross) * (1 - fee_january) - 1, **TIGHT)
    february_begin = monthly.loc[1, "begin_value"]
    assert february_begin > 50 * MILLION
    fee_february = (50 * MILLION * 0.0075 + (february_begin - 50 * MILLION) * 0.005) / february_begin / 12
    assert monthly.loc[1, "fee_rate"] == pytest.approx(fee_february, **TIGHT)


def test_a_session_without_a_return_makes_the_month_incomplete_and_is_left_out_of_the_link():
    days = sessions_of("2025-01") + sessions_of("2025-02")
    missing = dt.date(2025, 1, 15)
    daily = daily_frame("P-1", days, varied_returns(len(days)), begin=20 * MILLION,
                        statuses={missing: "previous_session_missing"})
    monthly = portfolio_monthly_returns(daily, SESSIONS, {"P-1": TIERED})
    assert monthly["complete"].tolist() == [False, True]
    assert monthly["return_days"].tolist() == [19, 19]
    assert monthly["missing_return_days"].tolist() == [1, 0]
    january_ok = daily[(pd.to_datetime(daily["as_of_date"]).dt.month == 1) & (daily["return_status"] == "ok")]
    assert len(january_ok) == 19
    assert monthly.loc[0, "gross_return"] == pytest.approx(link_returns(january_ok["daily_return"].tolist()), **TIGHT)


def test_an_absent_session_row_makes_the_month_incomplete():
    days = [d for d in sessions_of("2025-01") + sessions_of("2025-02") if d != dt.date(2025, 2, 12)]
    daily = daily_frame("P-1", days, varied_returns(len(days)), begin=20 * MILLION)
    monthly = portfolio_monthly_returns(daily, SESSIONS, {"P-1": TIERED})
    assert monthly["complete"].tolist() == [True, False]
    assert monthly["return_days"].tolist() == [20, 18]
    assert monthly["sessions"].tolist() == [20, 19]
    assert monthly["missing_return_days"].tolist() == [0, 0]


@pytest.mark.parametrize("status", ["incomplete_valuation", "previous_session_missing"])
def test_missing_statuses_count_as_missing_return_days(status: str):
    days = sessions_of("2025-03")
    daily = daily_frame("P-1", days, varied_returns(len(days)), begin=20 * MILLION,
                        statuses={dt.date(2025, 3, 10): status, dt.date(2025, 3, 11): status})
    monthly = portfolio_monthly_returns(daily, SESSIONS, {"P-1": TIERED})
    assert monthly["missing_return_days"].tolist() == [2]
    assert monthly["return_days"].tolist() == [len(days) - 2]
    assert monthly["complete"].tolist() == [False]


def test_an_ok_session_with_a_nan_return_counts_as_missing():
    days = sessions_of("2025-03")
    daily = daily_frame("P-1", days, varied_returns(len(days)), begin=20 * MILLION)
    daily.loc[5, "daily_return"] = math.nan
    monthly = portfolio_monthly_returns(daily, SESSIONS, {"P-1": TIERED})
    assert monthly["missing_return_days"].tolist() == [1]
    assert monthly["complete"].tolist() == [False]


def test_monthly_returns_of_several_portfolios_are_kept_apart():
    days = sessions_of("2025-01")
    daily = pd.concat([
        daily_frame("P-2", days, [0.001] * len(days), begin=5 * MILLION),
        daily_frame("P-1", days, [-0.002] * len(days), begin=60 * MILLION),
    ], ignore_index=True)
    monthly = portfolio_monthly_returns(daily, SESSIONS, {"P-1": TIERED, "P-2": THREE_TIERS})
    assert monthly["portfolio_id"].tolist() == ["P-1", "P-2"]
    assert monthly["gross_return"].tolist() == pytest.approx([0.998**20 - 1, 1.001**20 - 1], **TIGHT)
    # P-1 pays 75/50 bps on 60m, P-2 1% on its 5m
    assert monthly["fee_rate"].tolist() == pytest.approx(
        [(50 * MILLION * 0.0075 + 10 * MILLION * 0.005) / (60 * MILLION) / 12, 0.01 / 12], **TIGHT)


def test_a_portfolio_without_a_fee_schedule_raises_naming_it():
    days = sessions_of("2025-01")
    daily = pd.concat([daily_frame("P-1", days, [0.0] * len(days), begin=MILLION),
                       daily_frame("P-9", days, [0.0] * len(days), begin=MILLION)], ignore_index=True)
    with pytest.raises(ValueError, match="P-9") as excinfo:
        portfolio_monthly_returns(daily, SESSIONS, {"P-1": TIERED})
    assert "P-1" not in str(excinfo.value)


def test_a_malformed_fee_schedule_raises_naming_the_portfolio():
    days = sessions_of("2025-01")
    daily = daily_frame("P-7", days, [0.0] * len(days), begin=MILLION)
    with pytest.raises(ValueError, match=r"portfolio P-7"):
        portfolio_monthly_returns(daily, SESSIONS, {"P-7": '[{"up_to": 5, "bps": 75}]'})


def test_daily_returns_without_the_documented_columns_raise():
    days = sessions_of("2025-01")
    daily = daily_frame("P-1", days, [0.0] * len(days), begin=MILLION).drop(columns=["external_flow"])
    with pytest.raises(ValueError, match="external_flow"):
        portfolio_monthly_returns(daily, SESSIONS, {"P-1": TIERED})


def test_monthly_returns_do_not_depend_on_the_order_of_the_daily_rows():
    daily, _ = two_month_portfolio()
    shuffled = daily.sample(frac=1.0, random_state=7).reset_index(drop=True)
    pd.testing.assert_frame_equal(portfolio_monthly_returns(shuffled, SESSIONS, {"P-1": TIERED}),
                                  portfolio_monthly_returns(daily, SESSIONS, {"P-1": TIERED}))


def test_daily_returns_in_a_month_without_calendar_sessions_raise_naming_it():
    days = sessions_of("2025-01") + sessions_of("2025-02")
    daily = daily_frame("P-1", days, [0.0] * len(days), begin=MILLION)
    with pytest.raises(ValueError, match="2025-02"):
        portfolio_monthly_returns(daily, sessions_of("2025-01"), {"P-1": TIERED})


def test_no_daily_returns_give_an_empty_frame_with_the_monthly_columns():
    empty = pd.DataFrame({c: [] for c in ("portfolio_id", "as_of_date", "begin_value", "end_value", "external_flow",
                                          "daily_return", "return_status")})
    monthly = portfolio_monthly_returns(empty, SESSIONS, {})
    assert monthly.empty
    assert list(monthly.columns) == list(MONTHLY_COLUMNS)


# --- 3. membership ---------------------------------------------------------------------------------------


def test_inception_on_the_first_session_of_a_month_joins_the_next_month():
    # The firm funds a portfolio at the close of its inception day: that month was not under management
    # for its first session, so the first full month is the next one.
    monthly = monthly_frame([month_row("P-1", "2025-02"), month_row("P-1", "2025-03")])
    portfolios = portfolios_frame(("P-1", True, dt.date(2025, 2, 3), None))  # 3 Feb: February's first session
    membership = composite_membership(monthly, portfolios, POLICY)
    assert list(membership.columns) == list(MEMBERSHIP_COLUMNS)
    assert statuses_by_month(membership, "P-1") == {"2025-02": ("before_first_full_month", ""),
                                                    "2025-03": ("member", "join")}


def test_inception_on_a_weekend_before_the_first_session_is_a_member_that_month():
    monthly = monthly_frame([month_row("P-1", "2025-02")])
    portfolios = portfolios_frame(("P-1", True, dt.date(2025, 2, 1), None))  # Saturday 1 February
    membership = composite_membership(monthly, portfolios, POLICY)
    assert statuses_by_month(membership, "P-1") == {"2025-02": ("member", "join")}


def test_mid_month_inception_joins_the_following_month():
    monthly = monthly_frame([month_row("P-1", "2025-01"), month_row("P-1", "2025-02"), month_row("P-1", "2025-03")])
    portfolios = portfolios_frame(("P-1", True, dt.date(2025, 1, 15), None))
    membership = composite_membership(monthly, portfolios, POLICY)
    assert statuses_by_month(membership, "P-1") == {
        "2025-01": ("before_first_full_month", ""),
        "2025-02": ("member", "join"),
        "2025-03": ("member", ""),
    }
    assert membership["is_member"].tolist() == [False, True, True]


def test_mid_month_termination_leaves_after_the_last_full_month():
    monthly = monthly_frame([month_row("P-1", "2025-01"), month_row("P-1", "2025-02")])
    portfolios = portfolios_frame(("P-1", True, dt.date(2024, 6, 3), dt.date(2025, 2, 14)))
    membership = composite_membership(monthly, portfolios, POLICY)
    assert statuses_by_month(membership, "P-1") == {
        "2025-01": ("member", "join"),
        "2025-02": ("after_last_full_month", "leave"),
    }


def test_termination_on_the_last_session_of_a_month_leaves_after_the_month_before():
    # Liquidated at the close of its termination day: the termination month ends with the redemption,
    # so the last full month under management is the month before.
    monthly = monthly_frame([month_row("P-1", "2025-01"), month_row("P-1", "2025-02")])
    portfolios = portfolios_frame(("P-1", True, dt.date(2024, 6, 3), dt.date(2025, 2, 28)))  # February's last
    membership = composite_membership(monthly, portfolios, POLICY)
    assert statuses_by_month(membership, "P-1") == {"2025-01": ("member", "join"),
                                                    "2025-02": ("after_last_full_month", "leave")}


def test_significant_cash_flow_removes_the_month_and_the_portfolio_rejoins_the_next():
    monthly = monthly_frame([
        month_row("P-1", "2025-01", max_flow_ratio=0.05),
        month_row("P-1", "2025-02", max_flow_ratio=0.10),  # exactly the 10% threshold
        month_row("P-1", "2025-03", max_flow_ratio=0.0),
    ])
    portfolios = portfolios_frame(("P-1", True, dt.date(2024, 6, 3), None))
    membership = composite_membership(monthly, portfolios, POLICY)
    assert statuses_by_month(membership, "P-1") == {
        "2025-01": ("member", "join"),
        "2025-02": ("significant_cash_flow", "leave"),
        "2025-03": ("member", "join"),
    }


def test_a_significant_cash_flow_from_the_daily_values_removes_the_month():
    # a 1.5m contribution on a 10m portfolio (15% >= 10%), through portfolio_monthly_returns
    days = sessions_of("2025-01") + sessions_of("2025-02")
    daily = daily_frame("P-1", days, [0.0] * len(days), begin=10 * MILLION, flows={dt.date(2025, 2, 12): 1.5 * MILLION})
    monthly = portfolio_monthly_returns(daily, SESSIONS, {"P-1": TIERED})
    assert monthly["max_flow_ratio"].iloc[1] == pytest.approx(1.5 / 10, **TIGHT)
    portfolios = portfolios_frame(("P-1", True, dt.date(2024, 6, 3), None))
    membership = composite_membership(monthly, portfolios, POLICY)
    assert statuses_by_month(membership, "P-1") == {
        "2025-01": ("member", "join"),
        "2025-02": ("significant_cash_flow", "leave"),
    }


def test_a_flow_just_below_the_threshold_stays_a_member():
    monthly = monthly_frame([month_row("P-1", "2025-01", max_flow_ratio=0.0999999)])
    portfolios = portfolios_frame(("P-1", True, dt.date(2024, 6, 3), None))
    membership = composite_membership(monthly, portfolios, POLICY)
    assert statuses_by_month(membership, "P-1") == {"2025-01": ("member", "join")}


def test_no_significant_cash_flow_threshold_disables_the_flow_rule():
    monthly = monthly_frame([month_row("P-1", "2025-01", max_flow_ratio=0.9)])
    portfolios = portfolios_frame(("P-1", True, dt.date(2024, 6, 3), None))
    policy = MembershipPolicy(min_portfolio_size=MILLION, significant_cash_flow_pct=None)
    membership = composite_membership(monthly, portfolios, policy)
    assert statuses_by_month(membership, "P-1") == {"2025-01": ("member", "join")}


def test_a_month_starting_below_the_minimum_size_is_excluded():
    monthly = monthly_frame([
        month_row("P-1", "2025-01", begin_value=MILLION - 0.01),
        month_row("P-1", "2025-02", begin_value=MILLION),  # exactly the minimum is enough
    ])
    portfolios = portfolios_frame(("P-1", True, dt.date(2024, 6, 3), None))
    membership = composite_membership(monthly, portfolios, POLICY)
    assert statuses_by_month(membership, "P-1") == {
        "2025-01": ("below_minimum_size", ""),
        "2025-02": ("member", "join"),
    }


def test_a_non_discretionary_portfolio_is_never_a_member():
    monthly = monthly_frame([month_row("P-1", m) for m in ("2025-01", "2025-02", "2025-03")])
    portfolios = portfolios_frame(("P-1", False, dt.date(2024, 6, 3), None))
    membership = composite_membership(monthly, portfolios, POLICY)
    assert set(membership["status"]) == {"non_discretionary"}
    assert not membership["is_member"].any()
    assert set(membership["event"]) == {""}


def test_membership_status_precedence():
    monthly = monthly_frame([
        month_row("P-1", "2025-01", begin_value=1.0),  # non-discretionary and tiny
        month_row("P-2", "2025-01", max_flow_ratio=0.5, begin_value=1.0),  # mid-month inception, tiny, big flow
        month_row("P-3", "2025-01", max_flow_ratio=0.5, begin_value=1.0),  # tiny and big flow
    ])
    portfolios = portfolios_frame(("P-1", False, dt.date(2025, 1, 15), None),
                                  ("P-2", True, dt.date(2025, 1, 15), None),
                                  ("P-3", True, dt.date(2024, 6, 3), None))
    membership = composite_membership(monthly, portfolios, POLICY)
    assert membership["status"].tolist() == ["non_discretionary", "before_first_full_month", "below_minimum_size"]


def test_membership_events_are_per_portfolio():
    monthly = monthly_frame([month_row("P-1", "2025-01"), month_row("P-1", "2025-02"),
                             month_row("P-2", "2025-01"), month_row("P-2", "2025-02")])
    portfolios = portfolios_frame(("P-1", True, dt.date(2024, 6, 3), None),
                                  ("P-2", True, dt.date(2024, 6, 3), dt.date(2025, 2, 5)))
    membership = composite_membership(monthly, portfolios, POLICY)
    assert statuses_by_month(membership, "P-1") == {"2025-01": ("member", "join"), "2025-02": ("member", "")}
    assert statuses_by_month(membership, "P-2") == {"2025-01": ("member", "join"),
                                                    "2025-02": ("after_last_full_month", "leave")}


def test_membership_of_a_portfolio_missing_from_the_reference_data_raises():
    monthly = monthly_frame([month_row("P-404", "2025-01")])
    with pytest.raises(ValueError, match="P-404"):
        composite_membership(monthly, portfolios_frame(("P-1", True, dt.date(2024, 6, 3), None)), POLICY)


def test_membership_policy_validates_and_describes_itself():
    with pytest.raises(ValueError, match="negative"):
        MembershipPolicy(min_portfolio_size=-1.0, significant_cash_flow_pct=10.0)
    with pytest.raises(ValueError, match="positive"):
        MembershipPolicy(min_portfolio_size=0.0, significant_cash_flow_pct=0.0)
    assert "10% or more" in POLICY.describe()
    assert "USD 1,000,000" in POLICY.describe()
    assert "no significant cash flow policy" in MembershipPolicy(0.0, None).describe()
    assert POLICY.as_dict()["significant_cash_flow_pct"] == 10.0


# --- 4. composite monthly returns --------------------------------------------------------------------------

# January 2025 (31 days). P-1: 10m, +8m at the close of the 1st (weighs 30/31), end 18.6m, TWR 2%.
# P-2: 10m, no flow, end 9.9m, TWR -1%. P-3 is not a member and has a wild return.
P1_FLOWS = [(1, 8 * MILLION)]
P2_FLOWS: list[tuple[float, float]] = []


def composite_inputs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    fee = 0.0075 / 12
    monthly = monthly_frame([
        month_row("P-1", "2025-01", begin_value=10 * MILLION, end_value=18.6 * MILLION, net_flows=8 * MILLION,
                  weighted_flows=8 * MILLION * 30 / 31, gross_return=0.02, fee_rate=fee,
                  net_return=1.02 * (1 - fee) - 1),
        month_row("P-2", "2025-01", begin_value=10 * MILLION, end_value=9.9 * MILLION, gross_return=-0.01,
                  fee_rate=fee, net_return=0.99 * (1 - fee) - 1),
        month_row("P-3", "2025-01", begin_value=50 * MILLION, end_value=75 * MILLION, gross_return=0.5,
                  net_return=0.5),
        month_row("P-1", "2025-02", begin_value=18.6 * MILLION, end_value=18.6 * MILLION, gross_return=0.0,
                  net_return=0.0),
        month_row("P-2", "2025-02", begin_value=9.9 * MILLION, end_value=9.9 * 1.01 * MILLION, gross_return=0.01,
                  net_return=0.01, complete=False),
        month_row("P-3", "2025-03", begin_value=50 * MILLION, gross_return=0.01, net_return=0.01),
    ])
    membership = membership_frame([("P-1", "2025-01", True), ("P-2", "2025-01", True), ("P-3", "2025-01", False),
                                   ("P-1", "2025-02", True), ("P-2", "2025-02", True), ("P-3", "2025-03", False)])
    benchmark = pd.DataFrame({"month": ["2025-01", "2025-02"], "benchmark_return": [0.011, -0.004]})
    return monthly, membership, benchmark


def january(result: pd.DataFrame) -> pd.Series:
    return result[result["month"] == "2025-01"].iloc[0]


def test_composite_beginning_value_method_matches_the_scalar_engine():
    monthly, membership, benchmark = composite_inputs()
    result = composite_monthly_returns(monthly, membership, benchmark, "beginning_value")
    assert list(result.columns) == list(COMPOSITE_MONTHLY_COLUMNS)
    row = january(result)
    assert row["gross_return"] == pytest.approx(composite_return([0.02, -0.01], [10 * MILLION, 10 * MILLION]), **TIGHT)
    assert row["gross_return"] == pytest.approx((0.02 - 0.01) / 2, **TIGHT)
    fee = 0.0075 / 12
    net = [1.02 * (1 - fee) - 1, 0.99 * (1 - fee) - 1]
    assert row["net_return"] == pytest.approx(composite_return(net, [10 * MILLION, 10 * MILLION]), **TIGHT)
    assert row["weighting_method"] == "beginning_value"


def test_composite_method_b_weights_begin_values_plus_day_weighted_flows():
    monthly, membership, benchmark = composite_inputs()
    result = composite_monthly_returns(monthly, membership, benchmark, "beginning_value_plus_weighted_flows")
    row = january(result)
    w1 = 10 * MILLION + 8 * MILLION * 30 / 31
    w2 = 10 * MILLION
    assert row["gross_return"] == pytest.approx(composite_return([0.02, -0.01], [w1, w2]), **TIGHT)
    assert row["gross_return"] == pytest.approx((w1 * 0.02 - w2 * 0.01) / (w1 + w2), **TIGHT)
    method_a = january(composite_monthly_returns(monthly, membership, benchmark, "beginning_value"))
    assert row["gross_return"] - method_a["gross_return"] > 0.003  # the early inflow shifts weight to P-1


def test_composite_aggregate_method_is_modified_dietz_on_pooled_assets():
    monthly, membership, benchmark = composite_inputs()
    result = composite_monthly_returns(monthly, membership, benchmark, "aggregate")
    row = january(result)
    expected = aggregate_composite_return([10 * MILLION, 10 * MILLION], [18.6 * MILLION, 9.9 * MILLION],
                                          [P1_FLOWS, P2_FLOWS], 31)
    assert row["gross_return"] == pytest.approx(expected, **TIGHT)
    # (28.5m - 20m - 8m) / (20m + 8m · 30/31)
    assert row["gross_return"] == pytest.approx(0.5 * MILLION / (20 * MILLION + 8 * MILLION * 30 / 31), **TIGHT)
    fee = (10 * MILLION * 0.0075 / 12 + 10 * MILLION * 0.0075 / 12) / (20 * MILLION)
    assert row["net_return"] == pytest.approx((1 + expected) * (1 - fee) - 1, **TIGHT)


def test_composite_excludes_non_members_and_sums_member_assets():
    monthly, membership, benchmark = composite_inputs()
    result = composite_monthly_returns(monthly, membership, benchmark, "beginning_value")
    assert result["month"].tolist() == ["2025-01", "2025-02"]  # March has no member
    row = january(result)
    assert row["members"] == 2
    assert row["composite_begin_assets"] == pytest.approx(20 * MILLION, **TIGHT)
    assert row["composite_end_assets"] == pytest.approx(18.6 * MILLION + 9.9 * MILLION, **TIGHT)
    assert result["incomplete_members"].tolist() == [0, 1]
    assert row["month_first_session"] == dt.date(2025, 1, 2)
    assert row["month_last_session"] == dt.date(2025, 1, 31)


def test_composite_maps_the_benchmark_return_of_each_month():
    monthly, membership, benchmark = composite_inputs()
    result = composite_monthly_returns(monthly, membership, benchmark.iloc[::-1], "beginning_value")
    assert result["benchmark_return"].tolist() == pytest.approx([0.011, -0.004], **TIGHT)
    without_february = composite_monthly_returns(monthly, membership, benchmark.iloc[:1], "beginning_value")
    assert without_february["benchmark_return"].iloc[0] == pytest.approx(0.011, **TIGHT)
    assert math.isnan(without_february["benchmark_return"].iloc[1])


def test_composite_with_an_unknown_method_raises():
    monthly, membership, benchmark = composite_inputs()
    with pytest.raises(ValueError, match="unknown composite weighting method"):
        composite_monthly_returns(monthly, membership, benchmark, "equal")


def test_composite_without_positive_weights_raises():
    monthly = monthly_frame([month_row("P-1", "2025-01", begin_value=0.0)])
    membership = membership_frame([("P-1", "2025-01", True)])
    benchmark = pd.DataFrame({"month": ["2025-01"], "benchmark_return": [0.0]})
    with pytest.raises(ValueError, match="2025-01"):
        composite_monthly_returns(monthly, membership, benchmark, "beginning_value")


def test_cumulative_returns_link_month_by_month():
    history = history_frame(["2025-02", "2025-01"], [0.01, 0.02], [0.009, 0.019], [0.03, -0.01])
    cumulative = cumulative_returns(history)
    assert cumulative["month"].tolist() == ["2025-01", "2025-02"]
    assert cumulative["composite_gross"].tolist() == pytest.approx([0.02, 1.02 * 1.01 - 1], **TIGHT)
    assert cumulative["composite_net"].tolist() == pytest.approx([0.019, 1.019 * 1.009 - 1], **TIGHT)
    assert cumulative["benchmark"].tolist() == pytest.approx([-0.01, 0.99 * 1.03 - 1], **TIGHT)


# --- 5. benchmark monthly returns -------------------------------------------------------------------------


def benchmark_levels(days: Sequence[dt.date]) -> pd.DataFrame:
    """A level on every session: 1000 + 3 · k + 5 · (k mod 4) for the k-th session."""
    return pd.DataFrame({"level_date": list(days), "level": [1000.0 + 3 * k + 5 * (k % 4) for k in range(len(days))]})


def test_benchmark_return_is_month_end_level_over_previous_month_end_level():
    days = sessions_of("2024-12") + sessions_of("2025-01") + sessions_of("2025-02")
    levels = benchmark_levels(days)
    level = dict(zip(levels["level_date"], levels["level"], strict=True))
    result = benchmark_monthly_returns(levels, days)
    assert result["month"].tolist() == ["2024-12", "2025-01", "2025-02"]
    # December has no previous month end in the calendar given
    assert math.isnan(result["benchmark_return"].iloc[0])
    assert result["complete"].tolist() == [False, True, True]
    assert result["benchmark_return"].iloc[1] == pytest.approx(
        level[dt.date(2025, 1, 31)] / level[dt.date(2024, 12, 31)] - 1, **TIGHT)
    assert result["benchmark_return"].iloc[2] == pytest.approx(
        level[dt.date(2025, 2, 28)] / level[dt.date(2025, 1, 31)] - 1, **TIGHT)
    assert result["level_end"].iloc[2] == level[dt.date(2025, 2, 28)]
    assert result["level_start"].iloc[2] == level[dt.date(2025, 1, 31)]


def test_benchmark_levels_inside_a_month_do_not_matter():
    days = sessions_of("2024-12") + sessions_of("2025-01")
    levels = benchmark_levels(days)
    shaken = levels.copy()
    inside = ~shaken["level_date"].isin([dt.date(2024, 12, 31), dt.date(2025, 1, 31)])
    shaken.loc[inside, "level"] = shaken.loc[inside, "level"] * 1.5
    assert benchmark_monthly_returns(shaken, days)["benchmark_return"].iloc[1] == pytest.approx(
        benchmark_monthly_returns(levels, days)["benchmark_return"].iloc[1], **TIGHT)


def test_a_missing_month_end_level_gives_nan_and_incomplete_months():
    days = sessions_of("2024-12") + sessions_of("2025-01") + sessions_of("2025-02") + sessions_of("2025-03")
    levels = benchmark_levels(days)
    levels = levels[levels["level_date"] != dt.date(2025, 1, 31)]  # January's closing level is missing
    result = benchmark_monthly_returns(levels, days)
    # January ends on the missing level and February starts from it: both NaN, nothing guessed
    assert result["complete"].tolist() == [False, False, False, True]
    assert math.isnan(result["benchmark_return"].iloc[1])
    assert math.isnan(result["benchmark_return"].iloc[2])
    level = dict(zip(levels["level_date"], levels["level"], strict=True))
    assert result["benchmark_return"].iloc[3] == pytest.approx(
        level[dt.date(2025, 3, 31)] / level[dt.date(2025, 2, 28)] - 1, **TIGHT)


def test_a_duplicated_benchmark_level_keeps_the_last():
    days = sessions_of("2024-12") + sessions_of("2025-01")
    levels = pd.concat([benchmark_levels(days),
                        pd.DataFrame({"level_date": [dt.date(2025, 1, 31)], "level": [2000.0]})], ignore_index=True)
    level_december = levels.loc[levels["level_date"] == dt.date(2024, 12, 31), "level"].iloc[0]
    result = benchmark_monthly_returns(levels, days)
    assert result["benchmark_return"].iloc[1] == pytest.approx(2000.0 / level_december - 1, **TIGHT)


# --- 6. annual statistics ---------------------------------------------------------------------------------

YEAR_2025 = months_between("2025-01", "2025-12")


def portfolio_year(count: int) -> tuple[pd.DataFrame, dict[str, list[float]], dict[str, float]]:
    """``count`` portfolios over 2025: monthly gross returns, January begin values and later begin values.

    Returns (monthly frame, gross returns by portfolio, January begin value by portfolio).
    """
    rng = np.random.default_rng(20250101)
    rows, returns, january_begin = [], {}, {}
    for i in range(count):
        pid = f"P-{i + 1}"
        gross = [float(x) for x in rng.normal(0.008 + 0.002 * i, 0.03, size=12)]
        returns[pid] = gross
        january_begin[pid] = (i + 1) * 5 * MILLION
        for m, month in enumerate(YEAR_2025):
            # from February on the begin values are reshuffled so only January's can give the right weights
            begin = january_begin[pid] if m == 0 else (count - i) * 7 * MILLION + m * 1000.0
            rows.append(month_row(pid, month, begin_value=begin, end_value=begin * (1 + gross[m]),
                                  gross_return=gross[m], net_return=gross[m] - 0.0005))
    return monthly_frame(rows), returns, january_begin


def simple_history(months: Sequence[str]) -> pd.DataFrame:
    gross = [0.01 + 0.001 * k for k in range(len(months))]
    return history_frame(months, gross, [g - 0.0006 for g in gross], [0.009] * len(months))


def test_annual_dispersion_is_asset_weighted_over_full_year_members_by_january_values():
    monthly, returns, january_begin = portfolio_year(7)
    membership = membership_frame([(p, m, True) for p in returns for m in YEAR_2025])
    stats = annual_statistics(2025, simple_history(YEAR_2025), monthly, membership, firm_assets=1e9)
    annual = [math.prod(1 + r for r in returns[p]) - 1 for p in sorted(returns)]
    weights = [january_begin[p] for p in sorted(returns)]
    expected = asset_weighted_dispersion(annual, weights)
    assert stats.dispersion == pytest.approx(expected, rel=1e-12)
    # by hand: sqrt(Σ w_i (R_i - R_aw)²) with w normalised
    total = sum(weights)
    mean = sum(w * r for w, r in zip(weights, annual, strict=True)) / total
    by_hand = math.sqrt(sum(w * (r - mean) ** 2 for w, r in zip(weights, annual, strict=True)) / total)
    assert stats.dispersion == pytest.approx(by_hand, rel=1e-12)
    assert stats.dispersion_portfolios == 7
    assert stats.dispersion_note is None
    assert stats.dispersion_measure == "asset_weighted"


def test_annual_dispersion_equal_weighted_when_configured():
    monthly, returns, _ = portfolio_year(7)
    membership = membership_frame([(p, m, True) for p in returns for m in YEAR_2025])
    stats = annual_statistics(2025, simple_history(YEAR_2025), monthly, membership, firm_assets=1e9,
                              dispersion_measure="equal_weighted")
    annual = [math.prod(1 + r for r in returns[p]) - 1 for p in sorted(returns)]
    assert stats.dispersion == pytest.approx(equal_weighted_dispersion(annual), rel=1e-12)
    mean = sum(annual) / 7
    assert stats.dispersion == pytest.approx(math.sqrt(sum((r - mean) ** 2 for r in annual) / 7), rel=1e-12)
    assert stats.dispersion_measure == "equal_weighted"


def test_annual_dispersion_with_exactly_six_full_year_portfolios_is_presented():
    monthly, returns, january_begin = portfolio_year(6)
    membership = membership_frame([(p, m, True) for p in returns for m in YEAR_2025])
    stats = annual_statistics(2025, simple_history(YEAR_2025), monthly, membership, firm_assets=1e9)
    annual = [math.prod(1 + r for r in returns[p]) - 1 for p in sorted(returns)]
    assert stats.dispersion == pytest.approx(
        asset_weighted_dispersion(annual, [january_begin[p] for p in sorted(returns)]), rel=1e-12)
    assert stats.dispersion_portfolios == 6


def test_annual_dispersion_is_not_meaningful_when_a_leaver_leaves_five_full_year_portfolios():
    monthly, returns, _ = portfolio_year(6)
    # P-6 leaves at the end of June: July to December it is not a member
    membership = membership_frame([(p, m, not (p == "P-6" and m >= "2025-07")) for p in returns for m in YEAR_2025])
    stats = annual_statistics(2025, simple_history(YEAR_2025), monthly, membership, firm_assets=1e9)
    assert stats.dispersion is None
    assert stats.dispersion_note == NOT_MEANINGFUL
    assert "not meaningful" in stats.dispersion_note
    assert stats.dispersion_portfolios == 5


def test_a_single_significant_cash_flow_month_removes_a_portfolio_from_the_dispersion():
    monthly, returns, january_begin = portfolio_year(7)
    membership = membership_frame([(p, m, not (p == "P-3" and m == "2025-05")) for p in returns for m in YEAR_2025])
    stats = annual_statistics(2025, simple_history(YEAR_2025), monthly, membership, firm_assets=1e9)
    kept = [p for p in sorted(returns) if p != "P-3"]
    annual = [math.prod(1 + r for r in returns[p]) - 1 for p in kept]
    assert stats.dispersion_portfolios == 6
    assert stats.dispersion == pytest.approx(
        asset_weighted_dispersion(annual, [january_begin[p] for p in kept]), rel=1e-12)


def test_annual_returns_link_the_composite_months_and_assets_come_from_the_last_month():
    history = history_frame(YEAR_2025, [0.01 * ((k % 3) - 1) + 0.004 for k in range(12)],
                            [0.01 * ((k % 3) - 1) + 0.0035 for k in range(12)],
                            [0.002 * k - 0.01 for k in range(12)],
                            end_assets=[100 * MILLION + k * MILLION for k in range(12)], members=9)
    stats = annual_statistics(2025, history, monthly_frame([]), empty_membership(), firm_assets=444 * MILLION,
                              composite_id="C-1")
    assert stats.gross_return == pytest.approx(math.prod(1 + r for r in history["gross_return"]) - 1, **TIGHT)
    assert stats.net_return == pytest.approx(math.prod(1 + r for r in history["net_return"]) - 1, **TIGHT)
    assert stats.benchmark_return == pytest.approx(math.prod(1 + r for r in history["benchmark_return"]) - 1,
                                                   **TIGHT)
    assert stats.composite_assets == 111 * MILLION
    assert stats.firm_assets == 444 * MILLION
    assert stats.percent_of_firm_assets == pytest.approx(111 / 444, **TIGHT)
    assert stats.portfolios == 9
    assert stats.months == 12
    assert stats.partial_period is False
    assert (stats.period_start, stats.period_end) == ("2025-01-02", "2025-12-31")


def test_annual_statistics_ignore_months_of_other_years():
    months = months_between("2024-11", "2026-01")
    gross = [0.05 if not m.startswith("2025-") else 0.01 for m in months]
    history = history_frame(months, gross, gross, gross)
    stats = annual_statistics(2025, history, monthly_frame([]), empty_membership(), firm_assets=1e9)
    assert stats.gross_return == pytest.approx(1.01**12 - 1, **TIGHT)
    assert stats.months == 12


def test_a_partial_year_is_flagged_and_not_annualised():
    months = months_between("2025-09", "2025-12")
    history = history_frame(months, [0.01, 0.02, -0.01, 0.005], [0.009, 0.019, -0.011, 0.004], [0.0] * 4)
    stats = annual_statistics(2025, history, monthly_frame([]), empty_membership(), firm_assets=1e9)
    assert stats.partial_period is True
    assert stats.months == 4
    # 1 September 2025 is Labor Day: the period starts on the 2nd
    assert (stats.period_start, stats.period_end) == ("2025-09-02", "2025-12-31")
    assert stats.gross_return == pytest.approx(1.01 * 1.02 * 0.99 * 1.005 - 1, **TIGHT)


def test_a_benchmark_gap_in_the_year_leaves_the_benchmark_return_unpresented():
    history = history_frame(YEAR_2025, [0.01] * 12, [0.009] * 12, [0.01] * 5 + [math.nan] + [0.01] * 6)
    stats = annual_statistics(2025, history, monthly_frame([]), empty_membership(), firm_assets=1e9)
    assert stats.benchmark_return is None


def test_percent_of_firm_assets_is_nan_without_firm_assets():
    stats = annual_statistics(2025, simple_history(YEAR_2025), monthly_frame([]), empty_membership(),
                              firm_assets=0.0)
    assert math.isnan(stats.percent_of_firm_assets)


def risk_history(months: Sequence[str]) -> pd.DataFrame:
    rng = np.random.default_rng(36)
    gross = [float(x) for x in rng.normal(0.007, 0.04, size=len(months))]
    bench = [float(x) for x in rng.normal(0.006, 0.035, size=len(months))]
    return history_frame(months, gross, [g - 0.0006 for g in gross], bench)


def test_three_year_standard_deviation_with_36_consecutive_months():
    history = risk_history(months_between("2023-01", "2025-12"))
    stats = annual_statistics(2025, history, monthly_frame([]), empty_membership(), firm_assets=1e9)
    gross = history["gross_return"].tolist()
    bench = history["benchmark_return"].tolist()
    assert len(gross) == 36
    assert stats.composite_3yr_std == pytest.approx(ex_post_standard_deviation(gross), rel=1e-12)
    assert stats.benchmark_3yr_std == pytest.approx(ex_post_standard_deviation(bench), rel=1e-12)
    mean = sum(gross) / 36
    assert stats.composite_3yr_std == pytest.approx(
        math.sqrt(12) * math.sqrt(sum((r - mean) ** 2 for r in gross) / 35), rel=1e-12)
    assert stats.std_note is None


def test_three_year_standard_deviation_uses_only_the_36_months_ending_at_the_year_end():
    history = risk_history(months_between("2022-12", "2025-12"))  # 37 months
    stats = annual_statistics(2025, history, monthly_frame([]), empty_membership(), firm_assets=1e9)
    assert stats.composite_3yr_std == pytest.approx(
        ex_post_standard_deviation(history["gross_return"].tolist()[1:]), rel=1e-12)


def test_three_year_standard_deviation_not_presented_with_35_months():
    history = risk_history(months_between("2023-02", "2025-12"))
    stats = annual_statistics(2025, history, monthly_frame([]), empty_membership(), firm_assets=1e9)
    assert stats.composite_3yr_std is None
    assert stats.benchmark_3yr_std is None
    assert stats.std_note is not None
    assert "35 of the 36" in stats.std_note


def test_three_year_standard_deviation_not_presented_with_a_gap_in_the_36_months():
    months = [m for m in months_between("2022-12", "2025-12") if m != "2024-06"]  # 36 months, not consecutive
    history = risk_history(months)
    stats = annual_statistics(2025, history, monthly_frame([]), empty_membership(), firm_assets=1e9)
    assert stats.composite_3yr_std is None
    assert "35 of the 36" in stats.std_note


def test_three_year_benchmark_standard_deviation_not_presented_when_its_series_has_gaps():
    history = risk_history(months_between("2023-01", "2025-12"))
    history.loc[10, "benchmark_return"] = math.nan
    stats = annual_statistics(2025, history, monthly_frame([]), empty_membership(), firm_assets=1e9)
    assert stats.composite_3yr_std == pytest.approx(ex_post_standard_deviation(history["gross_return"].tolist()),
                                                    rel=1e-12)
    assert stats.benchmark_3yr_std is None
    assert "benchmark" in stats.std_note


def test_annual_statistics_without_a_month_in_the_year_raise_naming_the_composite():
    with pytest.raises(ValueError, match="composite C-1, 2024"):
        annual_statistics(2024, simple_history(YEAR_2025), monthly_frame([]), empty_membership(), firm_assets=1e9,
                          composite_id="C-1")


def test_annual_statistics_with_an_unknown_dispersion_measure_raise():
    with pytest.raises(ValueError, match="unknown dispersion measure"):
        annual_statistics(2025, simple_history(YEAR_2025), monthly_frame([]), empty_membership(), firm_assets=1e9,
                          dispersion_measure="range")


# --- 7. quality verdicts ----------------------------------------------------------------------------------


def clean_quality_inputs() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Two member portfolios over January to March 2025 and their composite (method a)."""
    monthly = monthly_frame([
        month_row(p, m, begin_value=b, end_value=b * 1.01, gross_return=0.01, net_return=0.0094)
        for p, b in (("P-1", 10 * MILLION), ("P-2", 20 * MILLION)) for m in ("2025-01", "2025-02", "2025-03")
    ])
    membership = membership_frame([(p, m, True) for p in ("P-1", "P-2") for m in ("2025-01", "2025-02", "2025-03")])
    benchmark = pd.DataFrame({"month": ["2025-01", "2025-02", "2025-03"], "benchmark_return": [0.01, 0.0, -0.01]})
    composite = composite_monthly_returns(monthly, membership, benchmark, "beginning_value")
    return monthly, membership, composite


def test_plausible_monthly_returns_passes_on_clean_data():
    monthly, _, _ = clean_quality_inputs()
    verdict = plausible_monthly_returns(monthly)
    assert verdict.passed
    assert verdict.metadata["violations"] == 0
    assert verdict.metadata["rows"] == 6
    assert verdict.metadata["max_abs_gross_return"] == pytest.approx(0.01, **TIGHT)


def test_plausible_monthly_returns_fails_on_an_implausible_or_missing_return():
    monthly, _, _ = clean_quality_inputs()
    monthly.loc[1, ["gross_return", "net_return"]] = [0.35, 0.34]
    monthly.loc[4, "net_return"] = math.nan
    verdict = plausible_monthly_returns(monthly)
    assert not verdict.passed
    assert verdict.metadata["violations"] == 2
    assert verdict.metadata["max_abs_gross_return"] == pytest.approx(0.35, **TIGHT)
    samples = verdict.metadata["samples"]
    assert [(s["portfolio_id"], s["month"]) for s in samples] == [("P-1", "2025-02"), ("P-2", "2025-02")]
    assert samples[0]["gross_return"] == pytest.approx(0.35, **TIGHT)
    assert samples[1]["net_return"] is None
    json.dumps(verdict.metadata, allow_nan=False)  # metadata is plain JSON


def test_plausible_monthly_returns_bound_is_inclusive():
    monthly, _, _ = clean_quality_inputs()
    monthly.loc[0, ["gross_return", "net_return"]] = [-0.30, -0.30]
    assert plausible_monthly_returns(monthly).passed
    assert not plausible_monthly_returns(monthly, bound=0.2).passed


def test_member_months_have_returns_passes_on_clean_data():
    monthly, membership, _ = clean_quality_inputs()
    verdict = member_months_have_returns(monthly, membership)
    assert verdict.passed
    assert verdict.metadata["member_months"] == 6
    assert verdict.metadata["incomplete_member_months"] == 0
    assert verdict.metadata["missing_months"] == 0


def test_member_months_have_returns_fails_on_an_incomplete_member_month():
    monthly, membership, _ = clean_quality_inputs()
    monthly.loc[2, ["complete", "return_days", "missing_return_days"]] = [False, 20, 1]
    verdict = member_months_have_returns(monthly, membership)
    assert not verdict.passed
    assert verdict.metadata["incomplete_member_months"] == 1
    sample = verdict.metadata["samples"][0]
    assert (sample["portfolio_id"], sample["month"], sample["missing_return_days"]) == ("P-1", "2025-03", 1)


def test_member_months_have_returns_ignores_incomplete_non_member_months():
    monthly, membership, _ = clean_quality_inputs()
    monthly.loc[2, "complete"] = False
    membership.loc[(membership["portfolio_id"] == "P-1") & (membership["month"] == "2025-03"), "is_member"] = False
    assert member_months_have_returns(monthly, membership).passed


def test_member_months_have_returns_fails_on_a_month_missing_between_first_and_last():
    monthly, membership, _ = clean_quality_inputs()
    gap = (monthly["portfolio_id"] == "P-2") & (monthly["month"] == "2025-02")
    monthly = monthly[~gap].reset_index(drop=True)
    membership = membership[~((membership["portfolio_id"] == "P-2") & (membership["month"] == "2025-02"))]
    verdict = member_months_have_returns(monthly, membership)
    assert not verdict.passed
    assert verdict.metadata["missing_months"] == 1
    assert verdict.metadata["missing_month_samples"] == [{"portfolio_id": "P-2", "month": "2025-02"}]


def test_missing_months_across_a_year_end_are_named():
    monthly = monthly_frame([month_row("P-1", "2024-11"), month_row("P-1", "2025-02")])
    membership = membership_frame([("P-1", "2024-11", True), ("P-1", "2025-02", True)])
    verdict = member_months_have_returns(monthly, membership)
    assert not verdict.passed
    assert verdict.metadata["missing_month_samples"] == [{"portfolio_id": "P-1", "month": "2024-12"},
                                                         {"portfolio_id": "P-1", "month": "2025-01"}]


def test_composite_assets_reconcile_passes_on_clean_data():
    monthly, membership, composite = clean_quality_inputs()
    verdict = composite_assets_reconcile(composite, monthly, membership)
    assert verdict.passed
    assert verdict.metadata["months"] == 3
    assert verdict.metadata["max_difference_usd"] == pytest.approx(0.0, abs=1e-6)


def test_composite_assets_reconcile_tolerates_less_than_a_cent():
    monthly, membership, composite = clean_quality_inputs()
    composite.loc[0, "composite_end_assets"] += 0.005
    assert composite_assets_reconcile(composite, monthly, membership).passed


def test_composite_assets_reconcile_fails_when_off_by_more_than_a_cent():
    monthly, membership, composite = clean_quality_inputs()
    composite.loc[1, "composite_end_assets"] += 0.02
    verdict = composite_assets_reconcile(composite, monthly, membership)
    assert not verdict.passed
    assert verdict.metadata["violations"] == 1
    assert verdict.metadata["max_difference_usd"] == pytest.approx(0.02, abs=1e-6)
    assert verdict.metadata["samples"][0]["month"] == "2025-02"


def test_composite_assets_reconcile_fails_on_a_wrong_member_count_or_a_missing_month():
    monthly, membership, composite = clean_quality_inputs()
    wrong_count = composite.copy()
    wrong_count.loc[0, "members"] = 3
    verdict = composite_assets_reconcile(wrong_count, monthly, membership)
    assert not verdict.passed
    assert verdict.metadata["samples"][0]["month"] == "2025-01"
    missing_month = composite[composite["month"] != "2025-03"]
    verdict = composite_assets_reconcile(missing_month, monthly, membership)
    assert not verdict.passed
    assert verdict.metadata["violations"] == 1


def test_benchmark_series_complete_passes_on_clean_data():
    _, _, composite = clean_quality_inputs()
    verdict = benchmark_series_complete(composite)
    assert verdict.passed
    assert verdict.metadata["missing"] == 0


def test_benchmark_series_complete_fails_on_a_missing_benchmark_month():
    monthly, membership, _ = clean_quality_inputs()
    benchmark = pd.DataFrame({"month": ["2025-01", "2025-03"], "benchmark_return": [0.01, -0.01]})
    composite = composite_monthly_returns(monthly, membership, benchmark, "beginning_value")
    verdict = benchmark_series_complete(composite)
    assert not verdict.passed
    assert verdict.metadata["missing"] == 1
    assert verdict.metadata["missing_months"] == ["2025-02"]


def test_firm_assets_cover_composite_passes_and_fails():
    statistics = pd.DataFrame({"year": [2024, 2025], "period_end": ["2024-12-31", "2025-12-31"],
                               "composite_assets": [100.0, 200.0], "firm_assets": [100.0, 500.0]})
    assert firm_assets_cover_composite(statistics).passed  # equal is enough
    statistics.loc[1, "firm_assets"] = 199.99
    verdict = firm_assets_cover_composite(statistics)
    assert not verdict.passed
    assert verdict.metadata["violations"] == 1
    assert verdict.metadata["samples"][0]["year"] == 2025
    assert verdict.metadata["samples"][0]["firm_assets"] == pytest.approx(199.99, **TIGHT)


def test_firm_assets_cover_composite_fails_on_missing_firm_assets():
    statistics = pd.DataFrame({"year": [2025], "period_end": ["2025-12-31"], "composite_assets": [100.0],
                               "firm_assets": [math.nan]})
    verdict = firm_assets_cover_composite(statistics)
    assert not verdict.passed
    assert verdict.metadata["samples"][0]["firm_assets"] is None


# --- 8. report document ----------------------------------------------------------------------------------

COMPOSITE = {"composite_id": "C-1", "composite_name": "US Large Cap Core", "description": "Discretionary US large "
             "cap equity portfolios.", "strategy": "US Large Cap Core", "currency": "USD",
             "inception_date": "2023-01-02", "creation_date": "2023-01-20", "benchmark_id": "B-1"}
BENCHMARK = {"benchmark_id": "B-1", "benchmark_name": "S&P 500", "provider": "S&P Dow Jones Indices",
             "currency": "USD"}
INPUTS = {"gips": {"composite_monthly_returns": 12, "composite_annual_statistics": 7},
          "warehouse": {"gold.daily_returns": {"snapshot": 1, "sha256": "ab" * 32},
                        "silver.portfolios": {"snapshot": 2, "sha256": "cd" * 32}}}


def statistics_row(year: int, **changes: Any) -> dict[str, Any]:
    months = months_between(f"{year}-01", f"{year}-12")
    row = AnnualStatistics(
        year=year, period_start=str(sessions_of(months[0])[0]), period_end=str(sessions_of(months[-1])[-1]),
        partial_period=False, months=12, gross_return=0.1, net_return=0.09, benchmark_return=0.08, portfolios=7,
        composite_assets=100 * MILLION, firm_assets=1000 * MILLION, percent_of_firm_assets=0.1, dispersion=0.012,
        dispersion_measure="asset_weighted", dispersion_portfolios=7, dispersion_note=None, composite_3yr_std=None,
        benchmark_3yr_std=None, std_note="not presented: 12 of the 36 monthly returns needed exist",
    ).as_dict()
    row.update(changes)
    return row


def report_inputs(**changes: Any) -> dict[str, Any]:
    months = months_between("2023-01", "2025-12")
    history = history_frame(months, [0.01] * 36, [0.009] * 36, [0.008] * 35 + [math.nan])
    arguments = {
        "report_year": 2025, "composite": COMPOSITE, "benchmark": BENCHMARK,
        "statistics": [statistics_row(2023), statistics_row(2024, percent_of_firm_assets=math.nan),
                       statistics_row(2025, gross_return=np.float64(0.1), portfolios=np.int64(7))],
        "composite_monthly": history, "fee_schedule": parse_fee_schedule(TIERED), "policy": POLICY,
        "weighting_method": "beginning_value", "dispersion_measure": "asset_weighted", "inputs": INPUTS,
    }
    arguments.update(changes)
    return arguments


def test_report_json_is_byte_stable_and_round_trips():
    report = build_report(**report_inputs())
    first = report_json(report)
    assert first == report_json(build_report(**report_inputs()))
    assert report_json(json.loads(first)) == first
    assert report_json(json.loads(report_json(json.loads(first)))) == first
    assert first.endswith(b"\n")


def test_report_has_no_nan_and_turns_nan_into_null():
    report = build_report(**report_inputs())
    text = report_json(report).decode()
    assert "NaN" not in text and "Infinity" not in text
    assert report["statistics"][1]["percent_of_firm_assets"] is None
    assert report["cumulative"][-1]["benchmark"] is None  # December 2025 has no benchmark return
    assert report["cumulative"][-2]["benchmark"] == pytest.approx(1.008**35 - 1, rel=1e-12)
    assert type(report["statistics"][2]["gross_return"]) is float
    assert type(report["statistics"][2]["portfolios"]) is int


def test_report_contains_the_required_disclosures():
    report = build_report(**report_inputs())
    titles = [d["title"] for d in report["disclosures"]]
    for title in DISCLOSURE_TITLES:
        assert title in titles
    text = {d["title"]: d["text"] for d in report["disclosures"]}
    assert describe_schedule(parse_fee_schedule(TIERED)) in text["Fee schedule"]
    assert POLICY.describe() == text["Minimum portfolio size and significant cash flows"]
    assert "S&P 500" in text["Benchmark description"]
    assert "has not been independently verified" in text["Compliance statement and verification status"]
    assert all(d["provision"].startswith("4.C") for d in report["disclosures"])
    assert "USD" in text["Currency"]


def test_every_required_disclosure_is_in_the_pdf_text_html_and_json():
    """Each GIPS 2020 Provision 4 disclosure (docs/gips_disclosures.md) is printed in full, with its provision."""
    import shutil
    import subprocess

    from mesh_assets.lib.gips.report.formatting import disclosure_heading
    from mesh_assets.lib.gips.report.html import render_html
    from mesh_assets.lib.gips.report.pdf import render_pdf

    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.fail("`pdftotext` not found: install poppler-utils (make system-deps)")
    report = build_report(**report_inputs())
    pdf_text = subprocess.run([pdftotext, "-", "-"], input=render_pdf(report), capture_output=True,
                              check=True).stdout.decode()
    flat_pdf = " ".join(pdf_text.split())
    html = render_html(report)
    document = json.loads(report_json(report))
    assert [d["title"] for d in document["disclosures"]] == [d["title"] for d in report["disclosures"]]
    for disclosure in report["disclosures"]:
        heading = disclosure_heading(disclosure)
        assert f"{heading}. {disclosure['text']}" in flat_pdf, heading
        assert heading in html, heading
    for phrase in ("has not been independently verified", "available upon request", "trading expenses",
                   "withholding taxes", "composite descriptions", "valuing investments, calculating performance and "
                   "preparing GIPS Reports", "created on 2023-01-20", "inception date (the start of its performance "
                   "record) is 2023-01-02"):
        assert phrase in flat_pdf, phrase


def test_report_presents_the_statistics_and_the_cumulative_series():
    report = build_report(**report_inputs())
    assert [s["year"] for s in report["statistics"]] == [2023, 2024, 2025]
    assert report["period_start"] == "2023-01-03"  # 2 January 2023 was the New Year's Day holiday
    assert report["period_end"] == "2025-12-31"
    assert report["fee_schedule"] == [{"up_to": 50_000_000.0, "bps": 75.0}, {"up_to": None, "bps": 50.0}]
    assert len(report["cumulative"]) == 36
    assert report["cumulative"][11]["composite_gross"] == pytest.approx(1.01**12 - 1, rel=1e-12)


def test_report_presents_at_most_ten_years():
    months = months_between("2019-01", "2026-12")
    history = history_frame(months, [0.01] * len(months), [0.009] * len(months), [0.008] * len(months))
    statistics = [statistics_row(y) for y in range(2019, 2027)]
    report = build_report(**report_inputs(report_year=2026, statistics=statistics, composite_monthly=history))
    assert [s["year"] for s in report["statistics"]] == list(range(2019, 2027))  # eight years: all presented
    assert report["cumulative"][0]["month"] == "2019-01"
    # with three more years (2016-2018, before the calendar), the oldest fall out of the ten presented
    older = [{**statistics_row(2019), "year": y} for y in (2016, 2017, 2018)]
    report = build_report(**report_inputs(report_year=2026, statistics=older + statistics,
                                          composite_monthly=history))
    assert [s["year"] for s in report["statistics"]] == list(range(2017, 2027))
    assert report["cumulative"][0]["month"] == "2019-01"
    assert report["cumulative"][0]["composite_gross"] == pytest.approx(0.01, rel=1e-12)


def test_report_ignores_years_after_the_report_year():
    report = build_report(**report_inputs(report_year=2024))
    assert [s["year"] for s in report["statistics"]] == [2023, 2024]
    assert report["cumulative"][-1]["month"] == "2024-12"


def test_input_fingerprint_is_recorded_and_changes_with_one_input_hash():
    report = build_report(**report_inputs())
    fingerprint = report["inputs"]["fingerprint"]
    assert fingerprint == input_fingerprint(INPUTS)
    assert fingerprint.startswith("sha256:") and len(fingerprint) == len("sha256:") + 64
    assert report["inputs"]["warehouse"] == INPUTS["warehouse"]
    reordered = {"warehouse": dict(reversed(list(INPUTS["warehouse"].items()))), "gips": INPUTS["gips"]}
    assert input_fingerprint(reordered) == fingerprint
    changed = json.loads(json.dumps(INPUTS))
    changed["warehouse"]["silver.portfolios"]["sha256"] = "ce" * 32
    other = build_report(**report_inputs(inputs=changed))
    assert other["inputs"]["fingerprint"] != fingerprint
    assert other["inputs"]["fingerprint"] == input_fingerprint(changed)


def test_statistics_csv_has_a_header_and_one_row_per_year():
    report = build_report(**report_inputs())
    text = statistics_csv(report).decode()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(STATISTICS_COLUMNS)
    assert [r[0] for r in rows[1:]] == ["2023", "2024", "2025"]
    as_dicts = [dict(zip(rows[0], r, strict=True)) for r in rows[1:]]
    assert as_dicts[1]["percent_of_firm_assets"] == ""  # NaN -> null -> empty cell
    assert float(as_dicts[2]["gross_return"]) == 0.1
    assert statistics_csv(report) == statistics_csv(json.loads(report_json(report)))


def test_build_report_without_statistics_for_the_report_year_raises():
    with pytest.raises(ValueError, match=r"C-1.*2026"):
        build_report(**report_inputs(report_year=2026))
    with pytest.raises(ValueError, match="2025"):
        build_report(**report_inputs(statistics=[statistics_row(2023), statistics_row(2024)]))
