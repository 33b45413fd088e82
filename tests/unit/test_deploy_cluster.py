"""Deployment files of the cluster environment and of the run-creating processes: Trino's Helm values against the
catalog `mesh trino start` renders, and the settings every webserver and daemon shares."""

import json
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SECRET_NAME = re.compile(r"PASSWORD|TOKEN|SECRET|WEBHOOK", re.IGNORECASE)


def test_every_process_that_creates_runs_emits_one_planned_event_per_asset_for_a_range_run():
    """The webserver and the daemon create runs (launchpad, backfills, schedules); each deployment sets the
    opt-in that records one planned event per asset for a single-run backfill (deploy/helm/values.yaml says why)."""
    name = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"
    helm = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())
    assert helm["dagsterWebserver"]["env"][name] == "true"
    assert helm["dagsterDaemon"]["env"][name] == "true"
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    for service in ("webserver", "daemon"):
        assert compose["services"][service]["environment"][name] == "true", service
    for task in ("webserver", "daemon"):
        definition = json.loads((DEPLOY / "ecs" / f"{task}.json").read_text())
        env = {e["name"]: e["value"] for c in definition["containerDefinitions"] for e in c.get("environment", [])}
        assert env.get(name) == "true", task
    assert f"{name}=true" in (DEPLOY.parent / "Makefile").read_text()


def _java_properties(text: str) -> dict[str, str]:
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return dict(line.split("=", 1) for line in lines)


def test_the_kubernetes_trino_serves_the_catalog_mesh_trino_start_renders_on_s3_with_secrets_from_the_env(tmp_path):
    """deploy/helm/trino-values.yaml (the Trino chart) has the local catalog's properties, S3 for the local file
    system, every secret as ${ENV:...} from a Secret; cluster-values.yaml points the code location at it."""
    from mesh_dev.local.trino_layout import CATALOG, CatalogDatabase, data_layout, write_config
    from resources.settings import cluster_required_settings

    trino = yaml.safe_load((DEPLOY / "helm" / "trino-values.yaml").read_text())
    assert trino["image"]["repository"] == "trinodb/trino" and re.fullmatch(r"\d+", trino["image"]["tag"])
    assert set(trino["catalogs"]) == {CATALOG}
    deployed = _java_properties(trino["catalogs"][CATALOG])

    layout = data_layout(tmp_path)
    database = CatalogDatabase(host="127.0.0.1", port=5432, database="iceberg", user="iceberg",
                               password="local-secret")
    write_config(layout, 18080, tmp_path / "plugins", CATALOG, database, query_mb=1024)
    local = _java_properties((layout.catalog_dir / f"{CATALOG}.properties").read_text())
    local_only = {"fs.local.enabled", "local.location"}
    assert set(deployed) >= set(local) - local_only and not set(deployed) & local_only
    for key in set(local) - local_only:
        if not deployed[key].startswith("${ENV:"):
            assert deployed[key] == local[key], key
    assert deployed["iceberg.jdbc-catalog.catalog-name"] == CATALOG and deployed["fs.native-s3.enabled"] == "true"
    for key, value in deployed.items():  # credentials and endpoints only from the environment
        if SECRET_NAME.search(key) or key.endswith(("connection-url", "connection-user", "access-key")):
            assert re.fullmatch(r"\$\{ENV:\w+\}", value), key
    sources = [ref.get("secretRef", ref.get("configMapRef"))["name"] for ref in trino["envFrom"]]
    assert {"mesh-iceberg-catalog", "mesh-object-store"} <= set(sources)
    assert "local-secret" not in (DEPLOY / "helm" / "trino-values.yaml").read_text()

    overlay = yaml.safe_load((DEPLOY / "helm" / "cluster-values.yaml").read_text())
    [deployment] = overlay["dagster-user-deployments"]["deployments"]
    [base] = yaml.safe_load((DEPLOY / "helm" / "values.yaml").read_text())["dagster-user-deployments"]["deployments"]
    assert deployment["name"] == base["name"] and deployment["dagsterApiGrpcArgs"] == base["dagsterApiGrpcArgs"]
    env = {e["name"]: e["value"] for e in deployment["env"]}
    assert env["MESH_ENV"] == "cluster" and env["MESH_TRINO_CATALOG"] == CATALOG
    assert int(env["MESH_TRINO_PORT"]) == trino["service"]["port"]
    assert env["MESH_TRINO_HOST"].startswith("trino.")
    # the catalog URI (it holds a password) comes from a Secret, never a value in the file
    assert "MESH_ICEBERG_CATALOG_URI" in cluster_required_settings() and "MESH_ICEBERG_CATALOG_URI" not in env
    assert {"name": "mesh-cluster-catalog"} in deployment["envSecrets"]
    assert {"name": "mesh-object-store-settings"} in deployment["envConfigMaps"]  # MESH_ICEBERG_WAREHOUSE
    assert not any(SECRET_NAME.search(name) for name in env)
