"""The dbt project: one SQL code path for DuckDB and Athena, and a seed that equals the NYSE calendar."""

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


@pytest.mark.parametrize("target", ["athena", "duckdb"])
def test_dbt_parse_offline(target, tmp_path):
    """`dbt parse` needs no connection: the same project parses for both targets."""
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
    else:
        assert positions["incremental_strategy"] == "delete+insert"
        assert positions["unique_key"] == "as_of_date"
    assert {m["schema"] for m in models.values()} == {"silver", "gold"}
