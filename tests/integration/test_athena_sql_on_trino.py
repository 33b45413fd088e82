"""The `athena` target's SQL runs somewhere: every model compiled for Athena is built on Trino (Athena's engine).

``dbt compile --target athena`` (Glue answered by moto, so every model compiles as its first full build), then in
dependency order each model's compiled SELECT becomes ``CREATE TABLE ... AS`` on the session's Trino, against the
small firm's bronze copied into the shared Iceberg catalog. Athena's ``awsdatacatalog.<schema>`` names are renamed
to scratch schemas of the ``mesh`` catalog; nothing else in the SQL changes, so a syntax, type or function error of
the Athena dialect fails here. Each table's row count must equal the DuckDB build of the same firm (``eod_world``).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from mesh_dev.local.trino_layout import TrinoInfo
from tests.support.athena_sql import build_order, compile_athena, to_trino
from tests.support.warehouse import query as duckdb_query

pytestmark = pytest.mark.integration

#: dbt seed column types (dbt_project/models/silver/reference/schema.yml) as Arrow types.
SEED_TYPES = {"date": pa.date32(), "integer": pa.int32(), "bigint": pa.int64(), "double": pa.float64()}


def _trino(cluster: TrinoInfo):
    import trino

    return trino.dbapi.connect(host=cluster.host, port=cluster.port, user="mesh", catalog=cluster.catalog)


def _execute(connection: Any, sql: str) -> list[list]:
    cursor = connection.cursor()
    cursor.execute(sql)
    return cursor.fetchall()


def _copy_sources(world: dict[str, Any], catalog: Any, prefix: str) -> dict[str, int]:
    """The local build's bronze and stream Iceberg tables, copied into ``<prefix>_<namespace>``; rows per table."""
    from pyiceberg.catalog.sql import SqlCatalog

    lakehouse = Path(world["root"]) / "data" / "lakehouse"
    local = SqlCatalog("mesh", uri=f"sqlite:///{lakehouse / 'catalog.db'}",
                       warehouse=f"file://{lakehouse / 'warehouse'}")
    copied = {}
    for namespace in ("bronze", "stream"):
        catalog.create_namespace(f"{prefix}_{namespace}")
        for _, name in local.list_tables(namespace):
            rows = local.load_table(f"{namespace}.{name}").scan().to_arrow()
            catalog.create_table(f"{prefix}_{namespace}.{name}", schema=rows.schema).append(rows)
            copied[f"{namespace}.{name}"] = rows.num_rows
    return copied


def _load_seed(node: dict[str, Any], catalog: Any, prefix: str) -> None:
    """A dbt seed's CSV as an Iceberg table with the seed's declared column types."""
    from pyarrow import csv

    types = {c: SEED_TYPES[t] for c, t in (node["config"].get("column_types") or {}).items()}
    path = Path(node["root_path"]) / node["original_file_path"]
    header = path.read_text().splitlines()[0].split(",")
    options = csv.ConvertOptions(column_types={c: types.get(c, pa.string()) for c in header})
    rows = csv.read_csv(path, convert_options=options)
    catalog.create_table(f"{prefix}_{node['schema']}.{node['alias']}", schema=rows.schema).append(rows)


def test_every_model_compiled_for_athena_builds_on_trino(trino_cluster: TrinoInfo, eod_world, tmp_path: Path):
    from pyiceberg.catalog.sql import SqlCatalog

    manifest = compile_athena(tmp_path / "athena-target")
    assert manifest["metadata"]["adapter_type"] == "athena"
    catalog = SqlCatalog(trino_cluster.catalog, uri=trino_cluster.catalog_db.sqlalchemy_uri(),
                         warehouse=trino_cluster.warehouse_uri())
    prefix = f"athena_{uuid.uuid4().hex[:8]}"
    copied = _copy_sources(eod_world, catalog, prefix)
    assert copied["bronze.aladdin_trades"] > 0
    for layer in ("silver", "gold"):
        catalog.create_namespace(f"{prefix}_{layer}")

    built: dict[str, str] = {}  # model name -> "<layer>.<table>"
    failures: dict[str, str] = {}
    with _trino(trino_cluster) as connection:
        for uid in build_order(manifest):
            node = manifest["nodes"][uid]
            if node["resource_type"] == "seed":
                _load_seed(node, catalog, prefix)
                continue
            upstream = [p.split(".")[-1] for p in node["depends_on"]["nodes"] if p.split(".")[-1] in failures]
            if upstream:
                failures[node["name"]] = f"not built: upstream {upstream} failed"
                continue
            relation = f'"{trino_cluster.catalog}"."{prefix}_{node["schema"]}"."{node["alias"]}"'
            try:
                _execute(connection, f"CREATE TABLE {relation} AS\n"
                                     f"{to_trino(node['compiled_code'], trino_cluster.catalog, prefix)}")
            except Exception as error:  # every model's error is collected, then reported together
                failures[node["name"]] = f"{type(error).__name__}: {str(error)[:600]}"
                continue
            built[node["name"]] = f"{node['schema']}.{node['alias']}"
        assert not failures, "Athena SQL that Trino rejects:\n" + "\n".join(f"{k}: {v}" for k, v in failures.items())

        models = [n for n in manifest["nodes"].values()
                  if n["resource_type"] == "model" and n["package_name"] == "investment_mesh"]
        assert set(built) == {n["name"] for n in models}
        counts = {name: _execute(connection, f'SELECT count(*) FROM "{prefix}_{table.split(".")[0]}".'
                                             f'"{table.split(".")[1]}"')[0][0]
                  for name, table in built.items()}
    local = {name: duckdb_query(eod_world["warehouse"], f'SELECT count(*) FROM {table}')[0][0]
             for name, table in built.items()}
    assert counts == local
    assert counts["gold_positions"] > 0 and counts["gold_nav_history"] > 0 and counts["silver_trades"] > 0
