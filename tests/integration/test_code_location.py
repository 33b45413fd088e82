"""The code location: graph snapshot, `dagster definitions validate`, instance config, environments."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SNAPSHOT = ROOT / "tests" / "snapshots" / "asset_graph.json"


def graph_snapshot() -> dict:
    """Keys, deps, groups, kinds, partitions and checks of every asset: a reviewed diff on every change."""
    from mesh_assets.definitions import build_definitions

    graph = build_definitions().resolve_asset_graph()
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        partitions = node.partitions_def
        assets[key.to_user_string()] = {
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "group": node.group_name,
            "kinds": sorted(node.kinds),
            "owners": sorted(node.owners),
            "partitions": type(partitions).__name__ if partitions else None,
            "checks": sorted(c.name for c in graph.asset_check_keys if c.asset_key == key),
        }
    return assets


def test_asset_graph_matches_the_reviewed_snapshot():
    current = graph_snapshot()
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=2, sort_keys=True) + "\n")
    assert current == json.loads(SNAPSHOT.read_text()), "graph changed: review, then rerun with UPDATE_SNAPSHOTS=1"


def test_every_asset_has_owners_kinds_group_and_description():
    from mesh_assets.definitions import build_definitions

    graph = build_definitions().resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.owners and node.kinds and node.group_name != "default" and node.description, key


def test_dagster_definitions_validate_passes(tmp_path):
    env = {**os.environ, "DAGSTER_HOME": str(ROOT), "MESH_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dagster"), "definitions", "validate", "-w", str(ROOT / "workspace.yaml")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Validation successful" in result.stdout + result.stderr


def test_definitions_import_opens_no_data_and_loads_no_heavy_library():
    code = ("import builtins; opened = []; real = builtins.open\n"
            "builtins.open = lambda f, *a, **k: (opened.append(str(f)), real(f, *a, **k))[1]\n"
            "import sys; import mesh_assets.definitions\n"
            "print([f for f in opened if '.data' in f or 'firm' in f])\n"
            "print(sorted(m for m in ('great_expectations', 'pyiceberg', 'pyarrow', 'boto3', 'duckdb', 'kafka',"
            " 'exchange_calendars', 'dagster_dbt', 'dbt') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    opened, heavy = out.stdout.strip().splitlines()[-2:]
    # Import time itself is measured by benchmarks/generate_and_bronze.py (goal < 3 s), not asserted here.
    assert opened == "[]", f"definitions opened data files at import: {opened}"
    assert heavy == "[]", f"definitions imported heavy libraries at load: {heavy}"


def test_local_instance_config_loads_with_queue_pools_and_retries(tmp_path, monkeypatch):
    from dagster import DagsterInstance

    monkeypatch.chdir(tmp_path)  # the instance's relative storage paths land under this folder
    with DagsterInstance.from_config(str(ROOT)) as instance:
        assert type(instance.run_storage).__name__ == "SqliteRunStorage"
        concurrency = instance.get_concurrency_config()
        assert concurrency.run_queue_config.max_concurrent_runs == 4
        assert concurrency.run_queue_config.tag_concurrency_limits[0]["key"] == "mesh/topic-partition"
        assert concurrency.pool_config.default_pool_limit == 1
        # the next CDC run's worker starts while the previous range holds the one `aladdin_cdc` slot
        assert concurrency.run_queue_config.op_concurrency_slot_buffer == 1
        assert instance.run_retries_enabled and instance.run_retries_max_retries == 2
        assert str(Path(instance.root_directory).resolve()).startswith(str(tmp_path.resolve()))
        assert instance.run_retries_retry_on_asset_or_op_failure is False  # only crashed runs, as deployed
        assert instance.run_monitoring_enabled
        assert instance.run_monitoring_settings["free_slots_after_run_end_seconds"] > 0  # a killed run's slot


def test_local_and_production_instances_retry_alike():
    import yaml

    local = yaml.safe_load((ROOT / "dagster.yaml").read_text())
    deployed = yaml.safe_load((ROOT / "deploy" / "dagster.yaml").read_text())
    assert local["run_retries"] == deployed["run_retries"]
    assert local["run_monitoring"]["free_slots_after_run_end_seconds"] <= deployed["run_monitoring"][
        "free_slots_after_run_end_seconds"]


def test_aws_environment_fails_fast_naming_missing_variables(monkeypatch):
    from resources.environment import resources_for
    from resources.settings import MissingSettingError

    for name in ("AWS_REGION", "MESH_ICEBERG_WAREHOUSE", "MESH_LANDING_ROOT", "MESH_ATHENA_WORKGROUP"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MESH_KAFKA_BOOTSTRAP", "b-1.msk:9092")
    with pytest.raises(MissingSettingError) as error:
        resources_for("aws")
    message = str(error.value)
    assert "MESH_ICEBERG_WAREHOUSE (s3:// warehouse root" in message and "AWS_REGION" in message
    assert "MESH_KAFKA_BOOTSTRAP" not in message


def test_aws_environment_picks_glue_athena_and_kafka_backends(monkeypatch):
    from resources.environment import AWS_SETTINGS, resources_for

    for name in AWS_SETTINGS:
        monkeypatch.setenv(name, "s3://bucket/x" if "ROOT" in name or "WAREHOUSE" in name else "value")
    chosen = resources_for("aws")
    assert chosen["iceberg"].catalog_type == "glue"
    assert chosen["warehouse"].engine == "athena"
    assert chosen["cdc_source"].backend == "kafka"
    assert chosen["salesforce"].backend == "api"
    assert chosen["dbt"].target == "athena"


def test_cluster_environment_fails_fast_naming_missing_variables(monkeypatch):
    from resources.environment import resources_for
    from resources.settings import MissingSettingError

    for name in ("MESH_TRINO_HOST", "MESH_ICEBERG_CATALOG_URI", "MESH_ICEBERG_WAREHOUSE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MESH_TRINO_HOST", "trino.internal")
    with pytest.raises(MissingSettingError) as error:
        resources_for("cluster")
    message = str(error.value)
    assert message.startswith("MESH_ENV=cluster needs these environment variables: ")
    assert "MESH_ICEBERG_CATALOG_URI (SQLAlchemy URI" in message and "MESH_ICEBERG_WAREHOUSE" in message
    assert "MESH_TRINO_HOST" not in message and "AWS_REGION" not in message


def test_cluster_environment_picks_trino_and_the_shared_sql_catalog(monkeypatch, tmp_path):
    from resources.environment import CLUSTER_SETTINGS, resources_for

    assert set(CLUSTER_SETTINGS) == {"MESH_TRINO_HOST", "MESH_ICEBERG_CATALOG_URI", "MESH_ICEBERG_WAREHOUSE"}
    uri = "postgresql+psycopg2://iceberg:s3cret@db.internal:5432/iceberg"
    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path))
    for name, value in {"MESH_TRINO_HOST": "trino.internal", "MESH_TRINO_PORT": "8443", "MESH_TRINO_CATALOG": "lake",
                        "MESH_ICEBERG_CATALOG_URI": uri, "MESH_ICEBERG_WAREHOUSE": "s3://lake/warehouse"}.items():
        monkeypatch.setenv(name, value)
    chosen = resources_for("cluster")
    iceberg, warehouse, dbt = chosen["iceberg"], chosen["warehouse"], chosen["dbt"]
    assert (iceberg.catalog_type, iceberg.name) == ("sql", "lake")  # pyiceberg's catalog name is Trino's catalog
    assert (warehouse.engine, warehouse.trino_port, warehouse.trino_catalog) == ("trino", 8443, "lake")
    assert dbt.target == "trino"
    dbt_env = dbt.process_config_and_initialize().dbt_environment()  # what profiles.yml's trino output reads
    assert {k: v for k, v in dbt_env.items() if k.startswith("MESH_TRINO")} == {
        "MESH_TRINO_HOST": "trino.internal", "MESH_TRINO_PORT": "8443", "MESH_TRINO_CATALOG": "lake",
        "MESH_TRINO_USER": "mesh"}
    assert iceberg.process_config_and_initialize().uri == uri
    assert chosen["landing"].root == str(tmp_path / "firm") and chosen["adx"].backend == "local"
    assert "s3cret" not in repr(chosen["iceberg"]) and "s3cret" not in repr(chosen)  # an EnvVar, not the value


def test_the_code_location_loads_with_the_cluster_resources(monkeypatch, tmp_path):
    from dagster import Definitions

    from mesh_assets.definitions import build_definitions
    from resources.environment import resources_for

    monkeypatch.setenv("MESH_DATA_DIR", str(tmp_path))
    for name, value in {"MESH_TRINO_HOST": "trino.internal", "MESH_ICEBERG_WAREHOUSE": "s3://lake/warehouse",
                        "MESH_ICEBERG_CATALOG_URI": "postgresql+psycopg2://iceberg:pw@db:5432/iceberg"}.items():
        monkeypatch.setenv(name, value)
    definitions = build_definitions(resources_for("cluster"))
    Definitions.validate_loadable(definitions)
    assert definitions.resources["warehouse"].engine == "trino"


def test_unknown_environment_is_refused(monkeypatch):
    from resources.settings import MissingSettingError, mesh_env

    monkeypatch.setenv("MESH_ENV", "staging")
    with pytest.raises(MissingSettingError, match="MESH_ENV is 'staging'"):
        mesh_env()


def test_dbt_models_are_assets_named_after_their_tables_with_daily_partitions_and_nav_freshness():
    from dagster import AssetKey

    from mesh_assets.definitions import build_definitions
    from mesh_assets.shared.partitions import trading_day_partitions

    defs = build_definitions()
    graph = defs.resolve_asset_graph()
    positions = graph.get(AssetKey(["gold", "holdings", "positions"]))
    assert positions.partitions_def == trading_day_partitions
    assert AssetKey(["silver", "aladdin", "trades"]) in positions.parent_keys
    assert positions.metadata["dagster/relation_identifier"] == "gold.positions"
    trades = graph.get(AssetKey(["silver", "aladdin", "trades"]))
    assert trades.partitions_def is None
    assert {AssetKey(["bronze", "aladdin", "trades"]), AssetKey(["silver", "reference", "securities"])} <= set(
        trades.parent_keys)
    nav = graph.get(AssetKey(["gold", "performance", "nav_history"]))
    assert nav.freshness_policy is not None
    blocking = {c.name for c in graph.asset_check_keys if c.asset_key == nav.key}
    assert "every_fund_has_nav" in blocking
    assert defs.resolve_schedule_def("eod_batch_schedule").cron_schedule == "0 18 * * 1-5"


def test_every_job_runs_its_steps_in_process_and_checks_inside_their_asset_steps():
    """docs/architecture.md ("Executors"): no job pays a process per step; the silver/gold checks add no step."""
    from dagster._core.execution.api import create_execution_plan

    from mesh_assets.definitions import build_definitions

    defs = build_definitions()
    jobs = [*defs.resolve_all_job_defs()]
    assert {j.name for j in jobs} >= {"eod_batch", "bronze_sources", "bronze_daily_deliveries", "gips_report",
                                      "adx_publish", "entitlement_reconcile", "aladdin_cdc_microbatch",
                                      "distribution_publish", "__ASSET_JOB"}
    assert {j.name: j.executor_def.name for j in jobs} == {j.name: "in_process" for j in jobs}
    plan = create_execution_plan(defs.resolve_job_def("eod_batch"), tags={"dagster/partition": "2026-09-01"})
    steps = {s.key for s in plan.get_all_steps_in_topo_order()}
    assert {"silver_gold_tables", "gold_daily"} <= steps
    assert not {s for s in steps if s.startswith(("gold__", "silver__"))}, "a silver/gold check became a step again"
