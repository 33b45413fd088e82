"""Salesforce accounts and contracts into bronze: every (Id, SystemModstamp) version exactly once.

A run copies every record, or only a change window (run config ``since``/``until``: what
``salesforce_contract_sensor`` saw change); either way it appends only the versions bronze does not hold.
"""


import datetime as dt
from dataclasses import dataclass

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    Config,
    Definitions,
    MaterializeResult,
    asset,
    asset_check,
)

from mesh_assets.lib.lakehouse.positions import total_records
from mesh_assets.lib.lakehouse.tables import BRONZE, TableSpec, arrow_type
from mesh_assets.lib.ownership import CLIENT_SERVICES
from mesh_assets.shared.check_results import to_check_result
from mesh_assets.shared.retries import OUTSIDE_SYSTEM_RETRY, user_errors_not_retried
from mesh_assets.shared.run_tags import CHANGE_SET_TAG
from resources.iceberg import IcebergCatalogResource
from resources.salesforce import SalesforceResource

S, D, B, TIMESTAMP = "string", "date", "bool", "timestamp"
_AUDIT = (("ingested_at", TIMESTAMP), ("batch_id", S))


@dataclass(frozen=True)
class SalesforceObject:
    """A Salesforce object copied to bronze: API field -> (column, type)."""

    sobject: str
    key: AssetKey
    table: TableSpec
    fields: dict[str, tuple[str, str]]
    required: tuple[str, ...]
    description: str


def _spec(name: str, fields: dict[str, tuple[str, str]]) -> TableSpec:
    return TableSpec(BRONZE, name, (*fields.values(), *_AUDIT))


_ACCOUNT_FIELDS = {
    "Id": ("id", S), "Name": ("name", S), "Client_Id__c": ("client_id", S), "Tenant_Id__c": ("tenant_id", S),
    "AWS_Account_Id__c": ("aws_account_id", S), "CreatedDate": ("created_date", TIMESTAMP),
    "SystemModstamp": ("system_modstamp", TIMESTAMP),
}
_CONTRACT_FIELDS = {
    "Id": ("id", S), "AccountId": ("account_id", S), "ContractNumber": ("contract_number", S),
    "Data_Product__c": ("data_product", S), "StartDate": ("start_date", D), "EndDate": ("end_date", D),
    "Status": ("status", S), "ADX_Provisioned__c": ("adx_provisioned", B), "CreatedDate": ("created_date", TIMESTAMP),
    "SystemModstamp": ("system_modstamp", TIMESTAMP),
}

ACCOUNTS = SalesforceObject(
    "Account", AssetKey(["bronze", "salesforce", "accounts"]), _spec("salesforce_accounts", _ACCOUNT_FIELDS),
    _ACCOUNT_FIELDS, ("id", "tenant_id", "aws_account_id", "system_modstamp"),
    "Salesforce accounts (clients) with tenant and AWS account ids, one row per SystemModstamp version.",
)
CONTRACTS = SalesforceObject(
    "Contract", AssetKey(["bronze", "salesforce", "contracts"]), _spec("salesforce_contracts", _CONTRACT_FIELDS),
    _CONTRACT_FIELDS, ("id", "account_id", "data_product", "status", "start_date", "system_modstamp"),
    "Salesforce data-product contracts (status, dates), one row per SystemModstamp version.",
)
CONTRACT_STATUSES = frozenset({"Draft", "Activated", "Terminated", "Expired"})
DATA_PRODUCTS = frozenset({"nav_history", "performance", "esg", "prices"})


def _convert(value: object, type_name: str) -> object:
    if value is None:
        return None
    if type_name == TIMESTAMP:
        return dt.datetime.strptime(str(value).replace("Z", "+0000"), "%Y-%m-%dT%H:%M:%S.%f%z")
    if type_name == D:
        return dt.date.fromisoformat(str(value))
    return value


def records_table(obj: SalesforceObject, records: list[dict], batch_id: str):
    """Arrow rows of Salesforce records in the bronze schema (API names become snake_case)."""
    import pyarrow as pa

    now = dt.datetime.now(dt.UTC)
    columns = {column: pa.array([_convert(r.get(api), t) for r in records], arrow_type(t))
               for api, (column, t) in obj.fields.items()}
    columns["ingested_at"] = pa.array([now] * len(records), arrow_type(TIMESTAMP))
    columns["batch_id"] = pa.array([batch_id] * len(records), pa.string())
    return pa.table(columns, schema=obj.table.schema)


class SalesforceChangeWindow(Config):
    """The versions a run copies: SystemModstamp from ``since`` to ``until`` (both inclusive); none set: every record.

    ``salesforce_contract_sensor`` sets both from its cursor (``since``: the high-water mark minus the overlap
    window, None on its first tick) and from the newest version it saw (``until``).
    """

    since: str | None = None
    until: str | None = None


