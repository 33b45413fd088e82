"""The Salesforce contract sensor: contract (and account) changes -> bronze -> an entitlement reconcile run.

Every tick it asks Salesforce for the records changed since its cursor (``SystemModstamp`` minus an overlap
window, ordered by ``SystemModstamp, Id``), drops the versions it has already seen (by ``(Id,
SystemModstamp)``), appends the new versions to ``bronze/salesforce/{accounts,contracts}`` (only keys the
table does not hold), and requests ``entitlement_reconcile`` keyed by the change set. The cursor moves only
after the bronze commit, and the bronze append skips keys it holds: a crash between the two re-reads the
same versions and writes nothing twice. Expired sessions re-login and rate limits back off inside the
resource; an error leaves the cursor where it was, so no change is ever skipped.
"""

from __future__ import annotations

import orjson
from dagster import (
    AssetMaterialization,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from jobs.entitlements import entitlement_reconcile_job
from resources.iceberg import IcebergCatalogResource
from resources.salesforce import SalesforceResource
from resources.settings import mesh_settings

CHANGE_SET_TAG = "mesh/change-set"


def overlap_seconds() -> int:
    """The overlap window: ``MESH_SALESFORCE_OVERLAP_S`` (default 300 s: Salesforce commits can become visible
    out of order, so the sensor re-reads that far behind the high-water SystemModstamp)."""
    return mesh_settings().mesh_salesforce_overlap_s


def sensor_interval_seconds() -> int:
    """Minimum seconds between ticks: ``MESH_CONTRACT_SENSOR_INTERVAL_S`` (default 15: with a reconcile of a few
    seconds, a change is granted well under a minute)."""
    return mesh_settings().mesh_contract_sensor_interval_s


def poll_changes(
    salesforce: SalesforceResource, iceberg: IcebergCatalogResource, cursor_json: str | None, batch_id: str
) -> tuple[dict[str, list[dict]], dict[str, dict], str]:
    """New versions per object (``Account``, ``Contract``), what each bronze append did, and the next cursor.

    The bronze appends are committed before this returns; the caller stores the returned cursor after.
    """
    from mesh_assets.bronze.salesforce import ACCOUNTS, CONTRACTS, records_table
    from mesh_assets.entitlements.contract_cursor import ContractCursor, advance, query_since
    from mesh_assets.lib.lakehouse.snapshots import append_new_keys

    overlap = overlap_seconds()
    stored = orjson.loads(cursor_json) if cursor_json else {}
    fresh: dict[str, list[dict]] = {}
    written: dict[str, dict] = {}
    next_cursor: dict[str, str] = {}
    for obj in (ACCOUNTS, CONTRACTS):  # accounts first: a new contract's account is in bronze before it
        cursor = ContractCursor.from_json(stored[obj.sobject]) if obj.sobject in stored else ContractCursor()
        records = salesforce.changed_since(obj.sobject, list(obj.fields), query_since(cursor, overlap))
        new, advanced = advance(cursor, records, overlap)
        if new:
            rows = records_table(obj, new, batch_id)
            if obj is CONTRACTS:
                written["material"] = _material_contracts(iceberg, rows)
            outcome = append_new_keys(iceberg.loader(obj.table), rows,
                                      ["id", "system_modstamp"], {"mesh.batch.id": batch_id,
                                                                  "mesh.salesforce.changes": str(len(new))})
            written[obj.sobject] = {"rows_written": outcome.rows_written, "snapshot_id": outcome.snapshot_id,
                                    "table": obj.table.identifier, "asset_key": obj.key}
        fresh[obj.sobject] = new
        next_cursor[obj.sobject] = advanced.to_json()
    return fresh, written, orjson.dumps(next_cursor, option=orjson.OPT_SORT_KEYS).decode()


def _material_contracts(iceberg: IcebergCatalogResource, rows) -> set[str]:
    """Ids of the new contract versions that can change a grant (not only the reconciler's write-back)."""
    from pyiceberg.expressions import In

    from mesh_assets.bronze.salesforce import CONTRACTS
    from mesh_assets.entitlements.contract_changes import ENTITLEMENT_COLUMNS, material, previous_versions

    fresh = rows.select(["id", "system_modstamp", *ENTITLEMENT_COLUMNS]).to_pylist()
    history = iceberg.table(CONTRACTS.table).scan(
        row_filter=In("id", sorted({r["id"] for r in fresh})),
        selected_fields=("id", "system_modstamp", *ENTITLEMENT_COLUMNS),
    ).to_arrow().to_pylist()
    return {r["id"] for r in material(fresh, previous_versions(history, fresh))}


@sensor(job=entitlement_reconcile_job, minimum_interval_seconds=sensor_interval_seconds(),
        default_status=DefaultSensorStatus.STOPPED,
        description="Salesforce contract and account changes -> bronze -> an entitlement reconcile run per change set.")
def salesforce_contract_sensor(
    context: SensorEvaluationContext, salesforce: SalesforceResource, iceberg: IcebergCatalogResource
):
    """Copy new contract/account versions to bronze and request a reconcile keyed by the change set."""
    import datetime as dt

    from mesh_assets.entitlements.contract_cursor import change_set_key

    batch_id = f"salesforce_contract_sensor@{dt.datetime.now(dt.UTC).isoformat(timespec='milliseconds')}"
    fresh, written, cursor = poll_changes(salesforce, iceberg, context.cursor, batch_id)
    changes = [*fresh["Account"], *fresh["Contract"]]
    if not changes:
        return SensorResult(skip_reason="no Salesforce account or contract changed since the cursor", cursor=cursor)
    key = change_set_key(changes)
    newest = max(r["SystemModstamp"] for r in changes)
    material = written.pop("material", set())
    events = [
        AssetMaterialization(
            asset_key=info["asset_key"],
            metadata={"rows_written": info["rows_written"], "snapshot_id": str(info["snapshot_id"]),
                      "table": info["table"], "change_set": key, "source_position_system_modstamp": newest},
            description="new Salesforce versions copied by salesforce_contract_sensor",
        )
        for info in written.values()
    ]
    context.log.info(f"change set {key}: {len(fresh['Contract'])} contract and {len(fresh['Account'])} account "
                     f"versions up to {newest}")
    if not fresh["Account"] and not material:
        return SensorResult(asset_events=events, cursor=cursor, skip_reason=(
            f"{len(fresh['Contract'])} contract version(s) copied to bronze; none changes a grant "
            "(only ADX_Provisioned__c, the reconciler's own write-back)"))
    return SensorResult(
        run_requests=[RunRequest(run_key=f"entitlements-{key}", tags={
            CHANGE_SET_TAG: key, "mesh/contract-changes": str(len(fresh["Contract"])),
            "mesh/material-contract-changes": str(len(material)),
            "mesh/account-changes": str(len(fresh["Account"])), "mesh/newest-system-modstamp": newest,
        })],
        asset_events=events,
        cursor=cursor,
    )
