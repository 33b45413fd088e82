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
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LOCATION = "investment_data_mesh"
REPOSITORY = "__repository__"
GOALS = {"eod_daily": 25.0, "gips_one": 6.0}
RATIO_GOAL = 1.3

BACKFILL_MUTATION = """
mutation($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message stack }
    ... on UnauthorizedError { message }
    ... on PartitionSetNotFoundError { message }
    ... on InvalidSubsetError { message }
  }
}
"""


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def instance_yaml(home: Path) -> str:
    """The repository's dagster.yaml with storage under ``home`` and no run retries (a failure stays one run)."""
    import yaml

    config = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    config["storage"] = {"sqlite": {"base_dir": str(home / "storage")}}
    config["local_artifact_storage"] = {"module": "dagster._core.storage.root", "class": "LocalArtifactStorage",
                                        "config": {"base_dir": str(home)}}
    config["compute_logs"] = {"module": "dagster._core.storage.local_compute_log_manager",
                              "class": "LocalComputeLogManager", "config": {"base_dir": str(home / "logs")}}
    config.pop("run_retries", None)
    config["run_coordinator"] = {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator",
                                 "config": {"dequeue_interval_seconds": 1}}
    config.setdefault("concurrency", {}).setdefault("runs", {})
    config["telemetry"] = {"enabled": False}
    return yaml.safe_dump(config)


