"""``tenant_ids_valid_and_distinct``: the blocking check on the tenant list (``silver/reference/clients``).

Evaluated inside the dbt step that builds the clients table, like every silver/gold check, so a bad
tenant id stops everything downstream of it (tenant views, ADX publication, grants).
"""

from __future__ import annotations

from dagster import AssetCheckSpec

from mesh_assets.lib.quality import Verdict
from mesh_assets.warehouse.checks.in_step import InStepCheck
from mesh_assets.warehouse.checks.window import CheckWindow, silver
from resources.warehouse import WarehouseResource

CLIENTS = silver("reference", "clients")


def tenant_ids_valid_and_distinct(warehouse: WarehouseResource, _window: CheckWindow) -> Verdict:
    """Red, naming the client and the value, for an invalid tenant id or two tenants sharing a name."""
    from mesh_assets.lib.data_products.tenant_list import tenant_list_verdict

    rows = warehouse.query("select client_id, tenant_id from silver.clients order by client_id").to_pylist()
    return tenant_list_verdict(rows)


CHECKS = [InStepCheck(AssetCheckSpec(
    "tenant_ids_valid_and_distinct", asset=CLIENTS, blocking=True,
    description="Every client's tenant id has the documented form (tnt-0001) and no two tenants share "
                "an ADX data set, a tenant schema or a Lake Formation filter."), tenant_ids_valid_and_distinct)]
