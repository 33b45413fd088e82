"""Benchmark: the paths users wait on, launched the way Dagster launches them (issue 23).

Run by hand (not in CI): `uv run python benchmarks/user_paths.py [--scale small|large] [--paths ...]`.

A real ``dagster-webserver`` and ``dagster-daemon`` run over a fresh instance (the repository's
``dagster.yaml`` with its storage moved to a temporary folder and without run retries, so a failure
shows as one failed run). Every run is launched through the webserver's GraphQL API (``launchRun`` as
the UI's launchpad does, ``launchPartitionBackfill`` as the UI's backfill dialog does); the daemon's
queued run coordinator dequeues it and the instance's run launcher starts the run worker, exactly as
for a user. Nothing calls ``execute_in_process``.

For each path it prints JSON: ``wall_s`` from the launch request to the last run's end,
``run_wall_s`` from the runs' start to end, ``step_s`` the summed work of the steps (STEP_START to
STEP_SUCCESS/FAILURE, from the event log), ``ratio`` = wall_s / step_s and ``run_ratio`` =
run_wall_s / step_s, the run and step counts, and the host's load average before and after (the
machine is shared: prefer the ratios). The full-history backfill also reports the peak resident
memory of the webserver's and daemon's process trees (run workers and dbt included).

Paths, in order (each needs the ones before it): ``bronze_sources``; ``eod_full_history`` (every day
of the firm's history as one ``eod_batch`` run over the range, what a single-run backfill of the job
launches; ``--eod-asset-backfill`` launches it as an asset backfill instead); ``eod_daily`` (the scheduled day: the last
trading day, one partition); ``gips_one`` (one partition of ``--gips-job``, launched alone: the
composite's earlier years are not materialized, the run computes what it needs of them);
``gips_in_order`` (the baseline in the same run: the same composite launched year by year from its inception
through that year, one run each, what a later year needed before); ``gips_all`` (every
partition of ``--gips-job`` as one backfill); ``cdc`` (Aladdin CDC through the daemon: ``aladdin_cdc_sensor``
turned on through GraphQL over a real Kafka broker, a producer at ``--cdc-rate`` events/s for ``--cdc-minutes``,
the lag sampled every second from Iceberg's committed positions: ``benchmarks/user_paths_cdc.py``; with
``cdc`` among the paths the code location reaches that broker through ``MESH_KAFKA_BOOTSTRAP``). The GIPS paths take
the job and partition names as arguments, so a different GIPS partitioning plugs in unchanged.

Goals (issue 23, 2 cores): eod_daily <= 25 s (small), gips_one <= 6 s, every run's wall <= 1.3x
its summed step work; cdc sustains >= 10K events/s with lag p99 <= 30 s.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchkit.user_platform import ROOT, Platform, instance_yaml


def gips_partitions(platform: Platform, job: str) -> list[str]:
    """Every partition key of ``job`` (dynamic dimensions read from the instance)."""
    job_def = platform.definitions().resolve_job_def(job)
    return list(job_def.partitions_def.get_partition_keys(dynamic_partitions_store=platform.instance))


def register_composites(platform: Platform) -> None:
    """Add the firm's composites and GIPS years to the GIPS partitions (what ``gips_composite_sensor`` does)."""
    from jobs.gips import register_partitions
    from mesh_assets.gips.inputs import FirmWideReads

    reads = FirmWideReads(platform.definitions().resources["warehouse"])
    composites = reads.composites()
    through = reads.data_through()
    register_partitions(platform.instance, sorted(composites["composite_id"]),
                        [int(d[:4]) for d in composites["inception_date"]], through.year if through else 0)


