"""Lake Formation data-cell filters for tenant isolation: one per tenant × product table, valid requests."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from mesh_assets.lib.data_products.tenant_filters import (
    SPEC_PATH,
    Tenant,
    TenantFilterError,
    data_cells_filter_requests,
    filters_to_change,
    grant_select_requests,
    load_filter_spec,
    main,
    row_filter_expression,
    tenant_schema_name,
    tenants_from_rows,
)
from mesh_assets.warehouse.project import DBT_PROJECT_DIR

CATALOG = "111122223333"
TENANTS = [Tenant("tnt-0001", ("444455556666",)), Tenant("tnt-0002", ("777788889999", "123456789012"))]


def lakeformation_model() -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model("lakeformation")


def python_pattern(pattern: str) -> str:
    """A service-model pattern for Python's re: the Java surrogate-pair range means U+10000..U+10FFFF."""
    return pattern.replace("\\uD800\\uDC00-\\uDBFF\\uDFFF", "\\U00010000-\\U0010FFFF")


def strict_errors(value: Any, shape: Any, path: str = "") -> list[str]:
    """What botocore's validator leaves out: unknown members, max lengths, patterns and enums."""
    errors: list[str] = []
    if shape.type_name == "structure":
        for name in value:
            if name not in shape.members:
                errors.append(f"{path}.{name}: not a member of {shape.name}")
        for name in shape.required_members:
            if name not in value:
                errors.append(f"{path}.{name}: required by {shape.name}")
        for name, member in shape.members.items():
            if name in value:
                errors += strict_errors(value[name], member, f"{path}.{name}")
    elif shape.type_name == "list":
        for index, item in enumerate(value):
            errors += strict_errors(item, shape.member, f"{path}[{index}]")
    elif shape.type_name == "string":
        meta = shape.metadata
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: longer than {meta['max']}")
        if "pattern" in meta and not re.fullmatch(python_pattern(meta["pattern"]), value):
            errors.append(f"{path}: {value!r} does not match {meta['pattern']}")
        if shape.enum and value not in shape.enum:
            errors.append(f"{path}: {value!r} not in {shape.enum}")
    return errors


def assert_valid_input(operation: str, request: dict[str, Any]) -> None:
    from botocore.validate import ParamValidator

    shape = lakeformation_model().operation_model(operation).input_shape
    report = ParamValidator().validate(request, shape)
    assert not report.has_errors(), report.generate_report()
    assert not strict_errors(request, shape), strict_errors(request, shape)


def test_one_filter_per_tenant_and_product_table_keeping_the_tenants_rows():
    spec = load_filter_spec()
    requests = data_cells_filter_requests(TENANTS, CATALOG, spec)

    assert len(requests) == len(TENANTS) * len(spec.product_tables)
    cells = [r["TableData"] for r in requests]
    assert {(c["TableName"], c["RowFilter"]["FilterExpression"]) for c in cells} == {
        (table, f"tenant_id = '{t.tenant_id}'") for t in TENANTS for table in spec.product_tables.values()
    }
    assert len({(c["TableName"], c["Name"]) for c in cells}) == len(cells)
    first = next(c for c in cells if c["TableName"] == "product_nav_history" and "0001" in c["Name"])
    assert first == {
        "TableCatalogId": CATALOG,
        "DatabaseName": "gold",
        "TableName": "product_nav_history",
        "Name": "tenant_tnt_0001__nav_history",
        "RowFilter": {"FilterExpression": "tenant_id = 'tnt-0001'"},
        "ColumnWildcard": {"ExcludedColumnNames": []},
    }


def test_create_data_cells_filter_requests_match_the_lakeformation_service_model():
    for request in data_cells_filter_requests(TENANTS, CATALOG):
        assert_valid_input("CreateDataCellsFilter", request)


def test_grant_requests_give_select_on_each_filter_to_each_account_of_the_tenant():
    requests = grant_select_requests(TENANTS, CATALOG)

    for request in requests:
        assert_valid_input("GrantPermissions", request)
    grants = {
        (r["Principal"]["DataLakePrincipalIdentifier"], r["Resource"]["DataCellsFilter"]["Name"]) for r in requests
    }
    assert ("444455556666", "tenant_tnt_0001__prices") in grants
    assert ("777788889999", "tenant_tnt_0002__prices") in grants and ("123456789012", "tenant_tnt_0002__esg") in grants
    assert not any(account == "444455556666" and "tnt_0002" in name for account, name in grants)
    assert {tuple(r["Permissions"]) for r in requests} == {("SELECT",)}


def test_a_quote_in_a_tenant_id_cannot_reach_the_row_filter_or_a_schema_name():
    with pytest.raises(TenantFilterError, match=r"tenant id \"o'brien' or '1'='1\" is not a valid tenant id"):
        row_filter_expression("o'brien' or '1'='1")
    with pytest.raises(TenantFilterError, match="\"O'Brien Capital\" is not a valid tenant id"):
        tenant_schema_name("O'Brien Capital")
    assert row_filter_expression("tnt-0001") == "tenant_id = 'tnt-0001'"
    assert tenant_schema_name("tnt-0001") == "tenant_tnt_0001"


