"""The `cluster` environment's engines, for real: Trino 483 and pyiceberg share one Iceberg JDBC catalog on PostgreSQL.

Uses the session's ``trino_cluster`` fixture (tests/trino_fixtures.py): each engine reads what the other wrote, in
the same ``mesh`` catalog; ``mesh trino status`` reports the running server the way a user sees it; the resources of
``MESH_ENV=cluster`` (catalog, warehouse queries, dbt's ``trino`` target, the trade worker's catalog and reference
data) work against it. The last test restarts a catalog database of its own (not the session's).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pyarrow as pa
import pytest

from mesh_dev.local import catalog_postgres
from mesh_dev.local.trino_layout import TrinoInfo
from tests.support.cluster_world import trino_rows

pytestmark = pytest.mark.integration


def _sql_catalog(cluster: TrinoInfo):
    from pyiceberg.catalog.sql import SqlCatalog

    return SqlCatalog(cluster.catalog, uri=cluster.catalog_db.sqlalchemy_uri(), warehouse=cluster.warehouse_uri())



def _schema(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def test_trino_answers_with_its_version_and_the_iceberg_catalog(trino_cluster: TrinoInfo):
    assert trino_rows(trino_cluster, "SELECT node_version FROM system.runtime.nodes") == [[trino_cluster.version]]
    catalogs = {row[0] for row in trino_rows(trino_cluster, "SHOW CATALOGS")}
    assert trino_cluster.catalog in catalogs


def test_trino_reads_the_rows_pyiceberg_appended(trino_cluster: TrinoInfo):
    catalog, schema = _sql_catalog(trino_cluster), _schema("bronze")
    catalog.create_namespace(schema)
    table = catalog.create_table(f"{schema}.trades", schema=pa.schema([
        pa.field("trade_id", pa.int64()), pa.field("portfolio_id", pa.string()),
        pa.field("quantity", pa.float64()), pa.field("trade_date", pa.date32()),
    ]))  # fmt: skip
    rows = pa.table({
        "trade_id": pa.array([1, 2, 3], pa.int64()), "portfolio_id": ["P-0001", "P-0002", "P-0001"],
        "quantity": [100.0, -25.5, 7.25], "trade_date": [dt.date(2025, 1, 2), dt.date(2025, 1, 3), dt.date(2025, 2, 3)],
    })  # fmt: skip
    table.append(rows)
    table.append(rows.slice(0, 1).set_column(0, "trade_id", pa.array([4], pa.int64())))

    got = trino_rows(trino_cluster, f"SELECT trade_id, portfolio_id, quantity, trade_date FROM {schema}.trades "
                                "ORDER BY trade_id")
    assert got == [[1, "P-0001", 100.0, dt.date(2025, 1, 2)], [2, "P-0002", -25.5, dt.date(2025, 1, 3)],
                   [3, "P-0001", 7.25, dt.date(2025, 2, 3)], [4, "P-0001", 100.0, dt.date(2025, 1, 2)]]
    snapshots = trino_rows(trino_cluster, f'SELECT count(*) FROM {schema}."trades$snapshots"')
    assert snapshots == [[len(list(catalog.load_table(f"{schema}.trades").snapshots()))]] == [[2]]


def test_pyiceberg_reads_a_partitioned_table_trino_merged(trino_cluster: TrinoInfo):
    schema = _schema("silver")
    trino_rows(trino_cluster, f"CREATE SCHEMA {schema}")
    trino_rows(trino_cluster, f"CREATE TABLE {schema}.positions (day date, portfolio_id varchar, market_value double) "
                          "WITH (partitioning = ARRAY['month(day)'])")
    trino_rows(trino_cluster, f"INSERT INTO {schema}.positions VALUES (DATE '2025-01-31', 'P-0001', 10.0), "
                          "(DATE '2025-02-03', 'P-0001', 20.0), (DATE '2025-02-03', 'P-0002', 30.0)")
    merged = trino_rows(trino_cluster, f"""
        MERGE INTO {schema}.positions AS t
        USING (VALUES (DATE '2025-02-03', 'P-0001', 21.5), (DATE '2025-03-03', 'P-0003', 40.0))
            AS s (day, portfolio_id, market_value)
        ON t.day = s.day AND t.portfolio_id = s.portfolio_id
        WHEN MATCHED THEN UPDATE SET market_value = s.market_value
        WHEN NOT MATCHED THEN INSERT VALUES (s.day, s.portfolio_id, s.market_value)""")
    assert merged == [[2]]

    table = _sql_catalog(trino_cluster).load_table(f"{schema}.positions")
    assert [(field.name, str(field.transform)) for field in table.spec().fields] == [("day_month", "month")]
    got = sorted(table.scan().to_arrow().to_pylist(), key=lambda row: (row["day"], row["portfolio_id"]))
    assert got == [
        {"day": dt.date(2025, 1, 31), "portfolio_id": "P-0001", "market_value": 10.0},
        {"day": dt.date(2025, 2, 3), "portfolio_id": "P-0001", "market_value": 21.5},
        {"day": dt.date(2025, 2, 3), "portfolio_id": "P-0002", "market_value": 30.0},
        {"day": dt.date(2025, 3, 3), "portfolio_id": "P-0003", "market_value": 40.0},
    ]
    february = table.scan(row_filter="day >= '2025-02-01' and day < '2025-03-01'").to_arrow()
    assert sorted(february.column("market_value").to_pylist()) == [21.5, 30.0]


def test_mesh_trino_status_reports_the_running_server(trino_cluster: TrinoInfo):
    env = {**os.environ, "MESH_TRINO_DATA": str(trino_cluster.data_dir), "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "mesh_dev.cli", "trino", "status"], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip()
            for line in proc.stdout.splitlines() if line.count("│") == 3}
    assert rows["running"] == rows["ready"] == "true"
    assert rows["url"] == trino_cluster.url and rows["pid"] == str(trino_cluster.pid)
    assert json.loads(rows["catalog_database"])["port"] == trino_cluster.catalog_db.port
    assert trino_cluster.catalog_db.password not in proc.stdout + proc.stderr


@pytest.fixture
def cluster_env(trino_cluster: TrinoInfo, monkeypatch: pytest.MonkeyPatch, tmp_path) -> TrinoInfo:
    """``MESH_ENV=cluster`` pointed at the session's server, as ``source <data>/cluster.env`` does."""
    for name, value in {**trino_cluster.environment(), "MESH_DATA_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(name, value)
    return trino_cluster


def test_cluster_resources_write_with_pyiceberg_and_query_with_trino_as_arrow(cluster_env: TrinoInfo):
    from resources.environment import resources_for

    chosen = resources_for()
    iceberg = chosen["iceberg"].process_config_and_initialize()
    warehouse = chosen["warehouse"].process_config_and_initialize()
    schema = _schema("gold")
    catalog = iceberg.catalog()
    catalog.create_namespace(schema)
    nav = pa.table({
        "portfolio_id": ["P-0001", "P-0002"], "nav_date": [dt.date(2025, 3, 31)] * 2,
        "nav": pa.array([1_234_567.891, None], pa.float64()),
        "computed_at": pa.array([dt.datetime(2025, 3, 31, 22, 0, 1, 123456)] * 2, pa.timestamp("us")),
    })  # fmt: skip
    catalog.create_table(f"{schema}.nav_history", schema=nav.schema).append(nav)

    got = warehouse.query(f"SELECT portfolio_id, nav_date, nav, computed_at, CAST(nav AS decimal(18, 3)) AS nav_dec, "
                          f"count(*) OVER () AS n FROM {schema}.nav_history ORDER BY portfolio_id")
    assert got.schema.types == [pa.string(), pa.date32(), pa.float64(), pa.timestamp("us"), pa.float64(), pa.int64()]
    assert got.to_pylist()[0] == {"portfolio_id": "P-0001", "nav_date": dt.date(2025, 3, 31), "nav": 1_234_567.891,
                                  "computed_at": dt.datetime(2025, 3, 31, 22, 0, 1, 123456), "nav_dec": 1_234_567.891,
                                  "n": 2}
    assert got.column("nav").to_pylist()[1] is None
    with pytest.raises(RuntimeError, match=r"Trino query \S+ failed: TABLE_NOT_FOUND"):
        warehouse.query(f"SELECT * FROM {schema}.never_built")


def test_the_dbt_trino_target_connects_with_the_cluster_settings(cluster_env: TrinoInfo):
    from resources.dbt import DBT_PROJECT_DIR, dbt_executable
    from resources.environment import resources_for

    dbt = resources_for()["dbt"].process_config_and_initialize()
    env = {**os.environ, **dbt.dbt_environment()}
    proc = subprocess.run([dbt_executable(), "debug", "--connection", "--target", "trino", "--no-use-colors",
                           "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)],
                          env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "Connection test: [OK connection ok]" in proc.stdout, proc.stdout + proc.stderr


def test_the_trade_worker_finds_the_shared_catalog_and_reads_reference_data_from_trino(cluster_env: TrinoInfo):
    from trade_worker.cli import _warehouse
    from trade_worker.reference_source import MissingRelationError
    from trade_worker.settings import CatalogSettings

    schema = _schema("silver")
    trino_rows(cluster_env, f"CREATE SCHEMA {schema}")
    trino_rows(cluster_env, f"CREATE TABLE {schema}.prices AS SELECT 'SEC-1' AS security_id, 101.5 AS px_last")
    settings = CatalogSettings.from_environment()
    assert (settings.catalog_type, settings.name) == ("sql", cluster_env.catalog)
    assert cluster_env.catalog_db.password not in repr(settings)
    assert settings.catalog().load_table(f"{schema}.prices").schema().column_names == ["security_id", "px_last"]

    reference = _warehouse(None, no_warehouse=False)
    rows = reference(f"SELECT security_id, px_last FROM {schema}.prices")
    assert rows.to_pylist() == [{"security_id": "SEC-1", "px_last": 101.5}]
    with pytest.raises(MissingRelationError, match="never_built"):
        reference(f"SELECT * FROM {schema}.never_built")


def test_the_catalog_database_keeps_its_tables_and_port_across_a_restart():
    from pyiceberg.catalog.sql import SqlCatalog

    root = Path(tempfile.mkdtemp(prefix="mesh-catalog-"))
    root.chmod(0o755)  # as root the server runs as an unprivileged user, who must reach it
    try:
        first = catalog_postgres.start(root / "postgres", "mesh")
        warehouse = (root / "warehouse").as_uri()
        SqlCatalog("mesh", uri=first.sqlalchemy_uri(), warehouse=warehouse).create_namespace("bronze")
        assert catalog_postgres.stop(root / "postgres") is True
        assert catalog_postgres.describe(root / "postgres")["running"] is False
        assert catalog_postgres.stop(root / "postgres") is False

        again = catalog_postgres.start(root / "postgres", "mesh")
        assert again == first  # same port, role and password: Trino's catalog file stays right
        assert ("bronze",) in SqlCatalog("mesh", uri=again.sqlalchemy_uri(), warehouse=warehouse).list_namespaces()
        assert first.password not in (root / "postgres" / "server.log").read_text()
    finally:
        catalog_postgres.stop(root / "postgres")
        shutil.rmtree(root, ignore_errors=True)
