"""ADX revision assets over the small firm after its end-of-day batch, on the local exchange.

Every product publishes one finalized revision per tenant holding only that tenant's rows; the same
day again publishes nothing new; seeded PII blocks the revision, with the check showing masked samples.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from dagster import materialize

from mesh_assets.adx.assets import REVISION_ASSETS
from mesh_assets.lib.data_products.products import PRODUCTS
from resources.adx import AdxResource
from resources.warehouse import WarehouseResource

pytestmark = pytest.mark.integration

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
ASSETS = dict(zip(PRODUCTS, REVISION_ASSETS, strict=True))


def publish(world, product: str, adx_root: Path, warehouse: WarehouseResource | None = None, day: str | None = None):
    resources = {"warehouse": warehouse or world["defs"].resources["warehouse"],
                 "adx": AdxResource(backend="local", root=str(adx_root))}
    return materialize([ASSETS[product]], resources=resources, partition_key=day or world["days"][-1],
                       instance=world["instance"], run_config=QUIET, raise_on_error=False)


def checks(result) -> dict:
    return {e.event_specific_data.check_name: e.event_specific_data for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"}


def metadata(result) -> dict:
    [event] = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def product_rows(world, product: str, day: str):
    spec = PRODUCTS[product]
    return world["defs"].resources["warehouse"].query(
        f"select * from {spec.source_table} where {spec.date_column} = date '{day}'")


@pytest.mark.parametrize("product", sorted(PRODUCTS))
def test_each_tenant_gets_its_own_revision_with_only_its_rows(eod_world, product, tmp_path):
    day = eod_world["days"][-1]
    result = publish(eod_world, product, tmp_path)
    assert result.success
    assert all(c.passed for c in checks(result).values()), checks(result)
    assert set(checks(result)) == {"pii_scan", "schema_contract", "key_columns_not_null", "nav_on_time"}
    rows = product_rows(eod_world, product, day)
    tenants = sorted(set(rows["tenant_id"].to_pylist()))
    published = metadata(result)["revisions"]
    assert [p["tenant"] for p in published] == tenants and all(p["created"] for p in published)
    assert sum(p["rows"] for p in published) == rows.num_rows
    for p in published:
        folder = tmp_path / "data_sets" / p["data_set"] / "revisions" / p["revision_id"]
        assert p["data_set"] == f"{PRODUCTS[product].adx_data_set}-{p['tenant']}"
        assert sorted(f.name for f in folder.iterdir()) == sorted(
            [f"{product}.parquet", f"{product}.csv", "manifest.json", "revision.json"])
        table = pq.read_table(folder / f"{product}.parquet")
        assert set(table["tenant_id"].to_pylist()) == {p["tenant"]}  # never another tenant's row
        assert table.num_rows == p["rows"]


def test_publishing_the_same_day_again_creates_no_revision(eod_world, tmp_path):
    first = metadata(publish(eod_world, "nav_history", tmp_path))
    before = sorted(p.name for p in tmp_path.glob("data_sets/*/revisions/*"))
    again = publish(eod_world, "nav_history", tmp_path)
    assert again.success
    second = metadata(again)
    assert second["revisions_created"] == 0 and second["revisions_unchanged"] == first["tenants"]
    assert [p["revision_id"] for p in second["revisions"]] == [p["revision_id"] for p in first["revisions"]]
    assert sorted(p.name for p in tmp_path.glob("data_sets/*/revisions/*")) == before


def test_an_email_in_a_product_blocks_the_revision_and_is_shown_masked(eod_world, tmp_path):
    import duckdb

    day = eod_world["days"][-1]
    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(eod_world["warehouse"], copy)
    with duckdb.connect(str(copy)) as connection:
        portfolio = connection.execute(f"select min(portfolio_id) from gold.product_nav_history "
                                   f"where as_of_date = date '{day}'").fetchone()[0]
        connection.execute(f"update gold.product_nav_history set return_status = 'jane.doe@example.com' "
                           f"where portfolio_id = '{portfolio}' and as_of_date = date '{day}'")
    result = publish(eod_world, "nav_history", tmp_path / "adx", WarehouseResource(engine="duckdb",
                                                                                   duckdb_path=str(copy)))
    assert not result.success
    pii = checks(result)["pii_scan"]
    assert not pii.passed and checks(result)["schema_contract"].passed
    shown = str({k: v.value for k, v in pii.metadata.items()}) + (pii.description or "")
    assert "return_status" in shown and "j***@example.com" in shown
    assert "jane.doe" not in shown  # the raw value never reaches the event log
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "pii_scan" in failure.event_specific_data.error.message
    assert not list((tmp_path / "adx").glob("data_sets/*/revisions/*"))  # nothing published
