"""The small firm's end of day on ``MESH_ENV=cluster``: bronze through pyiceberg into the shared JDBC catalog, silver
and gold by dbt's ``trino`` target, launched as the UI launches a job (the instance's run launcher), not in process.

``dagster job launch -w workspace.yaml`` hands each run to the instance in ``DAGSTER_HOME`` (default run launcher: a
run process of its own loading the code location, the job's own executor) with the cluster's variables; the test
reads the runs back from that instance. The session's Trino
server is shared: the layers' schemas (bronze, silver, gold, stream, tenant_*) are dropped first, so the world
starts from an empty catalog whatever an earlier test left there.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

REPO = Path(__file__).resolve().parents[2]
#: The layers' schemas in the catalog (tenant schemas are found by prefix).
LAYER_SCHEMAS = ("bronze", "silver", "gold", "stream")
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def trino_rows(info: Any, sql: str) -> list[list]:
    """Rows of ``sql`` on the session's Trino, in its catalog."""
    import trino

    with trino.dbapi.connect(host=info.host, port=info.port, user="mesh", catalog=info.catalog) as conn:
        cursor = conn.cursor()
        cursor.execute(sql)
        return cursor.fetchall()


def drop_layers(info: Any) -> None:
    """Drop every table, view and schema of the layers (and every ``tenant_*`` schema) from the catalog."""
    schemas = [s for (s,) in trino_rows(info, "SHOW SCHEMAS") if s in LAYER_SCHEMAS or s.startswith("tenant_")]
    for schema in schemas:
        for name, kind in trino_rows(info, "SELECT table_name, table_type FROM information_schema.tables "
                                           f"WHERE table_schema = '{schema}'"):
            trino_rows(info, f'DROP {"VIEW" if kind == "VIEW" else "TABLE"} "{schema}"."{name}"')
        trino_rows(info, f'DROP SCHEMA "{schema}"')


def cluster_env(info: Any, root: Path, firm: Path, **extra: str) -> dict[str, str]:
    """The variables of ``MESH_ENV=cluster`` against ``info`` with a data folder and Dagster home under ``root``."""
    return {**info.environment(), "MESH_DATA_DIR": str(root / "data"), "MESH_FIRM_DIR": str(firm),
            "DAGSTER_HOME": str(root / "dagster_home"), **extra}


def start_job(env: Mapping[str, str], job: str, tags: Mapping[str, str] | None = None) -> str:
    """Launch ``job`` as the UI does, through the instance's run launcher (``dagster job launch -w workspace.yaml``:
    a run process of its own loading the code location, with ``env`` over this process's environment); its run id."""
    import uuid

    run_id = str(uuid.uuid4())
    command = [str(Path(sys.executable).parent / "dagster"), "job", "launch", "-w", str(REPO / "workspace.yaml"),
               "-j", job, "--config-json", json.dumps(QUIET), "--run-id", run_id,
               *(["--tags", json.dumps(tags)] if tags else [])]
    launcher = subprocess.run(command, cwd=REPO, env={**os.environ, **env}, capture_output=True, text=True,
                              timeout=300)
    assert launcher.returncode == 0, launcher.stderr[-3000:]
    return run_id


def wait_for_run(env: Mapping[str, str], run_id: str, timeout: float = 900) -> Any:
    """The run once it has finished, read from the instance in ``DAGSTER_HOME``."""
    import time

    from dagster import DagsterInstance

    deadline = time.monotonic() + timeout
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        while not (run := instance.get_run_by_id(run_id)).is_finished:
            assert time.monotonic() < deadline, f"{run.job_name} run {run_id} did not finish within {timeout:.0f} s"
            time.sleep(1)
        return run


def launch_job(env: Mapping[str, str], job: str, tags: Mapping[str, str] | None = None, timeout: float = 900) -> Any:
    """:func:`start_job`, then :func:`wait_for_run`: the finished run."""
    return wait_for_run(env, start_job(env, job, tags), timeout)


def failure_messages(env: Mapping[str, str], run_id: str) -> list[str]:
    """The step failures of a run, for an assertion's message."""
    from dagster import DagsterInstance

    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        return [r.event_log_entry.message or "" for r in instance.get_records_for_run(run_id).records
                if r.event_log_entry.dagster_event and r.event_log_entry.dagster_event.is_failure][:5]


def range_tags(first: str, last: str) -> dict[str, str]:
    """The tags of one run over the partitions ``first..last`` (a single-run backfill)."""
    return {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}


def build_cluster_world(info: Any, firm: Path, root: Path, days: list[str]) -> dict[str, Any]:
    """``bronze_sources`` then ``eod_batch`` over ``days`` (one run) on the cluster; the two runs."""
    (root / "dagster_home").mkdir(parents=True, exist_ok=True)
    # runs start at once (no daemon dequeues them); the run launcher is the default one, a process per run
    (root / "dagster_home" / "dagster.yaml").write_text(
        "run_coordinator:\n  module: dagster._core.run_coordinator\n  class: DefaultRunCoordinator\n"
        "telemetry:\n  enabled: false\n")
    drop_layers(info)
    # The range is built in three dbt builds (as a backfill longer than a year is), so the engines' comparison
    # covers a history merged a piece at a time on Trino against DuckDB's one build.
    env = cluster_env(info, root, firm, MESH_DBT_DAYS_PER_BUILD=str(max(1, -(-len(days) // 3))))
    sources = launch_job(env, "bronze_sources")
    eod = launch_job(env, "eod_batch", range_tags(days[0], days[-1])) if sources.is_success else None
    return {"env": env, "root": root, "days": days, "sources": sources, "eod": eod, "info": info}
