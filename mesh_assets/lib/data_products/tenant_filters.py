"""Tenant isolation in aws: Lake Formation data-cell filters over the published product tables.

Every product table (``gold.product_<...>``, built by ``dbt_project/models/gold/products/``) carries
the owning tenant on each row. For every tenant × product table one data-cell filter keeps that
tenant's rows (``RowFilter.FilterExpression = "tenant_id = '<id>'"``, all columns), and SELECT on the
filter is granted to the tenant's AWS account. ``deploy/lakeformation/data_cells_filters.json`` says
which tables and how filters are named; this module expands it for a tenant list into the request
bodies of ``CreateDataCellsFilter``, ``GrantPermissions`` and ``DeleteDataCellsFilter``. Pure: no
Dagster, no AWS call (the caller sends the requests, e.g. with boto3 or the AWS CLI).

Tenant ids are validated, never normalised (:mod:`mesh_assets.lib.tenant_ids`): an id that is not of the
documented form (``tnt-0001``) is refused with a :class:`TenantFilterError` naming it. Schema and filter
names follow the dbt macro ``tenant_schema`` (macros/tenant_views.sql): ``tenant_`` and the id with its
``-`` written ``_`` (``tenant_tnt_0001``), one-to-one for valid ids.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mesh_assets.lib.project_files import project_path

SPEC_PATH = project_path("deploy", "lakeformation", "data_cells_filters.json")

#: Lake Formation names (filters, databases, tables) are 1..255 characters.
MAX_NAME_LENGTH = 255
_ACCOUNT_ID = re.compile(r"\d{12}")


class TenantFilterError(ValueError):
    """A tenant list or filter specification that cannot give isolated, unambiguous filters."""


@dataclass(frozen=True)
class Tenant:
    """A tenant of the data mesh and the AWS accounts its clients read from."""

    tenant_id: str
    aws_account_ids: tuple[str, ...] = ()


@dataclass(frozen=True)
class TenantFilterSpec:
    """The declarative part (``data_cells_filters.json``): where the product tables are, how to name filters."""

    database: str
    tenant_column: str
    filter_name: str
    permissions: tuple[str, ...]
    product_tables: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class FilterChanges:
    """What to send to bring Lake Formation to the desired filters (there is no update: delete, then create)."""

    create: list[dict[str, Any]]
    delete: list[dict[str, Any]]


def load_filter_spec(path: Path = SPEC_PATH) -> TenantFilterSpec:
    """The filter specification in ``path`` (``deploy/lakeformation/data_cells_filters.json`` by default)."""
    try:
        raw = json.loads(path.read_text())
        spec = TenantFilterSpec(
            database=raw["database"],
            tenant_column=raw["tenant_column"],
            filter_name=raw["filter_name"],
            permissions=tuple(raw["permissions"]),
            product_tables=dict(raw["product_tables"]),
        )
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise TenantFilterError(f"{path}: not a tenant filter specification ({error!r})") from error
    if not spec.product_tables:
        raise TenantFilterError(f"{path}: product_tables is empty")
    if "{tenant}" not in spec.filter_name or "{data_product}" not in spec.filter_name:
        raise TenantFilterError(
            f"{path}: filter_name {spec.filter_name!r} must contain {{tenant}} and {{data_product}}"
        )
    return spec


def valid_tenant_id(tenant_id: object, context: str | None = None) -> str:
    """``tenant_id`` if it has the documented form, else :class:`TenantFilterError` naming it."""
    from mesh_assets.lib.tenant_ids import InvalidTenantId, validate_tenant_id

    try:
        return validate_tenant_id(tenant_id, context)
    except InvalidTenantId as error:
        raise TenantFilterError(f"{error}: its rows could not be isolated") from None


def tenant_schema_name(tenant_id: str) -> str:
    """``tenant_<id>`` (``tenant_tnt_0001``): the tenant's schema (DuckDB) or Glue database (Athena) of its views."""
    from mesh_assets.lib.tenant_ids import tenant_schema_suffix

    return "tenant_" + tenant_schema_suffix(valid_tenant_id(tenant_id))


