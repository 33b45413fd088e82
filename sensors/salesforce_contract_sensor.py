"""The Salesforce contract sensor: contract (and account) changes -> a run copying them to bronze -> a reconcile.

Every tick it asks Salesforce for the records changed since its cursor (``SystemModstamp`` minus an overlap
window, ordered by ``SystemModstamp, Id``) and drops the versions it has already handed out (by ``(Id,
SystemModstamp)``). It writes nothing itself (ingestion happens in assets): it requests a run of
``entitlement_reconcile`` whose first steps, the bronze assets ``bronze/salesforce/{accounts,contracts}``,
copy exactly that change window (run config ``since``/``until``), keyed by the change set. A change set that
cannot move a grant (only the reconciler's own ``ADX_Provisioned__c`` write-back) asks for the bronze copy
alone. The cursor moves with the run request (Dagster stores both in one tick); a run that fails is re-executed
with the same window, and the bronze append skips the versions it already holds, so nothing is written twice.
While a run this sensor requested is still going, the tick waits (its versions are not in bronze yet, and
whether a newer version changes a grant is judged against them). Expired sessions re-login and rate limits
back off inside the resource; an error leaves the cursor where it was, so no change is ever skipped.
"""

from __future__ import annotations

import orjson
from dagster import (
    DagsterRunStatus,
    DefaultSensorStatus,
    RunRequest,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    sensor,
)

from jobs.entitlements import entitlement_reconcile_job
from mesh_assets.shared.run_tags import CHANGE_SET_TAG
from resources.iceberg import IcebergCatalogResource
from resources.salesforce import SalesforceResource
from resources.settings import mesh_settings

SENSOR_NAME = "salesforce_contract_sensor"
#: Runs of this sensor that have not finished yet (their change windows may not be in bronze).
_UNFINISHED = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
               DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def overlap_seconds() -> int:
    """The overlap window: ``MESH_SALESFORCE_OVERLAP_S`` (default 300 s: Salesforce commits can become visible
    out of order, so the sensor re-reads that far behind the high-water SystemModstamp)."""
    return mesh_settings().mesh_salesforce_overlap_s


def sensor_interval_seconds() -> int:
    """Minimum seconds between ticks: ``MESH_CONTRACT_SENSOR_INTERVAL_S`` (default 15: with a reconcile of a few
    seconds, a change is granted well under a minute)."""
    return mesh_settings().mesh_contract_sensor_interval_s


def poll_changes(
    salesforce: SalesforceResource, cursor_json: str | None
) -> tuple[dict[str, list[dict]], dict[str, dict], str]:
    """New versions per object (``Account``, ``Contract``), each object's change window and the next cursor.

    A window is the bronze Salesforce asset's run config: ``since`` (the query's lower bound) and ``until`` (the
    newest version seen). Nothing is written.
    """
    from mesh_assets.bronze.salesforce import ACCOUNTS, CONTRACTS
    from mesh_assets.entitlements.contract_cursor import ContractCursor, advance, query_since

    overlap = overlap_seconds()
    stored = orjson.loads(cursor_json) if cursor_json else {}
    fresh: dict[str, list[dict]] = {}
    windows: dict[str, dict] = {}
    next_cursor: dict[str, str] = {}
    for obj in (ACCOUNTS, CONTRACTS):  # accounts first: a new contract's account is in bronze before it
        cursor = ContractCursor.from_json(stored[obj.sobject]) if obj.sobject in stored else ContractCursor()
        since = query_since(cursor, overlap)
        records = salesforce.changed_since(obj.sobject, list(obj.fields), since)
        new, advanced = advance(cursor, records, overlap)
        fresh[obj.sobject] = new
        windows[obj.sobject] = {"since": since, "until": max((r["SystemModstamp"] for r in new), default=None)
                                or advanced.high_water}
        next_cursor[obj.sobject] = advanced.to_json()
    return fresh, windows, orjson.dumps(next_cursor, option=orjson.OPT_SORT_KEYS).decode()


