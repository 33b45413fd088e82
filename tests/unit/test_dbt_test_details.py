"""A dbt test's check result says what the test asserts and, when it fails, shows some failing rows."""

import json

import duckdb

from mesh_assets.warehouse.dbt_test_details import assertion, describe_test
from mesh_assets.warehouse.project import MANIFEST_PATH
from resources.warehouse import WarehouseResource


def _tests() -> dict[str, dict]:
    manifest = json.loads(MANIFEST_PATH.read_text())
    return {n["unique_id"]: n for n in manifest["nodes"].values() if n["resource_type"] == "test"}


def test_every_dbt_test_of_the_project_says_what_it_asserts():
    tests = _tests()
    said = {uid: assertion(node) for uid, node in tests.items()}
    assert all(said.values())
    nav = said["test.investment_mesh.assert_nav_is_sum_of_valuations"]
    assert nav.startswith("NAV of a portfolio-day equals the market value of its valued positions")
    prefix = "test.investment_mesh.not_null_gold_positions_quantity"
    not_null = next(s for uid, s in said.items() if uid.startswith(prefix))
    assert not_null.startswith("dbt test not_null on gold_positions.quantity")


def test_a_failed_test_carries_a_sample_of_its_failing_rows(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(path)) as connection:
        connection.execute("create table nav as select * from (values (1, 10.0), (2, null), (3, null)) t(id, nav)")
    warehouse = WarehouseResource(engine="duckdb", duckdb_path=str(path))
    manifest = {"nodes": {"test.x.not_null_nav": {
        "name": "not_null_nav", "description": "", "attached_node": "model.x.nav", "column_name": "nav",
        "test_metadata": {"name": "not_null", "kwargs": {"column_name": "nav", "model": "{{ ref('nav') }}"}}}}}
    failed = {"test.x.not_null_nav": {"status": "fail", "failures": 2,
                                      "compiled_code": "select * from nav where nav is null;"}}
    description, metadata = describe_test(manifest, failed, warehouse, "test.x.not_null_nav")
    assert description == metadata["asserts"] == "dbt test not_null on nav.nav"
    assert metadata["failing_rows_sample"] == [{"id": 2, "nav": None}, {"id": 3, "nav": None}]
    passed = {"test.x.not_null_nav": {**failed["test.x.not_null_nav"], "status": "pass", "failures": 0}}
    assert "failing_rows_sample" not in describe_test(manifest, passed, warehouse, "test.x.not_null_nav")[1]
