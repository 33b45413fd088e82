"""The GIPS benchmark's synthetic firm, generated with numpy (seeded): composites, portfolios (some
non-discretionary, some incepting or terminating mid-history, rare external flows of which many are large), daily
values compounding returns around their composite's benchmark, and daily benchmark levels, in the shapes and dtypes
the ``gips`` assets read from the warehouse (ids as strings, dates as ``datetime.date``)."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd

from mesh_assets.lib._nyse_closures import FIRST_DAY, LAST_DAY
from mesh_assets.lib.trading_calendar import trading_days
from mesh_dev.firm.vocabulary import (
    BENCHMARKS,
    COMPOSITE_VARIANTS,
    FEE_SCHEDULES,
    MIN_PORTFOLIO_SIZES,
    SIGNIFICANT_CASH_FLOW_PCTS,
    STRATEGIES,
)

CALENDAR_FIRST = dt.date.fromisoformat(FIRST_DAY)
CALENDAR_LAST = dt.date.fromisoformat(LAST_DAY)

FIRM_END = dt.date(2026, 10, 30)

# The firm's reference vocabulary, with more variants so that 50 composites get distinct names.
VARIANTS = (*COMPOSITE_VARIANTS, "Plus", "Focus", "Core Plus")
NON_DISCRETIONARY_SHARE = 0.10
INCEPT_MID_HISTORY_SHARE = 0.20
TERMINATE_MID_HISTORY_SHARE = 0.10
FLOW_PROBABILITY = 0.003  # per portfolio-session: about 7 flows per portfolio over 10 years
LARGE_FLOW_SHARE = 0.4  # of flows: 10% to 35% of the value; the others under 8%


def period(years: int) -> tuple[dt.date, dt.date, str]:
    """``years`` years of sessions ending on the synthetic firm's last day (2026-10-30)."""
    end = FIRM_END
    start = dt.date(end.year - years, end.month, end.day) + dt.timedelta(days=1)
    if start < CALENDAR_FIRST:
        raise SystemExit(f"the NYSE calendar starts {CALENDAR_FIRST}: `mesh calendar refresh --first-year` earlier")
    return start, end, f"{years} years of NYSE sessions ending on the firm's last day, {end}"