def _material_contracts(iceberg: IcebergCatalogResource, contracts: list[dict]) -> set[str]:
    """Ids of the new contract versions that can change a grant (not only the reconciler's write-back)."""
    from pyiceberg.expressions import In

    from mesh_assets.bronze.salesforce import CONTRACTS, records_table
    from mesh_assets.entitlements.contract_changes import ENTITLEMENT_COLUMNS, material, previous_versions

    if not contracts:
        return set()
    rows = records_table(CONTRACTS, contracts, SENSOR_NAME)
    fresh = rows.select(["id", "system_modstamp", *ENTITLEMENT_COLUMNS]).to_pylist()
    history = iceberg.table(CONTRACTS.table).scan(
        row_filter=In("id", sorted({r["id"] for r in fresh})),
        selected_fields=("id", "system_modstamp", *ENTITLEMENT_COLUMNS),
    ).to_arrow().to_pylist()
    return {r["id"] for r in material(fresh, previous_versions(history, fresh))}


def unfinished_run(context: SensorEvaluationContext) -> str | None:
    """The id of a run this sensor requested that has not finished yet (None when there is none)."""
    runs = context.instance.get_run_records(filters=RunsFilter(
        job_name=entitlement_reconcile_job.name, statuses=_UNFINISHED, tags={"dagster/sensor_name": SENSOR_NAME},
    ), limit=1)
    return runs[0].dagster_run.run_id if runs else None


@sensor(job=entitlement_reconcile_job, minimum_interval_seconds=sensor_interval_seconds(),
        default_status=DefaultSensorStatus.STOPPED,
        description="Salesforce contract and account changes -> a run copying them to bronze, then the "
                    "entitlement reconcile, per change set.")
def salesforce_contract_sensor(
    context: SensorEvaluationContext, salesforce: SalesforceResource, iceberg: IcebergCatalogResource
):
    """Request a run copying new contract/account versions to bronze (and reconciling, when a grant can change)."""
    from mesh_assets.bronze.salesforce import ACCOUNTS, CONTRACTS
    from mesh_assets.entitlements.contract_cursor import change_set_key

    if waiting_for := unfinished_run(context):
        return SensorResult(skip_reason=f"run {waiting_for} has not finished copying the previous change set",
                            cursor=context.cursor)
    fresh, windows, cursor = poll_changes(salesforce, context.cursor)
    changes = [*fresh["Account"], *fresh["Contract"]]
    if not changes:
        return SensorResult(skip_reason="no Salesforce account or contract changed since the cursor", cursor=cursor)
    key = change_set_key(changes)
    newest = max(r["SystemModstamp"] for r in changes)
    material = _material_contracts(iceberg, fresh["Contract"])
    context.log.info(f"change set {key}: {len(fresh['Contract'])} contract and {len(fresh['Account'])} account "
                     f"versions up to {newest}")
    objects = {ACCOUNTS.sobject: ACCOUNTS, CONTRACTS.sobject: CONTRACTS}
    run_config = {"ops": {objects[name].key.to_python_identifier(): {"config": window}
                          for name, window in windows.items()}}
    tags = {CHANGE_SET_TAG: key, "mesh/contract-changes": str(len(fresh["Contract"])),
            "mesh/material-contract-changes": str(len(material)),
            "mesh/account-changes": str(len(fresh["Account"])), "mesh/newest-system-modstamp": newest}
    if not fresh["Account"] and not material:
        # only the reconciler's own ADX_Provisioned__c write-back: copied to bronze, no reconcile
        copy = {"ops": {CONTRACTS.key.to_python_identifier(): run_config["ops"][CONTRACTS.key.to_python_identifier()]}}
        return SensorResult(cursor=cursor, run_requests=[RunRequest(
            run_key=f"salesforce-{key}", run_config=copy, asset_selection=[CONTRACTS.key], tags=tags)])
    return SensorResult(
        run_requests=[RunRequest(run_key=f"entitlements-{key}", run_config=run_config, tags=tags)],
        cursor=cursor,
    )
