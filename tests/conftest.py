"""Shared fixtures: a small synthetic firm, an isolated embedded environment, a Dagster instance.

Services are real and started once per test run: the Iceberg catalog is pyiceberg's SqlCatalog on
SQLite in a temporary folder, Dagster runs materialize for real against a temporary instance.
"""

import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")

SMALL_SEED = 7


def pytest_sessionstart(session: pytest.Session) -> None:
    """The code location reads dbt's manifest: prepare it when pytest runs without `make test`."""
    import subprocess

    from mesh_assets.warehouse.project import DBT_PROJECT_DIR, MANIFEST_PATH
    from resources.dbt import dbt_executable

    if not MANIFEST_PATH.is_file():
        project = str(DBT_PROJECT_DIR)
        subprocess.run([dbt_executable(), "parse", "--project-dir", project, "--profiles-dir", project, "--quiet"],
                       check=True, timeout=600)


@pytest.fixture(scope="session")
def small_firm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small synthetic firm (seed 7), generated once per test run; treat it as read-only."""
    from mesh_dev.firm import generate_firm

    out = tmp_path_factory.mktemp("firm") / "small"
    generate_firm(out, scale="small", seed=SMALL_SEED)
    return out


@pytest.fixture
def firm_copy(small_firm: Path, tmp_path: Path) -> Path:
    """A private copy of the small firm that a test may corrupt."""
    target = tmp_path / "firm"
    shutil.copytree(small_firm, target)
    return target


@pytest.fixture
def embedded_env(tmp_path: Path, small_firm: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """MESH_ENV=local with a fresh data folder (catalog, warehouse) reading the small firm."""
    data = tmp_path / "data"
    monkeypatch.setenv("MESH_ENV", "local")
    monkeypatch.setenv("MESH_DATA_DIR", str(data))
    monkeypatch.setenv("MESH_FIRM_DIR", str(small_firm))
    return {"data": data, "firm": small_firm}


@pytest.fixture
def instance(tmp_path: Path):
    """A throwaway Dagster instance with SQLite storage in a temporary DAGSTER_HOME."""
    from dagster import instance_for_test

    home = tmp_path / "dagster_home"
    home.mkdir()
    with instance_for_test(temp_dir=str(home)) as dagster_instance:
        yield dagster_instance


@pytest.fixture(scope="session")
def eod_world(small_firm: Path, tmp_path_factory: pytest.TempPathFactory):
    """The small firm after bronze sources and one eod_batch run over its history (shared, read-mostly)."""
    from tests.support.eod_world import eod_world as build

    with build(small_firm, tmp_path_factory.mktemp("eod_world")) as world:
        yield world


from tests.kafka_fixtures import kafka_broker, sasl_kafka_broker  # noqa: E402, F401
from tests.trino_fixtures import trino_cluster  # noqa: E402, F401


@pytest.fixture(scope="session")
def cluster_world(trino_cluster, small_firm: Path, eod_world, tmp_path_factory: pytest.TempPathFactory):  # noqa: F811
    """The small firm's end of day on the session's Trino cluster (tests/support/cluster_world.py), over the same days
    as the local world; shared by the engines' comparison and the two-writers test."""
    from tests.support.cluster_world import build_cluster_world

    return build_cluster_world(trino_cluster, small_firm, tmp_path_factory.mktemp("cluster_world"), eod_world["days"])