class TreeMemory:
    """Peak summed RSS of the process trees under some root pids (sampled every 0.25 s)."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.peak_total = 0
        self.peak_single = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        import psutil

        while not self._stop.is_set():
            total, single = 0, 0
            for pid in self.pids:
                try:
                    root = psutil.Process(pid)
                    for proc in [root, *root.children(recursive=True)]:
                        rss = proc.memory_info().rss
                        total += rss
                        single = max(single, rss)
                except psutil.Error:
                    continue
            self.peak_total = max(self.peak_total, total)
            self.peak_single = max(self.peak_single, single)
            self._stop.wait(0.25)

    def __enter__(self) -> TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join()


class Platform:
    """A webserver and a daemon over a fresh instance, and the figures of runs launched through them."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.env = env
        self.port = free_port()
        self.processes: list[subprocess.Popen] = []

    def start(self) -> None:
        """Start the webserver and the daemon; wait until GraphQL answers."""
        from dagster_graphql import DagsterGraphQLClient

        logs = self.home / "process-logs"
        logs.mkdir(exist_ok=True)
        bin_dir = Path(sys.executable).parent
        for name, args in (
            ("webserver", [str(bin_dir / "dagster-webserver"), "-w", str(ROOT / "workspace.yaml"), "-h", "127.0.0.1",
                           "-p", str(self.port)]),
            ("daemon", [str(bin_dir / "dagster-daemon"), "run", "-w", str(ROOT / "workspace.yaml")]),
        ):
            out = open(logs / f"{name}.log", "wb")  # noqa: SIM115 - closed with the process
            self.processes.append(subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=out, stderr=subprocess.STDOUT))
        self.client = DagsterGraphQLClient("127.0.0.1", port_number=self.port, timeout=600)
        deadline = time.monotonic() + 300
        while True:
            try:
                self.client._execute("{ version }")
                break
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(1)
        from dagster import DagsterInstance

        self.instance = DagsterInstance.from_config(str(self.home))

    def stop(self) -> None:
        """Stop the daemon and the webserver (SIGTERM, then SIGKILL)."""
        for process in reversed(self.processes):
            process.terminate()
        for process in reversed(self.processes):
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()

    def launch_run(self, job: str, tags: dict[str, str]) -> str:
        """``launchRun`` of ``job`` with ``tags`` (the UI's launchpad); the run id."""
        return self.client.submit_job_execution(job, repository_location_name=LOCATION, repository_name=REPOSITORY,
                                                tags=tags)

    def launch_backfill(self, job: str, partitions: list[str]) -> str:
        """``launchPartitionBackfill`` of the job's assets over ``partitions`` (the UI's backfill dialog)."""
        job_def = self.definitions().resolve_job_def(job)
        keys = sorted(job_def.asset_layer.asset_graph.executable_asset_keys, key=str)
        params = {"assetSelection": [{"path": k.path} for k in keys], "partitionNames": partitions,
                  "fromFailure": False}
        answer = self.client._execute(BACKFILL_MUTATION, {"params": params})["launchPartitionBackfill"]
        if answer["__typename"] != "LaunchBackfillSuccess":
            raise RuntimeError(f"backfill of {job} refused: {answer}")
        return answer["backfillId"]

    def definitions(self) -> Any:
        """The code location's definitions in this process (to read partition keys; nothing runs here)."""
        if not hasattr(self, "_defs"):
            from mesh_assets.definitions import build_definitions

            self._defs = build_definitions()
        return self._defs

    def wait_runs(self, run_ids: list[str], timeout: float) -> None:
        """Until every run has finished."""
        deadline = time.monotonic() + timeout
        while True:
            runs = [self.instance.get_run_by_id(r) for r in run_ids]
            if all(r is not None and r.is_finished for r in runs):
                return
            if time.monotonic() > deadline:
                raise TimeoutError(f"runs not finished after {timeout} s: {run_ids}")
            time.sleep(0.5)

    def wait_backfill(self, backfill_id: str, timeout: float) -> list[str]:
        """Until the backfill is done and its runs have finished; its run ids."""
        from dagster import RunsFilter
        from dagster._core.execution.backfill import BulkActionStatus

        deadline = time.monotonic() + timeout
        while True:
            backfill = self.instance.get_backfill(backfill_id)
            runs = self.instance.get_runs(filters=RunsFilter(tags={"dagster/backfill": backfill_id}))
            if backfill.status != BulkActionStatus.REQUESTED and all(r.is_finished for r in runs):
                return [r.run_id for r in runs]
            if time.monotonic() > deadline:
                raise TimeoutError(f"backfill {backfill_id} not done after {timeout} s")
            time.sleep(0.5)

    def figures(self, name: str, launched_at: float, run_ids: list[str], **extra: Any) -> dict[str, Any]:
        """Wall, run wall, summed step work, their ratios, statuses and step counts of ``run_ids``."""
        records = [self.instance.get_run_record_by_id(r) for r in run_ids]
        ends = [r.end_time for r in records if r.end_time]
        starts = [r.start_time for r in records if r.start_time]
        steps = [s for r in run_ids for s in self.instance.get_run_step_stats(r)]
        step_s = sum((s.end_time or 0) - (s.start_time or 0) for s in steps if s.start_time)
        wall = (max(ends) - launched_at) if ends else None
        run_wall = (max(ends) - min(starts)) if ends and starts else None
        statuses: dict[str, int] = {}
        for record in records:
            statuses[record.dagster_run.status.value] = statuses.get(record.dagster_run.status.value, 0) + 1
        last = max(ends) if ends else time.time()
        others = [r for r in self.instance.get_run_records() if r.dagster_run.run_id not in run_ids
                  and r.start_time and r.start_time < last and (r.end_time or last) > launched_at]
        slowest = sorted(((round((s.end_time or 0) - (s.start_time or 0), 2), s.step_key) for s in steps
                          if s.start_time), reverse=True)[:5]
        result = {
            "path": name, "runs": len(run_ids), "statuses": statuses, "steps": len(steps),
            "wall_s": round(wall, 2) if wall is not None else None,
            "run_wall_s": round(run_wall, 2) if run_wall is not None else None,
            "step_s": round(step_s, 2),
            "ratio": round(wall / step_s, 2) if wall and step_s else None,
            "run_ratio": round(run_wall / step_s, 2) if run_wall and step_s else None,
            "ratio_goal": RATIO_GOAL, "slowest_steps": slowest,
            # Runs the daemon launched meanwhile (sensors, automation): they share the two cores.
            "other_runs_meanwhile": sorted(r.dagster_run.job_name for r in others),
            "load_avg": list(os.getloadavg()), **extra,
        }
        if name in GOALS:
            result["goal_s"] = GOALS[name]
        return result

    def run_path(self, name: str, job: str, tags: dict[str, str], timeout: float = 3600,
                 memory: bool = False) -> dict[str, Any]:
        """One run of ``job`` launched through GraphQL, waited for, measured (with peak RSS if ``memory``)."""
        load_before = list(os.getloadavg())
        extra: dict[str, Any] = {}
        launched = time.time()
        with TreeMemory([p.pid for p in self.processes] if memory else []) as sampler:
            run_id = self.launch_run(job, tags)
            self.wait_runs([run_id], timeout)
        if memory:
            extra = {"peak_rss_mib_all_processes": round(sampler.peak_total / 2**20),
                     "peak_rss_mib_largest_process": round(sampler.peak_single / 2**20)}
        return self.figures(name, launched, [run_id], job=job, tags=tags, load_before=load_before, **extra)

    def backfill_path(self, name: str, job: str, partitions: list[str], timeout: float = 3600,
                      memory: bool = False) -> dict[str, Any]:
        """One backfill of ``job`` over ``partitions`` launched through GraphQL, waited for, measured."""
        load_before = list(os.getloadavg())
        extra: dict[str, Any] = {}
        launched = time.time()
        if memory:
            with TreeMemory([p.pid for p in self.processes]) as sampler:
                backfill_id = self.launch_backfill(job, partitions)
                run_ids = self.wait_backfill(backfill_id, timeout)
            extra = {"peak_rss_mib_all_processes": round(sampler.peak_total / 2**20),
                     "peak_rss_mib_largest_process": round(sampler.peak_single / 2**20)}
        else:
            backfill_id = self.launch_backfill(job, partitions)
            run_ids = self.wait_backfill(backfill_id, timeout)
        return self.figures(name, launched, run_ids, job=job, partitions=len(partitions),
                            first_partition=partitions[0], last_partition=partitions[-1], load_before=load_before,
                            **extra)


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
