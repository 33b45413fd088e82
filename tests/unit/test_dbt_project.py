"""The dbt project: one SQL code path for DuckDB, Athena and Trino, and a seed that equals the NYSE calendar."""

import csv
import datetime as dt
import json
import os
import re
import subprocess

import pytest

from mesh_assets.lib.trading_calendar import TRADING_DAYS_SEED, trading_days
from mesh_assets.warehouse.project import DBT_PROJECT_DIR
from resources.dbt import dbt_executable

PROJECT = DBT_PROJECT_DIR
DBT = dbt_executable()


def test_no_dialect_specific_casts_or_functions_in_models():
    offenders = []
    for path in (PROJECT / "models").rglob("*.sql"):
        sql = re.sub(r"\{#.*?#\}", "", path.read_text(), flags=re.S)
        if "::" in sql or re.search(r"\b(qualify|arg_max|list_agg|strftime)\b", sql, flags=re.I):
            offenders.append(path.name)
    assert not offenders, offenders


def test_trading_day_seed_equals_the_calendar():
    with TRADING_DAYS_SEED.open() as handle:
        rows = list(csv.DictReader(handle))
    days = [dt.date.fromisoformat(r["trading_day"]) for r in rows]
    assert days == trading_days(days[0], days[-1])
    assert [int(r["session_number"]) for r in rows] == list(range(1, len(rows) + 1))
    assert dt.date(2026, 11, 26) not in days and dt.date(2026, 11, 27) in days


@pytest.mark.parametrize("target", ["athena", "duckdb", "trino"])
def test_dbt_parse_offline(target, tmp_path):
    """`dbt parse` needs no connection: the same project parses for every target."""
    env = {**os.environ, "MESH_DBT_TARGET": target, "DO_NOT_TRACK": "1"}
    result = subprocess.run(
        [DBT, "parse", "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT), "--target", target,
         "--target-path", str(tmp_path / "target")],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    assert manifest["metadata"]["adapter_type"] == target
    models = {n["name"]: n for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    positions = models["gold_positions"]["config"]
    assert positions["materialized"] == "incremental"
    if target == "athena":
        assert positions["incremental_strategy"] == "merge"
        assert positions["unique_key"] == ["as_of_date", "portfolio_id", "security_id"]
        assert positions["table_type"] == "iceberg"
        assert positions["partitioned_by"] == ["month(as_of_date)"]
    elif target == "trino":  # merged on the grain too; Trino's Iceberg connector partitions through a property
        assert positions["incremental_strategy"] == "merge"
        assert positions["unique_key"] == ["as_of_date", "portfolio_id", "security_id"]
        assert positions["properties"] == {"partitioning": "ARRAY['month(as_of_date)']"}
    else:
        assert positions["incremental_strategy"] == "delete+insert"
        assert positions["unique_key"] == "as_of_date"
    assert {m["schema"] for m in models.values()} == {"silver", "gold"}


def _parse(target: str, tmp_path, **env_vars: str) -> dict:
    env = {**os.environ, "MESH_DBT_TARGET": target, "DO_NOT_TRACK": "1", **env_vars}
    result = subprocess.run(
        [DBT, "parse", "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT), "--target", target,
         "--target-path", str(tmp_path / "target")],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:]
    return json.loads((tmp_path / "target" / "manifest.json").read_text())


def test_a_developer_target_never_writes_production_schemas(tmp_path):
    """`athena_dev` prefixes every layer with its own schema; production's `athena` (and the local duckdb file,
    whose names the Python code reads) keep bare silver/gold (test_dbt_parse_offline)."""
    manifest = _parse("athena_dev", tmp_path, MESH_ATHENA_DEV_SCHEMA="dev_alice")
    built = [n for n in manifest["nodes"].values() if n["resource_type"] in ("model", "seed")]
    assert {n["schema"] for n in built} == {"dev_alice_silver", "dev_alice_gold"}
    by_name = {n["name"]: n for n in built}
    assert by_name["gold_positions"]["relation_name"] == '"awsdatacatalog"."dev_alice_gold"."positions"'
    # sources stay production's bronze: a developer reads the feeds, never writes them
    assert {s["schema"] for s in manifest["sources"].values()} == {"bronze", "stream"}
    # the tenant views of a developer build are prefixed too
    naming = (PROJECT / "macros" / "tenant_views.sql").read_text()
    assert "target_schema_prefix() ~ 'tenant_'" in naming


def test_macros_dispatch_on_the_adapter_instead_of_branching_on_target_type():
    macros = {p.name: re.sub(r"\{#.*?#\}", "", p.read_text(), flags=re.S) for p in (PROJECT / "macros").glob("*.sql")}
    assert not [name for name, sql in macros.items() if "target.type" in sql]
    sql = "\n".join(macros.values())
    for macro in ("daily_strategy", "daily_key", "daily_partitioned_by", "daily_properties", "commit_operation",
                  "last_non_null"):
        assert f"adapter.dispatch('{macro}', 'investment_mesh')" in sql, macro
        assert f"macro default__{macro}(" in sql, macro


def _manifest() -> dict:
    from mesh_assets.warehouse.project import load_manifest

    return load_manifest()


def test_every_model_and_every_product_column_has_a_description():
    manifest = _manifest()
    models = [n for n in manifest["nodes"].values() if n["resource_type"] in ("model", "seed")]
    assert len(models) > 20
    assert [n["name"] for n in models if not (n.get("description") or "").strip()] == []
    products = [n for n in models if (n["config"].get("meta") or {}).get("data_product")]
    assert len(products) == 4
    missing = [f"{n['name']}.{c}" for n in products for c, col in n["columns"].items()
               if not (col.get("description") or "").strip()]
    assert missing == []


#: dbt data_type (a name DuckDB and Athena/Trino both know) of each Arrow type the ADX schema check declares.
SQL_TYPE_OF_ARROW = {"date32[day]": "date", "string": "varchar", "double": "double", "bool": "boolean",
                     "int32": "integer"}


def test_product_models_enforce_the_contract_the_data_products_declare():
    """Every product model has an enforced dbt contract whose columns and types are the ones its data product
    promises (mesh_assets/lib/data_products/products.py), in the same order."""
    from mesh_assets.lib.data_products.products import PRODUCTS

    by_name = {n["name"]: n for n in _manifest()["nodes"].values() if n["resource_type"] == "model"}
    for product, spec in PRODUCTS.items():
        node = by_name[spec.source_model]
        assert node["config"]["contract"]["enforced"] is True, product
        assert node["config"]["meta"]["data_product"] == product
        assert node["config"]["on_schema_change"] == "append_new_columns", product
        declared = [(name, col.get("data_type")) for name, col in node["columns"].items()]
        promised = [(name, SQL_TYPE_OF_ARROW[arrow]) for name, arrow in spec.schema.columns]
        assert declared == promised, product
