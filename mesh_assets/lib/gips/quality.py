"""Checks that guard a GIPS report, as verdicts with counts, thresholds and samples (no Dagster)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from mesh_assets.lib.quality import Verdict

#: A monthly portfolio return beyond this magnitude is implausible for a long-only equity portfolio.
PLAUSIBLE_MONTHLY_RETURN = 0.30
#: Composite assets must equal the sum of member portfolios to the cent.
RECONCILE_TOLERANCE_USD = 0.01
SAMPLES = 5


def _samples(frame: pd.DataFrame, columns: list[str]) -> list[dict]:
    if frame.empty:
        return []
    return frame.loc[:, columns].head(SAMPLES).astype(object).where(frame.notna(), None).to_dict(orient="records")


def plausible_monthly_returns(monthly: pd.DataFrame, bound: float = PLAUSIBLE_MONTHLY_RETURN) -> Verdict:
    """Every gross and net monthly return is finite and within ``±bound``."""
    gross = monthly["gross_return"].to_numpy(dtype=float)
    net = monthly["net_return"].to_numpy(dtype=float)
    bad = monthly[~(np.isfinite(gross) & np.isfinite(net) & (np.abs(gross) <= bound) & (np.abs(net) <= bound))]
    return Verdict(
        passed=bad.empty,
        description=(f"all {len(monthly)} portfolio monthly returns within ±{bound:.0%}" if bad.empty else
                     f"{len(bad)} of {len(monthly)} portfolio monthly returns outside ±{bound:.0%} or not finite"),
        metadata={"rows": len(monthly), "violations": len(bad), "bound": bound,
                  "max_abs_gross_return": float(np.nanmax(np.abs(gross))) if len(gross) else None,
                  "samples": _samples(bad, ["portfolio_id", "month", "gross_return", "net_return"])},
    )


def member_months_have_returns(monthly: pd.DataFrame, membership: pd.DataFrame) -> Verdict:
    """Every member month has a return for every session, and no member has a month missing between its
    first and last month."""
    members = membership[membership["is_member"]].merge(
        monthly.loc[:, ["portfolio_id", "month", "complete", "missing_return_days", "return_days", "sessions"]],
        on=["portfolio_id", "month"], how="left")
    incomplete = members[~members["complete"].fillna(False).astype(bool)]
    gaps = _month_gaps(monthly)
    passed = incomplete.empty and not gaps
    return Verdict(
        passed=passed,
        description=(f"all {len(members)} member months have a return for every session" if passed else
                     f"{len(incomplete)} member months lack daily returns and {len(gaps)} months are missing"),
        metadata={"member_months": len(members), "incomplete_member_months": len(incomplete),
                  "missing_months": len(gaps), "missing_month_samples": gaps[:SAMPLES],
                  "samples": _samples(incomplete, ["portfolio_id", "month", "return_days", "sessions",
                                                   "missing_return_days"])},
    )


def _month_gaps(monthly: pd.DataFrame) -> list[dict]:
    """Months missing between a portfolio's first and last month (vectorised; samples listed)."""
    if monthly.empty:
        return []
    ordinal = monthly["month"].str.slice(0, 4).astype(int) * 12 + monthly["month"].str.slice(5, 7).astype(int)
    spans = ordinal.groupby(monthly["portfolio_id"]).agg(["min", "max", "nunique"])
    short = spans[spans["max"] - spans["min"] + 1 > spans["nunique"]]
    gaps: list[dict] = []
    for portfolio_id, row in short.iterrows():  # only portfolios that have a gap
        present = set(ordinal[monthly["portfolio_id"] == portfolio_id])
        gaps += [{"portfolio_id": portfolio_id, "month": f"{(m - 1) // 12}-{(m - 1) % 12 + 1:02d}"}
                 for m in range(int(row["min"]), int(row["max"]) + 1) if m not in present]
    return gaps


def composite_assets_reconcile(
    composite_monthly: pd.DataFrame, monthly: pd.DataFrame, membership: pd.DataFrame,
    tolerance: float = RECONCILE_TOLERANCE_USD,
) -> Verdict:
    """Each month's composite begin and end assets equal the sums over its member portfolios."""
    members = membership[membership["is_member"]].loc[:, ["portfolio_id", "month"]].merge(
        monthly.loc[:, ["portfolio_id", "month", "begin_value", "end_value"]], on=["portfolio_id", "month"])
    sums = members.groupby("month").agg(member_begin=("begin_value", "sum"), member_end=("end_value", "sum"),
                                        member_count=("portfolio_id", "nunique")).reset_index()
    joined = composite_monthly.merge(sums, on="month", how="outer")
    diff = np.maximum(np.abs(joined["composite_end_assets"] - joined["member_end"]),
                      np.abs(joined["composite_begin_assets"] - joined["member_begin"])).fillna(np.inf)
    count_off = joined["members"].fillna(-1) != joined["member_count"].fillna(-2)
    bad = joined[(diff > tolerance) | count_off]
    return Verdict(
        passed=bad.empty,
        description=(f"composite assets equal the sum of member portfolios in all {len(joined)} months"
                     if bad.empty else f"composite assets differ from the member sum in {len(bad)} months"),
        metadata={"months": len(joined), "violations": len(bad), "tolerance_usd": tolerance,
                  "max_difference_usd": float(diff.max()) if len(diff) else 0.0,
                  "samples": _samples(bad, ["month", "composite_end_assets", "member_end", "members",
                                            "member_count"])},
    )


def benchmark_series_complete(composite_monthly: pd.DataFrame) -> Verdict:
    """Every month with a composite return has a benchmark return."""
    missing = composite_monthly[~np.isfinite(composite_monthly["benchmark_return"].to_numpy(dtype=float))]
    return Verdict(
        passed=missing.empty,
        description=(f"benchmark return present for all {len(composite_monthly)} composite months" if missing.empty
                     else f"benchmark return missing for {len(missing)} composite months"),
        metadata={"months": len(composite_monthly), "missing": len(missing),
                  "missing_months": missing["month"].head(SAMPLES).tolist()},
    )


def firm_assets_cover_composite(statistics: pd.DataFrame) -> Verdict:
    """Firm assets are at least the composite's assets at every period end."""
    bad = statistics[~(statistics["firm_assets"] >= statistics["composite_assets"])]
    return Verdict(
        passed=bad.empty,
        description=("firm assets cover composite assets" if bad.empty else
                     f"firm assets below composite assets in {len(bad)} period(s)"),
        metadata={"periods": len(statistics), "violations": len(bad),
                  "samples": _samples(bad, ["year", "period_end", "composite_assets", "firm_assets"])},
    )
