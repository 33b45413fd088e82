"""A run launched with a wider PII allow-list than the code location permits fails in one sentence and publishes
nothing; what the settings permit still lets a known value through (small firm after its end-of-day batch)."""

from __future__ import annotations

import json
import shutil

import pytest
from dagster import materialize

from mesh_assets.adx.assets import REVISION_ASSETS
from mesh_assets.lib.data_products.products import PRODUCTS
from resources.adx import AdxResource
from resources.warehouse import WarehouseResource

pytestmark = pytest.mark.integration

ASSET = dict(zip(PRODUCTS, REVISION_ASSETS, strict=True))["nav_history"]
QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@pytest.fixture
def email_in_product(eod_world, tmp_path):
    """A copy of the world's warehouse with one e-mail address in the day's nav_history product."""
    import duckdb

    day = eod_world["days"][-1]
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(eod_world["warehouse"], copy)
    with duckdb.connect(str(copy)) as connection:
        connection.execute(f"update gold.product_nav_history set return_status = 'ops@mesh-capital.example' "
                           f"where as_of_date = date '{day}' and portfolio_id = (select min(portfolio_id) from "
                           f"gold.product_nav_history where as_of_date = date '{day}')")
    return WarehouseResource(engine="duckdb", duckdb_path=str(copy)), day


def publish(eod_world, warehouse, day, adx_root, allow_patterns=None):
    config = dict(QUIET)
    if allow_patterns is not None:
        config["ops"] = {ASSET.op.name: {"config": {"pii_allow_patterns": allow_patterns}}}
    return materialize([ASSET], resources={"warehouse": warehouse, "adx": AdxResource(backend="local",
                       root=str(adx_root))}, partition_key=day, instance=eod_world["instance"], run_config=config,
                       raise_on_error=False)  # fmt: skip


def test_run_config_cannot_widen_the_allow_list(eod_world, email_in_product, tmp_path, monkeypatch):
    monkeypatch.delenv("MESH_PII_ALLOW_LIST", raising=False)
    warehouse, day = email_in_product
    result = publish(eod_world, warehouse, day, tmp_path / "adx", allow_patterns=[".*"])
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    message = failure.event_specific_data.error.message
    assert "pattern '.*'" in message and "run config may only narrow" in message
    assert not list((tmp_path / "adx").glob("data_sets/*/revisions/*"))  # nothing published


def test_the_settings_allow_list_lets_a_permitted_value_through(eod_world, email_in_product, tmp_path, monkeypatch):
    monkeypatch.setenv("MESH_PII_ALLOW_LIST", json.dumps({"patterns": [r".*@mesh-capital\.example"]}))
    warehouse, day = email_in_product
    assert publish(eod_world, warehouse, day, tmp_path / "adx").success
    assert list((tmp_path / "adx").glob("data_sets/*/revisions/*"))
