"""One world for the acceptance suite: ``dagster-webserver`` and ``dagster-daemon`` over a fresh instance.

Built once per session and shared by every role's module (tests/acceptance/test_*.py):

- a fresh DAGSTER_HOME whose ``dagster.yaml`` is the repository's local one (default run launcher, queued
  runs, pools, retries of crashed runs only, run monitoring), with its folders moved into the temporary
  home and the daemon's monitoring loop shortened so a freed slot is seen in seconds;
- the small firm, its Aladdin CDC capture produced into fresh topics on the session's real Kafka broker;
- the webserver and the daemon as subprocesses loading ``workspace.yaml`` (each with its own code server);
- what the roles read, materialized ONCE and launched through GraphQL as a person would: ``bronze_sources``,
  then the end-of-day batch over the firm's whole history as a backfill (one run, single-run policy).

Nothing here calls ``execute_in_process``; tests read results through GraphQL, the UI, the ``mesh`` CLI
and, where the table decides (exactly-once), the Iceberg tables themselves.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.acceptance.graphql import LOCATION, REPOSITORY, GraphQL, wait_for
from tests.support.processes import stop_process_group

REPO = Path(__file__).resolve().parents[2]
#: Settings that make the world's clocks fast: monitoring every 2 s, a finished run's slots freed after 3 s,
#: the audit sensor every 5 s, the end-of-day schedule every minute.
MONITORING = {"poll_interval_seconds": 2, "free_slots_after_run_end_seconds": 3}
SETTINGS = {"MESH_AUDIT_SENSOR_INTERVAL_S": "5", "MESH_EOD_CRON": "* * * * *"}
WORLD_TIMEOUT = 1200
#: The world's own two runs (scaffolding every role reads) run their steps in the run worker, as a person may
#: choose in the launchpad: on 2 busy cores a process per step costs minutes. The runs the roles launch
#: themselves (GIPS, the CDC sensor's, the schedule's) use their jobs' own executors.
IN_PROCESS = {"execution": {"config": {"in_process": {}}}}


def instance_yaml(home: Path) -> dict[str, Any]:
    """The repository's local ``dagster.yaml``, its folders under ``home`` and its monitoring loop shortened."""
    config = yaml.safe_load((REPO / "dagster.yaml").read_text())
    config["storage"] = {"sqlite": {"base_dir": str(home / "storage")}}
    config["local_artifact_storage"]["config"]["base_dir"] = str(home)
    config["compute_logs"]["config"]["base_dir"] = str(home / "compute_logs")
    config["run_monitoring"].update(MONITORING)
    # The queued coordinator the local instance uses (Dagster's default with `concurrency`), dequeuing often.
    config["run_coordinator"] = {"module": "dagster._core.run_coordinator", "class": "QueuedRunCoordinator",
                                 "config": {"dequeue_interval_seconds": 1}}
    return config


def _start(command: list[str], env: dict[str, str], logs: Path, name: str) -> subprocess.Popen:
    with (logs / f"{name}.out").open("wb") as stdout, (logs / f"{name}.err").open("wb") as stderr:
        # its own process group: the process and the code server it spawns are stopped together
        return subprocess.Popen(command, cwd=REPO, env=env, stdout=stdout, stderr=stderr, start_new_session=True)


VALID = """query($job: PipelineSelector!, $config: RunConfigData) {
  isPipelineConfigValid(pipeline: $job, mode: "default", runConfigData: $config) { __typename } }"""


