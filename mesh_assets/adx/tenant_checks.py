"""``tenant_ids_valid_and_distinct``: the blocking check on the tenant list (``silver/reference/clients``)."""

from dagster import AssetCheckResult, AssetKey, asset_check

from mesh_assets.check_results import to_check_result
from resources.warehouse import WarehouseResource

CLIENTS_KEY = AssetKey(["silver", "reference", "clients"])


@asset_check(asset=CLIENTS_KEY, name="tenant_ids_valid_and_distinct", blocking=True,
             description="Every client's tenant id has the documented form (tnt-0001) and no two tenants share "
                         "an ADX data set, a tenant schema or a Lake Formation filter.")
def tenant_ids_valid_and_distinct(warehouse: WarehouseResource) -> AssetCheckResult:
    """Red, naming the client and the value, for an invalid tenant id or two tenants sharing a name."""
    from mesh_assets.adx.tenant_list import tenant_list_verdict

    rows = warehouse.query("select client_id, tenant_id from silver.clients order by client_id").to_pylist()
    return to_check_result(tenant_list_verdict(rows))
