"""Benchmark: the GIPS engine over a large firm (monthly returns -> membership -> composite returns -> checks ->
annual statistics -> reports), in process, without Dagster or Iceberg I/O.

Run by hand (not in CI): `.venv/bin/python benchmarks/gips.py [--composites 50 --portfolios 1000 --years 10
--seed 7 --out DIR]`, or `--small` for a quick smoke run (5 composites, 60 portfolios, 4 years).

The data is generated with numpy (seeded, timed separately, not part of the goal): ``--years`` years of NYSE
sessions ending on the synthetic firm's last day (2026-10-30), ``--portfolios`` portfolios spread
over ``--composites`` composites (about 10% of them non-discretionary but carrying a composite id, some incepting
and some terminating mid-history, rare external flows of which many are large), daily values compounding
returns of about N(0.0004, 0.01) around their composite's benchmark, and daily levels of 10 benchmarks. The frames
have the shapes and dtypes the assets read from the warehouse (ids as strings, dates as ``datetime.date``).

Then the work the ``gips`` assets do (``mesh_assets/gips/assets.py``) is timed stage by stage:
portfolio monthly returns (one vectorised call over every portfolio and year; the per composite-year calls the
assets make are timed too, for comparison, outside the total), split into composite-years, then per composite and
year: membership, benchmark and composite monthly returns, the check verdicts, annual statistics (firm assets from
the day's total of every portfolio); finally one report per composite for the latest year presenting its years,
rendered to JSON, CSV, HTML and PDF and written under ``--out`` (a temporary folder, removed, by default).
Composites are spread over ``--workers`` processes (default: the CPU count), as Dagster runs partitions in
parallel; the firm-wide monthly returns are computed once, before the workers fork.
Prints JSON: seconds per stage, rows, check verdicts, peak RSS (``resource.getrusage``) and the CPU count.
Goal (GIPS benchmark issue): 50 composites x 1,000 portfolios x 10 years under 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from mesh_assets.lib import gips
from mesh_assets.lib._nyse_closures import FIRST_DAY, LAST_DAY
from mesh_assets.lib.gips import quality
from mesh_assets.lib.gips.fees import standard_fee_schedule
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

GOAL_S = 60
FIRM_END = dt.date(2026, 10, 30)
WEIGHTING_METHOD = "beginning_value_plus_weighted_flows"  # the assets' default (CompositeReturnConfig)
DISPERSION_MEASURE = "asset_weighted"  # the assets' default (DispersionConfig)
PLAUSIBLE_MONTHLY_RETURN = 0.30  # the assets' default (MonthlyReturnsConfig)
PRESENTED_YEARS = 10

# The firm's reference vocabulary, with more variants so that 50 composites get distinct names.
VARIANTS = (*COMPOSITE_VARIANTS, "Plus", "Focus", "Core Plus")
NON_DISCRETIONARY_SHARE = 0.10
INCEPT_MID_HISTORY_SHARE = 0.20
TERMINATE_MID_HISTORY_SHARE = 0.10
FLOW_PROBABILITY = 0.003  # per portfolio-session: about 7 flows per portfolio over 10 years
LARGE_FLOW_SHARE = 0.4  # of flows: 10% to 35% of the value; the others under 8%


# --------------------------------------------------------------------------------------------- data generation


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


# ------------------------------------------------------------------------------------------------ the GIPS work


class Stopwatch:
    """Wall and CPU seconds (this process) accumulated per stage name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.cpu: dict[str, float] = defaultdict(float)

    @contextmanager
    def __call__(self, stage: str) -> Iterator[None]:
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - t0
            self.cpu[stage] += time.process_time() - c0


class Verdicts:
    """How many times each check ran and failed, with the first failure's description."""

    def __init__(self) -> None:
        self.checks: dict[str, dict] = {}

    def record(self, name: str, partition: str, verdict) -> None:
        entry = self.checks.setdefault(name, {"evaluated": 0, "failed": 0, "first_failure": None})
        entry["evaluated"] += 1
        if not verdict.passed:
            entry["failed"] += 1
            if entry["first_failure"] is None:
                entry["first_failure"] = f"{partition}: {verdict.description}"


def _sessions_between(sessions: list[dt.date], first: dt.date, last: dt.date) -> list[dt.date]:
    return [d for d in sessions if first <= d <= last]


#: What every composite's worker reads (set before the worker processes fork, so it is shared, not pickled).
_SHARED: dict = {}

