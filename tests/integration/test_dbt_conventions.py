"""dbt conventions that only a real dbt run shows: `dbt source freshness` on the local duckdb target over real
bronze Iceberg tables (read by dbt-duckdb's iceberg plugin), and the data products' enforced contracts."""

import datetime as dt
import json
import os
import shutil
import subprocess
from pathlib import Path

import pyarrow as pa

from mesh_assets.lib.lakehouse.tables import PRICES, TRADES, ensure_table
from mesh_assets.warehouse.project import DBT_PROJECT_DIR
from resources.dbt import dbt_executable


def _append(catalog, spec, ingested_at: dt.datetime) -> None:
    """One row of ``spec`` whose batch was committed at ``ingested_at`` (other columns null)."""
    table = ensure_table(catalog, spec)
    schema = spec.schema
    columns = {f.name: pa.array([ingested_at if f.name == "ingested_at" else None], f.type) for f in schema}
    table.append(pa.Table.from_pydict(columns, schema=schema))


def test_bronze_freshness_passes_a_fresh_feed_and_fails_a_stale_one(tmp_path: Path):
    from pyiceberg.catalog import load_catalog

    uri, warehouse = f"sqlite:///{tmp_path / 'catalog.db'}", f"file://{tmp_path / 'warehouse'}"
    (tmp_path / "warehouse").mkdir()
    catalog = load_catalog("mesh", type="sql", uri=uri, warehouse=warehouse)
    now = dt.datetime.now(dt.UTC)
    _append(catalog, PRICES, now - dt.timedelta(hours=2))
    _append(catalog, TRADES, now - dt.timedelta(days=8))

    env = {**os.environ, "MESH_DBT_TARGET": "duckdb", "MESH_DUCKDB_PATH": str(tmp_path / "warehouse.duckdb"),
           "MESH_ICEBERG_CATALOG_URI": uri, "MESH_ICEBERG_WAREHOUSE_URI": warehouse, "DO_NOT_TRACK": "1"}
    target = tmp_path / "target"
    result = subprocess.run(
        [dbt_executable(), "source", "freshness", "--project-dir", str(DBT_PROJECT_DIR),
         "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(target), "--output", str(target / "sources.json"),
         "--select", "source:bronze.bloomberg_prices", "source:bronze.aladdin_trades"],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 1, result.stdout[-3000:]  # an error-level stale source fails the command
    report = json.loads((target / "sources.json").read_text())
    results = {r["unique_id"].rsplit(".", 1)[-1]: r for r in report["results"]}
    assert set(results) == {"bloomberg_prices", "aladdin_trades"}, results
    assert results["bloomberg_prices"]["status"] == "pass"
    assert results["aladdin_trades"]["status"] == "error"
    assert results["aladdin_trades"]["criteria"]["error_after"] == {"count": 7, "period": "day"}
    assert 8 * 86400 - 600 < results["aladdin_trades"]["max_loaded_at_time_ago_in_s"] < 8 * 86400 + 600


def test_a_product_model_whose_sql_breaks_its_contract_does_not_build(eod_world, tmp_path: Path):
    """The world built every product model under its enforced contract; declaring one column with another type
    (as a model change would) makes dbt refuse the build, naming the column and both types."""
    project = tmp_path / "dbt_project"
    shutil.copytree(DBT_PROJECT_DIR, project, ignore=shutil.ignore_patterns("target", "logs"))
    schema = project / "models" / "gold" / "products" / "schema.yml"
    declared = "      - name: nav\n        data_type: double"
    assert declared in schema.read_text()
    schema.write_text(schema.read_text().replace(declared, "      - name: nav\n        data_type: varchar", 1))
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(eod_world["warehouse"], warehouse)
    (tmp_path / "lakehouse").mkdir()
    day = eod_world["days"][-1]
    env = {**os.environ, "MESH_DBT_TARGET": "duckdb", "MESH_DUCKDB_PATH": str(warehouse), "DO_NOT_TRACK": "1",
           "MESH_ICEBERG_CATALOG_URI": f"sqlite:///{tmp_path / 'catalog.db'}",
           "MESH_ICEBERG_WAREHOUSE_URI": f"file://{tmp_path / 'lakehouse'}"}
    result = subprocess.run(
        [dbt_executable(), "run", "--project-dir", str(project), "--profiles-dir", str(project),
         "--select", "gold_product_nav_history", "--vars", json.dumps({"start_date": day, "end_date": day})],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 1, result.stdout[-3000:]
    assert "enforced contract that failed" in result.stdout, result.stdout[-3000:]
    mismatch = [line for line in result.stdout.splitlines() if "| nav " in line]
    assert mismatch and "DOUBLE" in mismatch[0] and "VARCHAR" in mismatch[0], result.stdout[-3000:]
