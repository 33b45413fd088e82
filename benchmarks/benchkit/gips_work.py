"""The work the ``gips`` assets do (``mesh_assets/gips/assets.py``), timed stage by stage over the synthetic firm of
:mod:`benchkit.gips_firm`: firm-wide monthly returns, then per composite (in worker processes, as Dagster runs
partitions in parallel) membership, composite monthly returns, checks, annual statistics and its report in four
renderings."""

from __future__ import annotations

import datetime as dt
import resource
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from mesh_assets.lib import gips
from mesh_assets.lib.gips import quality
from mesh_assets.lib.gips.fees import standard_fee_schedule

WEIGHTING_METHOD = "beginning_value_plus_weighted_flows"  # the assets' default (CompositeReturnConfig)
DISPERSION_MEASURE = "asset_weighted"  # the assets' default (DispersionConfig)
PLAUSIBLE_MONTHLY_RETURN = 0.30  # the assets' default (MonthlyReturnsConfig)
PRESENTED_YEARS = 10


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