STAGES = ("membership", "composite_monthly", "checks", "annual_statistics", "report_build", "report_json",
          "report_csv", "report_html", "report_pdf", "report_write")
REPORT_STAGES = tuple(s for s in STAGES if s.startswith("report_"))


def prepare(data: dict, per_partition_monthly: bool, watch: Stopwatch) -> dict:
    """The firm-wide work: monthly returns of every portfolio in one call, split into composite-years, and the
    firm's assets per session; plus the per composite-year monthly calls the assets make (comparison only)."""
    daily, portfolios, sessions = data["daily"], data["portfolios"], data["sessions"]
    fee_schedules = dict(zip(portfolios["portfolio_id"], portfolios["fee_schedule"], strict=True))
    by_composite = {cid: frame.drop(columns=["composite_id"]).reset_index(drop=True)
                    for cid, frame in portfolios.groupby("composite_id", sort=True)}
    with watch("monthly_returns"):
        monthly_all = gips.portfolio_monthly_returns(daily, sessions, fee_schedules)
    per_partition_rows = None
    if per_partition_monthly:
        composite_of_row, year_of_row = data["row_partition"]
        key = composite_of_row.astype(np.int64) * 10_000 + year_of_row
        order = np.argsort(key, kind="stable")
        bounds = np.flatnonzero(np.diff(key[order])) + 1
        per_partition_rows = 0
        composite_ids = [c["composite_id"] for c in data["composites"]]
        for rows in np.split(order, bounds):
            year = int(year_of_row[rows[0]])
            cid = composite_ids[int(composite_of_row[rows[0]])]
            year_sessions = _sessions_between(sessions, dt.date(year, 1, 1), dt.date(year, 12, 31))
            schedules = dict(zip(by_composite[cid]["portfolio_id"], by_composite[cid]["fee_schedule"], strict=True))
            with watch("monthly_returns_per_composite_year"):
                per_partition_rows += len(gips.portfolio_monthly_returns(daily.iloc[rows], year_sessions, schedules))
    with watch("partition_split"):
        composite_of = monthly_all["portfolio_id"].map(dict(zip(portfolios["portfolio_id"],
                                                                portfolios["composite_id"], strict=True)))
        year_of = monthly_all["month"].str.slice(0, 4).astype(int)
        monthly = {(cid, int(year)): frame.reset_index(drop=True)
                   for (cid, year), frame in monthly_all.groupby([composite_of, year_of], sort=True)}
        session_index = {d: i for i, d in enumerate(sessions)}
        firm_by_session = np.bincount(daily["as_of_date"].map(session_index).to_numpy(),
                                      weights=daily["end_value"].to_numpy(), minlength=len(sessions))
    return {"monthly": monthly, "monthly_rows": len(monthly_all), "by_composite": by_composite,
            "firm_by_session": firm_by_session, "session_index": session_index,
            "per_partition_rows": per_partition_rows}