def generate(n_composites: int, n_portfolios: int, years: int, seed: int) -> dict:
    """The firm's reference data, daily returns and benchmark levels (vectorised, seeded)."""
    rng = np.random.default_rng(seed)
    start, end, note = period(years)
    sessions = trading_days(start, end)
    # benchmark levels start a month early: the first January's benchmark return needs the December close
    lead_sessions = trading_days(max(CALENDAR_FIRST, start - dt.timedelta(days=31)), start - dt.timedelta(days=1))
    n_sessions, lead = len(sessions), len(lead_sessions)
    session_objects = np.array(sessions, dtype=object)

    benchmarks = pd.DataFrame({
        "benchmark_id": [f"B-{i + 1:02d}" for i in range(len(BENCHMARKS))],
        "benchmark_name": [name for name, _ in BENCHMARKS],
        "provider": [provider for _, provider in BENCHMARKS],
        "currency": "USD",
    })
    bench_returns = rng.normal(0.0004, 0.009, size=(len(BENCHMARKS), lead + n_sessions))
    bench_levels = 1000.0 * np.exp(np.cumsum(np.log1p(bench_returns), axis=1))
    level_dates = np.array(lead_sessions + sessions, dtype=object)
    levels = {bid: pd.DataFrame({"level_date": level_dates, "level": bench_levels[i]})
              for i, bid in enumerate(benchmarks["benchmark_id"])}

    names = [f"{strategy} {variant}".strip() for variant in VARIANTS for strategy, _ in STRATEGIES]
    strategy_index = [i % len(STRATEGIES) for i in range(len(names))]
    if n_composites > len(names):
        raise SystemExit(f"at most {len(names)} composites have distinct names")
    composite_ids = [f"C-{i + 1:03d}" for i in range(n_composites)]
    composites = []
    for i, cid in enumerate(composite_ids):
        strategy, bench_index = STRATEGIES[strategy_index[i]]
        composites.append({
            "composite_id": cid, "composite_name": names[i], "strategy": strategy,
            "benchmark_id": benchmarks["benchmark_id"].iat[bench_index], "currency": "USD",
            "inception_date": sessions[0].isoformat(), "creation_date": sessions[0].isoformat(),
            "description": f"All discretionary, fee-paying {names[i]} portfolios, managed in USD against the "
                           f"{BENCHMARKS[bench_index][0]}.",
            "min_portfolio_size": float(rng.choice(MIN_PORTFOLIO_SIZES)),
            "significant_cash_flow_pct": float(rng.choice(SIGNIFICANT_CASH_FLOW_PCTS)),
        })

    # portfolios: spread evenly over the composites; the first of each composite is an "anchor" (discretionary,
    # there from the first session to the last) so every composite has members every year
    composite_of = rng.permutation(np.arange(n_portfolios) % n_composites)
    anchor = np.zeros(n_portfolios, dtype=bool)
    anchor[np.unique(composite_of, return_index=True)[1]] = True
    discretionary = anchor | (rng.random(n_portfolios) >= NON_DISCRETIONARY_SHARE)
    mid_inception = ~anchor & (rng.random(n_portfolios) < INCEPT_MID_HISTORY_SHARE)
    first = np.where(mid_inception, rng.integers(1, int(n_sessions * 0.8), n_portfolios), 0)
    terminates = ~anchor & (rng.random(n_portfolios) < TERMINATE_MID_HISTORY_SHARE)
    last = np.where(terminates, first + 60 + (rng.random(n_portfolios) * (n_sessions - 61 - first)).astype(int),
                    n_sessions - 1)
    last = np.minimum(last, n_sessions - 1)
    initial = np.where(anchor, 100e6, rng.lognormal(np.log(30e6), 1.0, n_portfolios))
    portfolio_ids = np.array([f"P-{i + 1:05d}" for i in range(n_portfolios)], dtype=object)
    schedules = [json.dumps(s) for s in FEE_SCHEDULES]
    portfolios = pd.DataFrame({
        "portfolio_id": portfolio_ids,
        "composite_id": np.array(composite_ids, dtype=object)[composite_of],
        "discretionary": discretionary,
        "inception_date": session_objects[first],
        "termination_date": np.where(terminates, session_objects[last], None),
        "fee_schedule": np.array(schedules, dtype=object)[rng.integers(0, len(schedules), n_portfolios)],
    })

    # daily rows: one per portfolio and session from inception to termination, ordered by portfolio and day
    counts = last - first + 1
    rows = int(counts.sum())
    portfolio_row = np.repeat(np.arange(n_portfolios), counts)
    segment_start = np.repeat(np.cumsum(counts) - counts, counts)
    position = np.arange(rows) - segment_start
    session = first[portfolio_row] + position
    is_inception = position == 0
    bench_of_portfolio = benchmarks["benchmark_id"].searchsorted(
        portfolios["composite_id"].map({c["composite_id"]: c["benchmark_id"] for c in composites}).to_numpy())
    growth = 1.0 + bench_returns[bench_of_portfolio[portfolio_row], lead + session] + rng.normal(0.00003, 0.0045,
                                                                                                rows)
    has_flow = ~is_inception & (rng.random(rows) < FLOW_PROBABILITY)
    large = rng.random(rows) < LARGE_FLOW_SHARE
    magnitude = np.where(large, rng.uniform(0.10, 0.35, rows), rng.uniform(0.0, 0.08, rows))
    flow_share = np.where(has_flow, np.where(rng.random(rows) < 0.55, magnitude, -magnitude), 0.0)
    log_step = np.where(is_inception, 0.0, np.log(growth) + np.log1p(flow_share))
    cumulative = np.cumsum(log_step)
    end_value = initial[portfolio_row] * np.exp(cumulative - cumulative[segment_start])
    begin_value = np.where(is_inception, 0.0, np.roll(end_value, 1))
    external_flow = np.where(is_inception, end_value, begin_value * growth * flow_share)
    with np.errstate(divide="ignore", invalid="ignore"):
        daily_return = np.where(begin_value > 0, (end_value - external_flow) / begin_value - 1.0, np.nan)
    daily = pd.DataFrame({
        "portfolio_id": portfolio_ids[portfolio_row],
        "as_of_date": session_objects[session],
        "begin_value": begin_value,
        "end_value": end_value,
        "external_flow": external_flow,
        "daily_return": daily_return,
        "return_status": np.array(["ok", "inception"], dtype=object)[is_inception.astype(int)],
    })
    year_of_session = np.array([d.year for d in sessions])
    return {
        "start": start, "end": end, "note": note, "sessions": sessions, "composites": composites,
        "benchmarks": benchmarks, "levels": levels, "portfolios": portfolios, "daily": daily,
        # what the warehouse would select per composite-year (for the per-partition monthly-returns timing)
        "row_partition": (composite_of[portfolio_row], year_of_session[session]),
        "shape": {
            "composites": n_composites, "portfolios": n_portfolios,
            "portfolios_per_composite": round(n_portfolios / n_composites, 1),
            "non_discretionary": int((~discretionary).sum()),
            "incepting_mid_history": int(mid_inception.sum()), "terminating_mid_history": int(terminates.sum()),
            "years": years, "first_session": sessions[0].isoformat(), "last_session": sessions[-1].isoformat(),
            "sessions": n_sessions, "benchmarks": len(BENCHMARKS), "external_flows": int(has_flow.sum()),
            "flows_of_10pct_or_more": int((has_flow & (magnitude >= 0.10)).sum()),
            "calendar": f"{CALENDAR_FIRST}..{CALENDAR_LAST}", "period_note": note,
        },
    }