def row_filter_expression(tenant_id: str, tenant_column: str = "tenant_id") -> str:
    """The PartiQL row filter keeping ``tenant_id``'s rows (validated; single quotes doubled all the same)."""
    escaped = valid_tenant_id(tenant_id).replace("'", "''")
    return f"{tenant_column} = '{escaped}'"


def filter_name(spec: TenantFilterSpec, tenant_id: str, data_product: str) -> str:
    """The data-cell filter's name for ``tenant_id`` on ``data_product``'s table."""
    schema = tenant_schema_name(tenant_id)
    name = spec.filter_name.format(tenant=schema.removeprefix("tenant_"), data_product=data_product)
    if len(name) > MAX_NAME_LENGTH:
        raise TenantFilterError(
            f"tenant {tenant_id!r}, product {data_product}: filter name is longer than {MAX_NAME_LENGTH} characters"
        )
    return name


def check_distinct_schemas(tenants: Iterable[Tenant]) -> None:
    """Refuse an invalid tenant id, and two tenants whose ids map to one schema (views and filters shared)."""
    from mesh_assets.lib.tenant_ids import tenant_name_collisions

    ids = [valid_tenant_id(t.tenant_id) for t in tenants]
    for schema, first, second in tenant_name_collisions(ids, tenant_schema_name)[:1]:
        raise TenantFilterError(
            f"tenants {first!r} and {second!r} both map to {schema}: their views and data-cell filters would mix them"
        )


def _check_catalog_id(catalog_id: str) -> None:
    if not _ACCOUNT_ID.fullmatch(str(catalog_id)):
        raise TenantFilterError(f"catalog id {catalog_id!r} is not a 12-digit AWS account id")


def data_cells_filter_requests(
    tenants: Sequence[Tenant], catalog_id: str, spec: TenantFilterSpec | None = None
) -> list[dict[str, Any]]:
    """``CreateDataCellsFilter`` request bodies: one per tenant × product table, all columns."""
    spec = spec or load_filter_spec()
    _check_catalog_id(catalog_id)
    check_distinct_schemas(tenants)
    return [
        {
            "TableData": {
                "TableCatalogId": catalog_id,
                "DatabaseName": spec.database,
                "TableName": table,
                "Name": filter_name(spec, tenant.tenant_id, product),
                "RowFilter": {"FilterExpression": row_filter_expression(tenant.tenant_id, spec.tenant_column)},
                "ColumnWildcard": {"ExcludedColumnNames": []},
            }
        }
        for tenant in sorted(tenants, key=lambda t: t.tenant_id)
        for product, table in sorted(spec.product_tables.items())
    ]


def grant_select_requests(
    tenants: Sequence[Tenant], catalog_id: str, spec: TenantFilterSpec | None = None
) -> list[dict[str, Any]]:
    """``GrantPermissions`` request bodies: SELECT on each of a tenant's filters to each of its AWS accounts."""
    spec = spec or load_filter_spec()
    _check_catalog_id(catalog_id)
    check_distinct_schemas(tenants)
    requests = []
    for tenant in sorted(tenants, key=lambda t: t.tenant_id):
        if not tenant.aws_account_ids:
            raise TenantFilterError(f"tenant {tenant.tenant_id!r} has no AWS account: nothing to grant its filters to")
        for account in sorted(set(tenant.aws_account_ids)):
            if not _ACCOUNT_ID.fullmatch(account):
                raise TenantFilterError(f"tenant {tenant.tenant_id!r}: AWS account {account!r} is not 12 digits")
            for product, table in sorted(spec.product_tables.items()):
                requests.append(
                    {
                        "CatalogId": catalog_id,
                        "Principal": {"DataLakePrincipalIdentifier": account},
                        "Resource": {
                            "DataCellsFilter": {
                                "TableCatalogId": catalog_id,
                                "DatabaseName": spec.database,
                                "TableName": table,
                                "Name": filter_name(spec, tenant.tenant_id, product),
                            }
                        },
                        "Permissions": list(spec.permissions),
                    }
                )
    return requests