def world_run_config(gql: GraphQL, job: str) -> dict:
    """:data:`IN_PROCESS` if ``job``'s executor offers that choice, else no run config."""
    valid = gql(VALID, job={"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY, "pipelineName": job},
                config=IN_PROCESS)["isPipelineConfigValid"]["__typename"]
    return IN_PROCESS if valid == "PipelineConfigValidationValid" else {}


LAUNCH_BACKFILL = """mutation($params: LaunchBackfillParams!) { launchPartitionBackfill(backfillParams: $params) {
  __typename ... on LaunchBackfillSuccess { backfillId } ... on PythonError { message stack } } }"""
BACKFILL = """query($id: String!) { partitionBackfillOrError(backfillId: $id) { __typename ... on PartitionBackfill {
  status isAssetBackfill runs { runId status tags { key value } } error { message } } } }"""


def launch_eod_backfill(gql: GraphQL, days: list[str], run_config: dict | None = None) -> str:
    """The end-of-day job's backfill over ``days``, as the UI's Materialize -> Launch backfill submits it."""
    data = gql(LAUNCH_BACKFILL, params={
        "selector": {"partitionSetName": "eod_batch_partition_set",
                     "repositorySelector": {"repositoryLocationName": LOCATION, "repositoryName": REPOSITORY}},
        "partitionNames": days, "runConfigData": run_config,
    })["launchPartitionBackfill"]
    assert data["__typename"] == "LaunchBackfillSuccess", data
    return data["backfillId"]


def finished_backfill(gql: GraphQL, backfill_id: str, timeout: float) -> dict:
    """The backfill once it and all its runs are done."""
    def probe():
        backfill = gql(BACKFILL, id=backfill_id)["partitionBackfillOrError"]
        done = backfill["status"] in ("COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED")
        return backfill if done and all(r["status"] in ("SUCCESS", "FAILURE", "CANCELED") for r in backfill["runs"]) \
            else None
    return wait_for(probe, timeout, f"backfill {backfill_id}", interval=2.0)


DAEMONS = """{ instance { daemonHealth { allDaemonStatuses { daemonType required healthy } } } }"""


def daemons_healthy(gql: GraphQL, daemon: subprocess.Popen, logs: Path) -> bool:
    """Every required daemon (scheduler, sensors, run queue, backfills, monitoring, retries) heartbeats."""
    if daemon.poll() is not None:
        pytest.fail(f"dagster-daemon exited with {daemon.returncode}:\n{(logs / 'daemon.err').read_text()[-4000:]}")
    statuses = gql(DAEMONS)["instance"]["daemonHealth"]["allDaemonStatuses"]
    return bool(statuses) and all(s["healthy"] for s in statuses if s["required"])


# package scope: the webserver and daemon stop once the acceptance tests are done, not at the end of the session
@pytest.fixture(scope="package")
def mesh(small_firm: Path, kafka_broker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """The running world (see the module docstring): URLs, GraphQL client, environment, ids of what was built."""
    import datetime as dt

    from mesh_assets.lib.trading_calendar import trading_days
    from mesh_dev.local import cdc_producer
    from tests.ui.test_dagster_ui import _free_port, _wait_until_loaded

    root = tmp_path_factory.mktemp("acceptance")
    home, logs = root / "dagster_home", root / "logs"
    home.mkdir()
    logs.mkdir()
    (home / "dagster.yaml").write_text(yaml.safe_dump(instance_yaml(home), sort_keys=False))
    manifest = json.loads((small_firm / "firm.json").read_text())
    days = [d.isoformat() for d in trading_days(dt.date.fromisoformat(manifest["start_date"]),
                                                 dt.date.fromisoformat(manifest["end_date"]))]
    bootstrap, prefix = kafka_broker.bootstrap_servers, f"acc{uuid.uuid4().hex[:8]}."
    cdc_producer.ensure_cdc_topics(bootstrap, manifest["kafka_partitions"], topic_prefix=prefix)
    produced = cdc_producer.produce_capture(bootstrap, cdc_producer.capture_dir(small_firm), topic_prefix=prefix)
    assert produced["offsets_match_capture"], produced["offset_mismatch_examples"]

    env = {**os.environ, **SETTINGS, "DAGSTER_HOME": str(home), "MESH_ENV": "local",
           "MESH_DATA_DIR": str(root / "data"), "MESH_FIRM_DIR": str(small_firm),
           "MESH_KAFKA_BOOTSTRAP": bootstrap, "MESH_KAFKA_TOPIC_PREFIX": prefix,
           "GX_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
           "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS": "true"}  # as deployed (deploy/helm/values.yaml)
    bin_dir = Path(sys.executable).parent
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    webserver = _start([str(bin_dir / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port),
                        "-w", str(REPO / "workspace.yaml")], env, logs, "webserver")
    daemon = None
    try:
        # the webserver creates the fresh SQLite storage; a daemon started alongside would race it
        _wait_until_loaded(webserver, url, logs / "webserver.err")
        daemon = _start([str(bin_dir / "dagster-daemon"), "run", "-w", str(REPO / "workspace.yaml")], env, logs,
                        "daemon")
        gql = GraphQL(url)
        wait_for(lambda: daemons_healthy(gql, daemon, logs), 180, "the daemon's heartbeats", interval=2)
        sources = gql.wait(gql.launch("bronze_sources", run_config=world_run_config(gql, "bronze_sources")),
                           timeout=WORLD_TIMEOUT)
        assert sources["status"] == "SUCCESS", (sources, gql.failure_message(sources["runId"]))
        backfill_id = launch_eod_backfill(gql, days, world_run_config(gql, "eod_batch"))
        backfill = finished_backfill(gql, backfill_id, WORLD_TIMEOUT)
        assert daemon.poll() is None, (logs / "daemon.err").read_text()[-4000:]
        yield {"url": url, "gql": gql, "env": env, "days": days, "manifest": manifest, "firm": small_firm,
               "home": home, "data": root / "data", "logs": logs, "bootstrap": bootstrap, "prefix": prefix,
               "produced": produced, "backfill": {**backfill, "id": backfill_id}, "sources_run": sources,
               "daemon": daemon, "webserver": webserver}
    finally:
        if daemon is not None:
            stop_process_group(daemon)
        stop_process_group(webserver)


# module scope: Playwright's sync API keeps an event loop running in this thread while it is open, which
# breaks every later asyncio.run() (Dagster's GraphQL client) of the session
@pytest.fixture(scope="module")
def ui(mesh):
    """A headless Debian Chromium on the world's webserver (the UI tests' browser settings)."""
    from playwright.sync_api import sync_playwright

    from tests.ui.test_dagster_ui import BROWSER_STORAGE, CHROMIUM, CHROMIUM_ARGS

    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium (make system-deps)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(base_url=mesh["url"], viewport={"width": 1600, "height": 1000})
        context.add_init_script(BROWSER_STORAGE)
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()
            browser.close()


@pytest.fixture
def page(ui):
    tab = ui.new_page()
    yield tab
    tab.close()