def window_records(salesforce: SalesforceResource, obj: SalesforceObject, window: SalesforceChangeWindow) -> list[dict]:
    """The records of ``obj`` in ``window`` (every record when the window is open on both ends)."""
    if window.since is None and window.until is None:
        return salesforce.records(obj.sobject, list(obj.fields))
    records = salesforce.changed_since(obj.sobject, list(obj.fields), window.since)
    if window.until is None:
        return records
    until = _convert(window.until, TIMESTAMP)
    return [r for r in records if _convert(r["SystemModstamp"], TIMESTAMP) <= until]


def salesforce_asset(obj: SalesforceObject):
    """The bronze asset copying ``obj``'s new versions."""

    @asset(key=obj.key, group_name="bronze", owners=[CLIENT_SERVICES], kinds={"iceberg", "salesforce"},
           description=obj.description, retry_policy=OUTSIDE_SYSTEM_RETRY)
    @user_errors_not_retried
    def _salesforce(context: AssetExecutionContext, config: SalesforceChangeWindow, iceberg: IcebergCatalogResource,
                    salesforce: SalesforceResource) -> MaterializeResult:
        from mesh_assets.lib.lakehouse.snapshots import append_new_keys

        records = window_records(salesforce, obj, config)
        rows = records_table(obj, records, context.run.run_id)
        outcome = append_new_keys(iceberg.loader(obj.table), rows, ["id", "system_modstamp"],
                                  {"mesh.batch.id": context.run.run_id, "mesh.salesforce.changes": str(len(records))})
        newest = max((r["SystemModstamp"] for r in records), default=None)
        metadata = {
            "dagster/row_count": total_records(iceberg.table(obj.table)), "records_read": len(records),
            "rows_written": outcome.rows_written, "snapshot_id": str(outcome.snapshot_id),
            "source_position_system_modstamp": newest, "table": obj.table.identifier,
            "change_window": f"{config.since or 'the beginning'} .. {config.until or 'now'}",
        }
        if change_set := context.run.tags.get(CHANGE_SET_TAG):
            metadata["change_set"] = change_set
        return MaterializeResult(metadata=metadata)

    return _salesforce


def _scan(iceberg: IcebergCatalogResource, obj: SalesforceObject):
    return iceberg.table(obj.table).scan().to_arrow()


@asset_check(asset=ACCOUNTS.key, name="required_fields_present", blocking=True,
             description="Accounts carry id, tenant id, AWS account id and SystemModstamp.")
def accounts_required_fields(iceberg: IcebergCatalogResource) -> AssetCheckResult:
    """Required account fields are present."""
    from mesh_assets.lib.quality.rules import required_values

    return to_check_result(required_values(_scan(iceberg, ACCOUNTS), ACCOUNTS.required, ["id", "name"]))


@asset_check(asset=CONTRACTS.key, name="required_fields_present", blocking=True,
             description="Contracts carry id, account, data product, status, start date and SystemModstamp.")
def contracts_required_fields(iceberg: IcebergCatalogResource) -> AssetCheckResult:
    """Required contract fields are present."""
    from mesh_assets.lib.quality.rules import required_values

    return to_check_result(required_values(_scan(iceberg, CONTRACTS), CONTRACTS.required, ["id", "contract_number"]))


@asset_check(asset=CONTRACTS.key, name="known_accounts", additional_deps=[ACCOUNTS.key],
             description="Every contract belongs to a known Salesforce account.")
def contracts_known_accounts(iceberg: IcebergCatalogResource) -> AssetCheckResult:
    """Contracts reference accounts that exist in bronze."""
    from mesh_assets.lib.quality.rules import known_values

    known = set(_scan(iceberg, ACCOUNTS)["id"].to_pylist())
    verdict = known_values(_scan(iceberg, CONTRACTS), "account_id", known, ACCOUNTS.table.identifier,
                           ["id", "contract_number", "account_id"])
    return to_check_result(verdict)


@asset_check(asset=CONTRACTS.key, name="valid_status_and_product",
             description="Status is Draft/Activated/Terminated/Expired and the data product is one we sell.")
def contracts_valid_values(iceberg: IcebergCatalogResource) -> AssetCheckResult:
    """Contract status and data product are in their accepted values."""
    from mesh_assets.lib.quality.rules import within_allowed

    rows = _scan(iceberg, CONTRACTS)
    status = within_allowed(rows, "status", CONTRACT_STATUSES, ["id", "status"])
    product = within_allowed(rows, "data_product", DATA_PRODUCTS, ["id", "data_product"])
    worst = status if not status.passed else product
    return to_check_result(worst, status_verdict=status.description, product_verdict=product.description)


def defs() -> Definitions:
    """Salesforce bronze assets and checks."""
    return Definitions(
        assets=[salesforce_asset(ACCOUNTS), salesforce_asset(CONTRACTS)],
        asset_checks=[accounts_required_fields, contracts_required_fields, contracts_known_accounts,
                      contracts_valid_values],
    )
