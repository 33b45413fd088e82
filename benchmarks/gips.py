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
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from benchkit.gips_firm import generate
from benchkit.gips_work import DISPERSION_MEASURE, WEIGHTING_METHOD, run

GOAL_S = 60


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
