"""Benchmark: the two GIPS runs as users launch them, through the instance's run launcher (never in process).

(a) one composite-year: job ``gips_report``, partition ``<composite>|<year>`` (tags ``dagster/partition``,
    ``dagster/partition/composite``, ``dagster/partition/year``);
(b) every composite x year: job ``gips_book`` over the range of GIPS years (tags
    ``dagster/asset_partition_range_start`` / ``_end``), one run.

Each is launched with ``dagster job launch -w workspace.yaml`` against the instance in DAGSTER_HOME (which
must launch runs at once: ``DefaultRunCoordinator``, or a running daemon) over a world that already holds
gold (``make demo`` or the eod batch) with MESH_ENV / MESH_DATA_DIR / MESH_FIRM_DIR set. Prints JSON per
path: wall from launch to the run's end, the run's own wall (start to end), the summed step time, and
their ratio (the goal: a run costs its work, wall <= 1.3 x steps).

Run by hand: `DAGSTER_HOME=... MESH_DATA_DIR=... MESH_FIRM_DIR=... .venv/bin/python benchmarks/gips_runs.py
--composite COMP-01 --year 2026`.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def launch(instance, job: str, tags: dict[str, str]) -> dict:
    """Launch ``job`` with ``tags`` through the run launcher and wait for it; the run's timings."""
    from dagster import DagsterEventType

    run_id = str(uuid.uuid4())
    started = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "dagster"), "job", "launch", "-w", str(ROOT / "workspace.yaml"),
                    "-j", job, "--tags", json.dumps(tags), "--run-id", run_id], cwd=ROOT, check=True,
                   capture_output=True)
    while not (run := instance.get_run_by_id(run_id)).is_finished:
        time.sleep(0.2)
    wall = time.perf_counter() - started
    stats = instance.get_run_stats(run_id)
    steps = sum((s.end_time or 0) - (s.start_time or 0) for s in instance.get_run_step_stats(run_id))
    events = [r.event_log_entry.dagster_event for r in instance.get_records_for_run(run_id).records
              if r.event_log_entry.dagster_event]
    run_wall = (stats.end_time or 0) - (stats.start_time or stats.launch_time or 0)
    return {"job": job, "tags": tags, "status": run.status.value, "launch_to_end_s": round(wall, 2),
            "run_wall_s": round(run_wall, 2), "steps_s": round(steps, 2),
            "run_wall_over_steps": round(run_wall / steps, 2) if steps else None,
            "steps": sum(e.event_type == DagsterEventType.STEP_START for e in events)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--composite", required=True)
    parser.add_argument("--year", type=int, required=True)
    args = parser.parse_args()
    from dagster import DagsterInstance

    from mesh_assets.gips.partitions import YEARS_PARTITION_SET

    with DagsterInstance.get() as instance:
        years = instance.get_dynamic_partitions(YEARS_PARTITION_SET)
        if not years:
            raise SystemExit("no GIPS years registered: run `mesh gips report` or the gips_composite_sensor first")
        key = f"{args.composite}|{args.year}"
        one = launch(instance, "gips_report", {"dagster/partition": key, "dagster/partition/composite": args.composite,
                                               "dagster/partition/year": str(args.year)})
        book = launch(instance, "gips_book", {"dagster/asset_partition_range_start": years[0],
                                              "dagster/asset_partition_range_end": years[-1]})
    print(json.dumps({"benchmark": "gips_runs", "one_composite_year": one, "every_composite_year": book,
                      "goals_s": {"one_composite_year": 6, "every_composite_year": 120}}, indent=2))


if __name__ == "__main__":
    main()