def composite_work(cid: str) -> dict:
    """Everything the assets do for one composite: per year membership, composite monthly returns, checks and
    statistics, then its report for the latest year in four renderings. Runs in a worker process."""
    from mesh_assets.lib.gips.report.document import build_report
    from mesh_assets.lib.gips.report.html import render_html
    from mesh_assets.lib.gips.report.pdf import render_pdf
    from mesh_assets.lib.gips.report.serialize import report_json, statistics_csv

    data, shared, out_dir = _SHARED["data"], _SHARED["prepared"], _SHARED["out_dir"]
    watch, verdicts = Stopwatch(), Verdicts()
    composite = next(c for c in data["composites"] if c["composite_id"] == cid)
    portfolios = shared["by_composite"][cid]
    sessions = data["sessions"]
    years = [y for y in range(data["start"].year, data["end"].year + 1) if (cid, y) in shared["monthly"]]
    policy = gips.MembershipPolicy(min_portfolio_size=float(composite["min_portfolio_size"]),
                                   significant_cash_flow_pct=float(composite["significant_cash_flow_pct"]))
    bid = composite["benchmark_id"]
    membership, composite_monthly, statistics = {}, {}, {}
    for year in years:
        monthly = shared["monthly"][(cid, year)]
        with watch("checks"):
            verdicts.record("monthly_returns_plausible", f"{cid}|{year}",
                            quality.plausible_monthly_returns(monthly, PLAUSIBLE_MONTHLY_RETURN))
        with watch("membership"):
            membership[year] = gips.composite_membership(monthly, portfolios, policy)
        with watch("checks"):
            verdicts.record("member_months_have_returns", f"{cid}|{year}",
                            quality.member_months_have_returns(monthly, membership[year]))
        with watch("composite_monthly"):
            first, last = dt.date(year - 1, 12, 1), dt.date(year, 12, 31)
            levels = data["levels"][bid]
            dates = levels["level_date"]
            benchmark = gips.benchmark_monthly_returns(levels[(dates >= first) & (dates <= last)],
                                                       _sessions_between(sessions, first, last))
            result = gips.composite_monthly_returns(monthly, membership[year], benchmark, WEIGHTING_METHOD)
            result.insert(result.columns.get_loc("benchmark_return"), "benchmark_id", bid)
            result.insert(0, "year", year)  # the store adds it
            composite_monthly[year] = result
        with watch("checks"):
            verdicts.record("composite_assets_reconcile", f"{cid}|{year}",
                            quality.composite_assets_reconcile(result, monthly, membership[year]))
            verdicts.record("benchmark_series_complete", f"{cid}|{year}", quality.benchmark_series_complete(result))
        if result.empty:
            continue
        with watch("annual_statistics"):
            history = pd.concat([composite_monthly[y] for y in range(year - 2, year + 1) if y in composite_monthly],
                                ignore_index=True)
            period_end = dt.date.fromisoformat(str(result["month_last_session"].max()))
            firm_assets = float(shared["firm_by_session"][shared["session_index"][period_end]])
            stats = gips.annual_statistics(year, history, monthly, membership[year], firm_assets,
                                           DISPERSION_MEASURE, composite_id=cid)
            statistics[year] = stats.as_dict()
        with watch("checks"):
            verdicts.record("firm_assets_cover_composite", f"{cid}|{year}",
                            quality.firm_assets_cover_composite(pd.DataFrame([stats.as_dict()])))

    report_year = max(statistics)
    presented = [y for y in range(report_year - PRESENTED_YEARS + 1, report_year + 1) if y in statistics]
    with watch("report_build"):
        report = build_report(
            report_year=report_year, composite=composite, benchmark=_SHARED["benchmarks"][bid],
            statistics=[statistics[y] for y in presented],
            composite_monthly=pd.concat([composite_monthly[y] for y in presented], ignore_index=True),
            fee_schedule=gips.parse_fee_schedule(standard_fee_schedule(portfolios["fee_schedule"].tolist()),
                                                 context=f"composite {cid}"),
            policy=policy, weighting_method=WEIGHTING_METHOD, dispersion_measure=DISPERSION_MEASURE,
            inputs={"generated": {"benchmark": "benchmarks/gips.py", "composite_id": cid}},
        )
    files = {}
    with watch("report_json"):
        files["gips_report.json"] = report_json(report)
    with watch("report_csv"):
        files["gips_statistics.csv"] = statistics_csv(report)
    with watch("report_html"):
        files["gips_report.html"] = render_html(report).encode()
    with watch("report_pdf"):
        files["gips_report.pdf"] = render_pdf(report)
    with watch("report_write"):
        folder = out_dir / "gips" / cid / str(report_year)
        folder.mkdir(parents=True, exist_ok=True)
        for name, content in files.items():
            (folder / name).write_bytes(content)
    members = pd.concat(list(membership.values()))
    return {
        "seconds": dict(watch.seconds), "cpu": dict(watch.cpu), "checks": verdicts.checks,
        "rows": {"membership": len(members), "member_months": int(members["is_member"].sum()),
                 "composite_months": sum(len(c) for c in composite_monthly.values()),
                 "composite_years": len(statistics), "report_bytes": sum(len(c) for c in files.values())},
        "statuses": members["status"].value_counts().to_dict(),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


def run(data: dict, out_dir: Path, per_partition_monthly: bool = True, workers: int = 2) -> dict:
    """Do the assets' work over every composite-year (composites spread over ``workers`` processes, as Dagster
    runs partitions in parallel); return wall seconds, per-stage seconds summed over workers, rows, verdicts."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    watch = Stopwatch()
    wall0 = time.perf_counter()
    prepared = prepare(data, per_partition_monthly, watch)
    comparison = watch.seconds.pop("monthly_returns_per_composite_year", None)
    wall0 += comparison or 0.0  # the comparison timing is not part of the work
    _SHARED.update(data=data, prepared=prepared, out_dir=out_dir,
                   benchmarks={r["benchmark_id"]: r for r in data["benchmarks"].to_dict(orient="records")})
    composites = sorted(c["composite_id"] for c in data["composites"])
    t_parallel = time.perf_counter()
    if workers > 1:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork")) as pool:
            results = list(pool.map(composite_work, composites))
    else:
        results = [composite_work(cid) for cid in composites]
    parallel_s = time.perf_counter() - t_parallel
    total_s = time.perf_counter() - wall0

    stage_s = {s: sum(r["seconds"].get(s, 0.0) for r in results) for s in STAGES}
    checks: dict[str, dict] = {}
    for result in results:
        for name, entry in result["checks"].items():
            merged = checks.setdefault(name, {"evaluated": 0, "failed": 0, "first_failure": None})
            merged["evaluated"] += entry["evaluated"]
            merged["failed"] += entry["failed"]
            merged["first_failure"] = merged["first_failure"] or entry["first_failure"]
    statuses: dict[str, int] = defaultdict(int)
    for result in results:
        for status, count in result["statuses"].items():
            statuses[status] += int(count)
    rows = {k: sum(r["rows"][k] for r in results) for k in results[0]["rows"]}
    return {
        "stages": {
            "monthly_returns_s": round(watch.seconds["monthly_returns"], 3),
            "partition_split_s": round(watch.seconds["partition_split"], 3),
            "per_composite_wall_s": round(parallel_s, 3),
        },
        "total_compute_s": round(total_s, 3),
        "workers": workers,
        "per_composite_stage_seconds_summed_over_workers": {
            **{f"{s}_s": round(stage_s[s], 3) for s in STAGES if not s.startswith("report_")},
            "reports_s": round(sum(stage_s[s] for s in REPORT_STAGES), 3),
        },
        "reports_breakdown_s": {s.removeprefix("report_"): round(stage_s[s], 3) for s in REPORT_STAGES},
        "monthly_returns_per_composite_year_s": round(comparison, 3) if comparison is not None else None,
        "monthly_rows_per_composite_year_calls": prepared["per_partition_rows"],
        "rows": {"daily": len(data["daily"]), "monthly": prepared["monthly_rows"], **rows,
                 "reports": len(results), "report_files": 4 * len(results)},
        "membership_statuses": dict(sorted(statuses.items())),
        "checks": checks,
        "worker_peak_rss_mib": max(r["peak_rss_mib"] for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--composites", type=int, default=50)
    parser.add_argument("--portfolios", type=int, default=1000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, help="write the reports here (default: a temporary folder, removed)")
    parser.add_argument("--small", action="store_true", help="quick smoke run: 5 composites, 60 portfolios, 4 years")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="processes the composites are spread over (default: the CPU count)")
    parser.add_argument("--no-per-partition-monthly", action="store_true",
                        help="skip the comparison timing of monthly returns computed per composite-year")
    args = parser.parse_args()
    if args.small:
        args.composites, args.portfolios, args.years = 5, 60, 4
    if args.portfolios < args.composites:
        parser.error("need at least one portfolio per composite")

    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    data = generate(args.composites, args.portfolios, args.years, args.seed)
    generate_s = time.perf_counter() - t0

    out_dir = args.out or Path(tempfile.mkdtemp(prefix="mesh-gips-bench-"))
    try:
        figures = run(data, out_dir, per_partition_monthly=not args.no_per_partition_monthly, workers=args.workers)
    finally:
        if args.out is None:
            shutil.rmtree(out_dir, ignore_errors=True)
    total = figures.pop("total_compute_s")
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    print(json.dumps({
        "benchmark": "gips",
        "seed": args.seed,
        "shape": data["shape"],
        "weighting_method": WEIGHTING_METHOD,
        "dispersion_measure": DISPERSION_MEASURE,
        "generate_s": round(generate_s, 3),
        **figures.pop("stages"),
        "total_compute_s": total,
        "goal_s": GOAL_S,
        "goal_met": total < GOAL_S,
        **figures,
        "reports_dir": str(out_dir) if args.out else None,
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "cpu_count": os.cpu_count(),
        "cpus_usable": affinity,
        # a load average near the CPU count before the run means other work shared the machine
        "load_average_1m": {"before": round(load_before, 2), "after": round(os.getloadavg()[0], 2)},
        "python": sys.version.split()[0],
        "pandas": pd.__version__,
        "numpy": np.__version__,
    }, indent=2))


if __name__ == "__main__":
    main()
