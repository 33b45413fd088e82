"""The platform ``benchmarks/user_paths.py`` launches runs on: a webserver and a daemon over a fresh
instance, the repository's ``dagster.yaml`` with storage moved to a temporary folder, and the figures of the
runs launched through them (wall, summed step time, their ratio, memory of the whole process tree)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
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


#: What every deployment sets for its webserver and daemon (deploy/helm/values.yaml says why): one planned event per
#: asset for a range run.
AS_DEPLOYED = {"DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true"}


class Platform:
    """A webserver and a daemon over a fresh instance, and the figures of runs launched through them."""

    def __init__(self, home: Path, env: dict[str, str]) -> None:
        self.home = home
        self.env = {**env, **AS_DEPLOYED}
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
