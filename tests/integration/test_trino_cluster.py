"""The `cluster` environment's engines, for real: Trino 483 and pyiceberg share one Iceberg JDBC catalog on PostgreSQL.

Uses the session's ``trino_cluster`` fixture (tests/trino_fixtures.py): each engine reads what the other wrote, in
the same ``mesh`` catalog, and ``mesh trino status`` reports the running server the way a user sees it.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid

import pyarrow as pa
import pytest

from mesh_dev.local.trino_layout import TrinoInfo

pytestmark = pytest.mark.integration


def _sql_catalog(cluster: TrinoInfo):
    from pyiceberg.catalog.sql import SqlCatalog

    return SqlCatalog(cluster.catalog, uri=cluster.catalog_db.sqlalchemy_uri(), warehouse=cluster.warehouse_uri())


def _query(cluster: TrinoInfo, sql: str) -> list[list]:
    import trino

    with trino.dbapi.connect(host=cluster.host, port=cluster.port, user="mesh", catalog=cluster.catalog) as conn:
        cursor = conn.cursor()
        cursor.execute(sql)
        return cursor.fetchall()


def _schema(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def test_trino_answers_with_its_version_and_the_iceberg_catalog(trino_cluster: TrinoInfo):
    assert _query(trino_cluster, "SELECT node_version FROM system.runtime.nodes") == [[trino_cluster.version]]
    catalogs = {row[0] for row in _query(trino_cluster, "SHOW CATALOGS")}
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

    got = _query(trino_cluster, f"SELECT trade_id, portfolio_id, quantity, trade_date FROM {schema}.trades "
                                "ORDER BY trade_id")
    assert got == [[1, "P-0001", 100.0, dt.date(2025, 1, 2)], [2, "P-0002", -25.5, dt.date(2025, 1, 3)],
                   [3, "P-0001", 7.25, dt.date(2025, 2, 3)], [4, "P-0001", 100.0, dt.date(2025, 1, 2)]]
    snapshots = _query(trino_cluster, f'SELECT count(*) FROM {schema}."trades$snapshots"')
    assert snapshots == [[len(list(catalog.load_table(f"{schema}.trades").snapshots()))]] == [[2]]


def test_pyiceberg_reads_a_partitioned_table_trino_merged(trino_cluster: TrinoInfo):
    schema = _schema("silver")
    _query(trino_cluster, f"CREATE SCHEMA {schema}")
    _query(trino_cluster, f"CREATE TABLE {schema}.positions (day date, portfolio_id varchar, market_value double) "
                          "WITH (partitioning = ARRAY['month(day)'])")
    _query(trino_cluster, f"INSERT INTO {schema}.positions VALUES (DATE '2025-01-31', 'P-0001', 10.0), "
                          "(DATE '2025-02-03', 'P-0001', 20.0), (DATE '2025-02-03', 'P-0002', 30.0)")
    merged = _query(trino_cluster, f"""
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