def _filter_identity(table_data: Mapping[str, Any]) -> tuple[str, str, str, str]:
    return (
        str(table_data.get("TableCatalogId")),
        str(table_data.get("DatabaseName")),
        str(table_data.get("TableName")),
        str(table_data.get("Name")),
    )


def _filter_content(table_data: Mapping[str, Any]) -> tuple[str, tuple[str, ...], tuple[str, ...] | None]:
    wildcard = table_data.get("ColumnWildcard")
    return (
        str((table_data.get("RowFilter") or {}).get("FilterExpression", "")),
        tuple(sorted((wildcard or {}).get("ExcludedColumnNames") or [])),
        None if wildcard is not None else tuple(sorted(table_data.get("ColumnNames") or [])),
    )


def filters_to_change(
    existing: Iterable[Mapping[str, Any]], desired: Sequence[Mapping[str, Any]], spec: TenantFilterSpec | None = None
) -> FilterChanges:
    """Compare the filters Lake Formation has (``ListDataCellsFilter`` items) with the desired requests.

    Only tenant filters on the specification's product tables are managed: a filter there whose tenant
    is gone (an offboarded client) is deleted, a changed one is deleted and created again, a missing
    one is created. Filters on other tables or not named like tenant filters are left alone.
    """
    spec = spec or load_filter_spec()
    prefix = spec.filter_name.split("{", 1)[0]
    managed_tables = set(spec.product_tables.values())
    wanted = {_filter_identity(r["TableData"]): r for r in desired}
    have = {
        _filter_identity(f): f
        for f in existing
        if f.get("DatabaseName") == spec.database
        and f.get("TableName") in managed_tables
        and str(f.get("Name", "")).startswith(prefix)
    }
    create = [
        r
        for key, r in wanted.items()
        if key not in have or _filter_content(have[key]) != _filter_content(r["TableData"])
    ]
    delete = [
        {"TableCatalogId": key[0], "DatabaseName": key[1], "TableName": key[2], "Name": key[3]}
        for key, current in have.items()
        if key not in wanted or _filter_content(current) != _filter_content(wanted[key]["TableData"])
    ]
    return FilterChanges(create=create, delete=delete)


def tenants_from_rows(rows: Iterable[Mapping[str, Any]]) -> list[Tenant]:
    """Tenants from ``silver.clients`` rows (``tenant_id``, ``aws_account_id``): one per tenant, its accounts."""
    accounts: dict[str, set[str]] = {}
    for number, row in enumerate(rows, start=1):
        tenant_id = row.get("tenant_id")
        if tenant_id is None or tenant_id == "":
            raise TenantFilterError(f"client row {number} ({row.get('client_id', '?')}) has no tenant_id")
        tenant_id = valid_tenant_id(tenant_id, f"client row {number} ({row.get('client_id', '?')})")
        account = str(row.get("aws_account_id") or "").strip()
        accounts.setdefault(tenant_id, set()).update([account] if account else [])
    tenants = [Tenant(t, tuple(sorted(a))) for t, a in sorted(accounts.items())]
    check_distinct_schemas(tenants)
    return tenants


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m mesh_assets.lib.data_products.tenant_filters --tenants clients.csv --catalog-id 123456789012``:
    print the CreateDataCellsFilter and GrantPermissions requests as JSON."""
    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument(
        "--tenants", type=Path, required=True, help="CSV with tenant_id and aws_account_id columns (silver.clients)"
    )
    parser.add_argument("--catalog-id", required=True, help="AWS account id of the Glue Data Catalog")
    parser.add_argument("--spec", type=Path, default=SPEC_PATH, help="filter specification JSON")
    args = parser.parse_args(argv)
    spec = load_filter_spec(args.spec)
    with args.tenants.open(newline="") as handle:
        tenants = tenants_from_rows(csv.DictReader(handle))
    json.dump(
        {
            "CreateDataCellsFilter": data_cells_filter_requests(tenants, args.catalog_id, spec),
            "GrantPermissions": grant_select_requests(tenants, args.catalog_id, spec),
        },
        sys.stdout,
        indent=2,
    )
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