@pytest.mark.parametrize("bad", ["tnt--0001", "TNT-0001", "tnt_0001", " tnt-0001", "tnt-0001\n", "tnt-00001", ""])
def test_tenant_ids_of_another_form_are_refused_not_normalised(bad):
    with pytest.raises(TenantFilterError, match=f"tenant id {re.escape(repr(bad))} is not a valid tenant id"):
        data_cells_filter_requests([Tenant("tnt-0001"), Tenant(bad)], CATALOG)


def test_tnt_double_dash_0001_cannot_share_tnt_0001s_filters():
    """The review's proof: the old rule put tnt-0001 and tnt--0001 in one data set; now the second is refused."""
    with pytest.raises(TenantFilterError, match="'tnt--0001' is not a valid tenant id"):
        grant_select_requests([Tenant("tnt-0001", ("444455556666",)), Tenant("tnt--0001", ("777788889999",))],
                              CATALOG)
    with pytest.raises(TenantFilterError, match=r"client row 2 \(C-2\): tenant id 'tnt--0001'"):
        tenants_from_rows([{"client_id": "C-1", "tenant_id": "tnt-0001"},
                           {"client_id": "C-2", "tenant_id": "tnt--0001"}])


def test_a_tenant_without_an_aws_account_cannot_be_granted():
    with pytest.raises(TenantFilterError, match="tenant 'tnt-0009' has no AWS account"):
        grant_select_requests([Tenant("tnt-0009")], CATALOG)


def test_offboarded_and_changed_filters_are_deleted_and_missing_ones_created():
    desired = data_cells_filter_requests(TENANTS, CATALOG)
    kept = [dict(r["TableData"], VersionId="1") for r in desired[1:]]
    changed = dict(kept[0], RowFilter={"FilterExpression": "true"})
    offboarded = dict(kept[1], Name="tenant_tnt_0077__esg")
    unmanaged = dict(kept[2], Name="analyst_sandbox")
    existing = [changed, *kept[1:], offboarded, unmanaged]

    changes = filters_to_change(existing, desired)

    assert [r["TableData"]["Name"] for r in changes.create] == [desired[0]["TableData"]["Name"], changed["Name"]]
    assert sorted(d["Name"] for d in changes.delete) == sorted([changed["Name"], "tenant_tnt_0077__esg"])
    for request in changes.delete:
        assert_valid_input("DeleteDataCellsFilter", request)
    assert filters_to_change([r["TableData"] for r in desired], desired).create == []


def test_the_specification_covers_every_data_product_and_names_its_dbt_product_model():
    spec = json.loads(SPEC_PATH.read_text())
    with (DBT_PROJECT_DIR / "seeds" / "silver_data_products.csv").open() as handle:
        products = {row["data_product"] for row in csv.DictReader(handle)}
    schema = yaml.safe_load((DBT_PROJECT_DIR / "models" / "gold" / "products" / "schema.yml").read_text())
    models = {m["config"]["meta"]["data_product"]: m["name"] for m in schema["models"]}

    assert set(spec["product_tables"]) == products == set(models)
    for product, table in spec["product_tables"].items():
        assert models[product] == f"gold_{table}"  # model gold_product_x is table gold.product_x
        tenant_column = next(
            c
            for m in schema["models"]
            if m["name"] == models[product]
            for c in m["columns"]
            if c["name"] == spec["tenant_column"]
        )
        assert any("not_null" in (t if isinstance(t, str) else next(iter(t))) for t in tenant_column["data_tests"])


def test_cli_expands_the_client_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    clients = tmp_path / "clients.csv"
    clients.write_text("client_id,tenant_id,aws_account_id\nC-1,tnt-0001,444455556666\nC-2,tnt-0001,777788889999\n")

    assert main(["--tenants", str(clients), "--catalog-id", CATALOG]) == 0

    out = json.loads(capsys.readouterr().out)
    assert len(out["CreateDataCellsFilter"]) == 4 and len(out["GrantPermissions"]) == 8


def test_a_client_without_tenant_is_named():
    with pytest.raises(TenantFilterError, match=r"client row 2 \(C-2\) has no tenant_id"):
        tenants_from_rows([{"client_id": "C-1", "tenant_id": "tnt-0001"}, {"client_id": "C-2", "tenant_id": ""}])


def test_the_request_check_itself_rejects_what_lake_formation_would():
    shape = lakeformation_model().operation_model("GrantPermissions").input_shape
    bad = dict(grant_select_requests(TENANTS, CATALOG)[0], Permissions=["READ"])
    bad["Resource"] = {"DataCellsFilter": dict(bad["Resource"]["DataCellsFilter"], Name="x" * 256, Extra="y")}

    errors = strict_errors(bad, shape)

    assert any("Permissions[0]" in e for e in errors) and any("Name: longer than 255" in e for e in errors)
    assert any("Extra: not a member" in e for e in errors)
