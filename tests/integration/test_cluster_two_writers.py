"""Two writers at once on `cluster`: runs of two trading days write the daily gold tables side by side.

A real ``dagster-webserver`` and ``dagster-daemon`` over a fresh instance (the repository's ``dagster.yaml``: queued
runs, pools with a default limit of 1) with ``MESH_ENV=cluster`` against the session's Trino and its shared Iceberg
catalog, over the session's ``cluster_world`` (``bronze_sources`` and ``eod_batch`` over the firm's whole history,
launched through the run launcher: tests/support/cluster_world.py). Launched through GraphQL as a person does: the
last two days' rows are deleted from every daily gold table and the daily gold assets of each of those days are
launched together, two runs
re-materializing one partition each (what a person does to restate two days). On `cluster` the daily step is in no
pool (``mesh_assets.warehouse.assets.daily_pool``; the DuckDB ``warehouse`` pool of 1 stays for `local`), so both
runs' dbt merges run at the same time; both succeed and each day has exactly the rows the DuckDB build of the same
firm has (``eod_world``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from mesh_dev.local.trino_layout import TrinoInfo
from tests.acceptance.graphql import LOCATION, REPOSITORY, GraphQL, wait_for
from tests.support.cluster_world import trino_rows
from tests.support.processes import stop_process_group
from tests.support.warehouse import query as duckdb_query

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
#: The daily gold tables (dbt models tagged `daily`), each keyed by its trading day `as_of_date`.
DAILY_TABLES = ["positions", "valuations", "portfolio_daily_values", "nav_history", "daily_returns",
                "portfolio_analytics", "unvalued_positions", "product_nav_history", "product_performance",
                "product_prices", "product_esg"]
LAUNCH = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message stack }
  ... on RunConfigValidationInvalid { errors { message } } ... on InvalidSubsetError { message } } }"""
DAILY_NODES = """{ assetNodes { assetKey { path } opNames } }"""


def _launch(gql: GraphQL, job: str, tags: dict[str, str], run_config: dict | None = None,
            assets: list[list[str]] | None = None) -> str:
    selector: dict[str, Any] = {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "jobName": job}
    if assets is not None:
        selector["assetSelection"] = [{"path": path} for path in assets]
    data = gql(LAUNCH, params={"selector": selector, "runConfigData": run_config or {},
                               "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in tags.items()]}},
               )["launchRun"]
    assert data["__typename"] == "LaunchRunSuccess", data
    return data["run"]["runId"]


def _instance_yaml(home: Path) -> str:
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    config["storage"] = {"sqlite": {"base_dir": str(home / "storage")}}
    config["local_artifact_storage"]["config"]["base_dir"] = str(home)
    config["compute_logs"]["config"]["base_dir"] = str(home / "compute_logs")
    config.pop("run_retries", None)  # a failure stays one run
    return yaml.safe_dump(config, sort_keys=False)


def _start(command: list[str], env: dict[str, str], logs: Path, name: str) -> subprocess.Popen:
    with (logs / f"{name}.out").open("wb") as stdout, (logs / f"{name}.err").open("wb") as stderr:
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=stdout, stderr=stderr, start_new_session=True)



@pytest.fixture(scope="module")
def cluster_platform(trino_cluster: TrinoInfo, small_firm: Path, cluster_world,
                     tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Webserver and daemon on `cluster`, over the session's cluster world (bronze and the whole history built)."""
    from mesh_assets.lib.trading_calendar import trading_days
    from tests.acceptance.conftest import daemons_healthy
    from tests.ui.test_dagster_ui import _free_port, _wait_until_loaded

    root = tmp_path_factory.mktemp("cluster_two_writers")
    home, logs = root / "dagster_home", root / "logs"
    home.mkdir()
    logs.mkdir()
    (home / "dagster.yaml").write_text(_instance_yaml(home))
    manifest = json.loads((small_firm / "firm.json").read_text())
    days = [d.isoformat() for d in trading_days(dt.date.fromisoformat(manifest["start_date"]),
                                                 dt.date.fromisoformat(manifest["end_date"]))]
    env = {**os.environ, **trino_cluster.environment(), "DAGSTER_HOME": str(home), "MESH_DATA_DIR": str(root / "data"),
           "MESH_FIRM_DIR": str(small_firm), "GX_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1"}
    bin_dir = Path(sys.executable).parent
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    webserver = _start([str(bin_dir / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port),
                        "-w", str(REPO / "workspace.yaml")], env, logs, "webserver")
    daemon = None
    try:
        _wait_until_loaded(webserver, url, logs / "webserver.err")
        daemon = _start([str(bin_dir / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")], env, logs,
                        "daemon")
        gql = GraphQL(url)
        wait_for(lambda: daemons_healthy(gql, daemon, logs), 180, "the daemon's heartbeats", interval=2)
        yield {"gql": gql, "home": home, "days": days, "logs": logs}
    finally:
        if daemon is not None:
            stop_process_group(daemon)
        stop_process_group(webserver)


def test_two_days_written_at_once_on_cluster_keep_every_row(cluster_platform, trino_cluster: TrinoInfo, eod_world):
    from dagster import DagsterInstance

    gql, days = cluster_platform["gql"], cluster_platform["days"][-2:]
    nodes = gql(DAILY_NODES)["assetNodes"]
    daily = [n["assetKey"]["path"] for n in nodes if "gold_daily" in n["opNames"]]
    assert {path[-1] for path in daily} >= set(DAILY_TABLES)
    two_days = f"as_of_date IN (DATE '{days[0]}', DATE '{days[1]}')"
    for table in DAILY_TABLES:
        trino_rows(trino_cluster, f"DELETE FROM gold.{table} WHERE {two_days}")
        assert trino_rows(trino_cluster, f"SELECT count(*) FROM gold.{table} WHERE {two_days}") == [[0]]

    run_ids = [_launch(gql, "__ASSET_JOB", {"dagster/partition": day}, assets=daily) for day in days]
    runs = [gql.wait(run_id, timeout=900) for run_id in run_ids]
    assert [r["status"] for r in runs] == ["SUCCESS", "SUCCESS"], [gql.failure_message(r) for r in run_ids]

    instance = DagsterInstance.from_config(str(cluster_platform["home"]))
    try:
        steps = [{s.step_key: s for s in instance.get_run_step_stats(run_id)}["gold_daily"] for run_id in run_ids]
    finally:
        instance.dispose()
    # the two dbt merges overlapped in time: neither waited for the other's pool slot
    assert max(s.start_time for s in steps) < min(s.end_time for s in steps), [(s.start_time, s.end_time)
                                                                               for s in steps]

    for table in DAILY_TABLES:
        for day in days:
            sql = f"SELECT count(*) FROM gold.{table} WHERE as_of_date = DATE '{day}'"
            local = duckdb_query(eod_world["warehouse"], sql)[0][0]
            assert trino_rows(trino_cluster, sql) == [[local]], (table, day)
    assert duckdb_query(eod_world["warehouse"], f"SELECT count(*) FROM gold.nav_history WHERE as_of_date = "
                                                f"DATE '{days[1]}'")[0][0] > 0