def gips_in_order(platform: Platform, job: str, key: str) -> dict[str, Any]:
    """The composite of ``key`` launched year by year from its inception year through the key's year, one run
    each, in order: what a later year needed before a composite-year computed its earlier years itself."""
    from mesh_assets.gips.inputs import WarehouseReads

    composite, _, year = key.partition("|")
    first = int(WarehouseReads(platform.definitions().resources["warehouse"]).composite(composite)
                ["inception_date"][:4])
    launched, run_ids = time.time(), []
    for each in range(first, int(year) + 1):
        run_ids.append(platform.launch_run(job, {"dagster/partition": f"{composite}|{each}"}))
        platform.wait_runs(run_ids[-1:], 3600)
    return platform.figures("gips_in_order", launched, run_ids, job=job, partitions=len(run_ids))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", default="small")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--end-date", default="", help="the firm's last day (YYYY-MM-DD; default: the generator's): "
                                                       "e.g. 2026-02-20 gives the small firm two GIPS years")
    parser.add_argument("--paths", default="bronze_sources,eod_full_history,eod_daily,gips_one,gips_all",
                        help="comma-separated subset of the paths (each needs the ones before it)")
    parser.add_argument("--gips-job", default="gips_report", help="the GIPS job (its partitions are read from it)")
    parser.add_argument("--gips-one", default="", help="the partition key of gips_one (default: the job's last key)")
    parser.add_argument("--eod-asset-backfill", action="store_true",
                        help="launch the full history as an asset backfill (launchPartitionBackfill: the daemon splits "
                             "it into runs) instead of one eod_batch run over the range (what a single-run backfill "
                             "of the job launches)")
    import user_paths_cdc

    user_paths_cdc.add_arguments(parser)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, instance)")
    args = parser.parse_args()
    paths = args.paths.split(",")

    tmp = Path(tempfile.mkdtemp(prefix="mesh-user-paths-"))
    home = tmp / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(instance_yaml(home))
    env = {**os.environ, "MESH_ENV": "local", "MESH_DATA_DIR": str(tmp / "data"), "MESH_FIRM_DIR": str(tmp / "firm"),
           "DAGSTER_HOME": str(home), "GX_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    os.environ.update(env)
    from mesh_assets.lib.trading_calendar import trading_days
    from mesh_dev.firm import generate_firm

    manifest = generate_firm(tmp / "firm", scale=args.scale, seed=args.seed,
                             **({"end_date": dt.date.fromisoformat(args.end_date)} if args.end_date else {}))
    if "cdc" in paths:
        bootstrap = user_paths_cdc.start_broker(tmp)
        env["MESH_KAFKA_BOOTSTRAP"] = os.environ["MESH_KAFKA_BOOTSTRAP"] = bootstrap
        user_paths_cdc.prepare(bootstrap, args.cdc_partitions)
    days = [d.isoformat() for d in trading_days(dt.date.fromisoformat(manifest["start_date"]),
                                                 dt.date.fromisoformat(manifest["end_date"]))]
    platform = Platform(home, env)
    results: list[dict[str, Any]] = []
    started = time.monotonic()
    try:
        platform.start()
        results.append({"path": "platform_start", "seconds": round(time.monotonic() - started, 1),
                        "scale": args.scale, "days": len(days), "cpus": os.cpu_count(), "git": _git_head()})
        if "bronze_sources" in paths:
            results.append(platform.run_path("bronze_sources", "bronze_sources", {}))
        if "eod_full_history" in paths:
            if args.eod_asset_backfill:
                results.append(platform.backfill_path("eod_full_history", "eod_batch", days, memory=True))
            else:
                results.append(platform.run_path("eod_full_history", "eod_batch", {
                    "dagster/asset_partition_range_start": days[0], "dagster/asset_partition_range_end": days[-1]},
                    memory=True))
        if "eod_daily" in paths:
            results.append(platform.run_path("eod_daily", "eod_batch", {"dagster/partition": days[-1]}))
        if "gips_one" in paths or "gips_all" in paths:
            register_composites(platform)
            keys = gips_partitions(platform, args.gips_job)
        if "gips_one" in paths:
            one = args.gips_one or keys[-1]
            results.append(platform.run_path("gips_one", args.gips_job, {"dagster/partition": one}))
        if "gips_in_order" in paths:
            results.append(gips_in_order(platform, args.gips_job, args.gips_one or keys[-1]))
        if "gips_all" in paths:
            results.append(platform.backfill_path("gips_all", args.gips_job, keys))
        if "cdc" in paths:
            results.append(user_paths_cdc.cdc_path(platform, bootstrap, args.cdc_partitions, args.cdc_rate,
                                                   args.cdc_minutes, args.cdc_drain_s, args.cdc_pool_slots))
    finally:
        platform.stop()
        if "cdc" in paths and "MESH_KAFKA_BOOTSTRAP" in env:
            user_paths_cdc.stop_broker(tmp)
        for line in results:
            print(json.dumps(line))
        if not args.keep:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(json.dumps({"kept": str(tmp)}))


def _git_head() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


if __name__ == "__main__":
    main()
