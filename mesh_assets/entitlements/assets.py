"""``entitlements/grants``: the ADX data grants reconciled with the active Salesforce contracts.

Desired grants come from ``gold/clients/client_entitlements`` (active contracts × data product × the
client's AWS account), each on the data set of the client's tenant (``mesh-nav-history-<tenant>``).
Tenant and AWS account are those of the firm's reference data; a contract whose Salesforce account says
otherwise is held (``entitlements/boundary.py``) and the blocking check ``tenant_matches_reference_data``
names it.
Actual grants are listed from the exchange. The difference is applied (creations, revocations, new end
dates), ``ADX_Provisioned__c`` is written back to Salesforce where it changed, every decision is appended
to ``audit.entitlement_events``, and a call that still fails after its retries goes to
``entitlements.grant_dead_letters``: the next reconcile tries it again, and a check stays red meanwhile.
"""

import datetime as dt

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AutomationCondition,
    Definitions,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from mesh_assets.lib.ownership import CLIENT_SERVICES
from mesh_assets.shared.check_results import to_check_result
from mesh_assets.shared.retries import OUTSIDE_SYSTEM_RETRY, user_errors_not_retried
from resources.adx import AdxResource
from resources.iceberg import IcebergCatalogResource
from resources.salesforce import SalesforceResource
from resources.warehouse import WarehouseResource

GRANTS_KEY = AssetKey(["entitlements", "grants"])
ENTITLEMENTS_KEY = AssetKey(["gold", "clients", "client_entitlements"])
CONTRACTS_KEY = AssetKey(["silver", "salesforce", "contracts"])
ACTOR = "entitlement-reconciler"


def entitlements_from_gold(warehouse: WarehouseResource, as_of: dt.date):
    """Desired grants (each on the reference tenant's data set, to the registered AWS account), unfulfilled
    and contradicted contracts, from ``gold.client_entitlements`` (see ``entitlements/boundary.py``)."""
    from mesh_assets.entitlements.boundary import EntitlementRow, entitlements_within_boundary
    from mesh_assets.lib.data_products.products import PRODUCTS

    rows = warehouse.query(
        "select contract_id, contract_number, account_id, client_id, tenant_id, aws_account_id, "
        "salesforce_tenant_id, salesforce_aws_account_id, data_product, start_date, end_date "
        "from gold.client_entitlements order by contract_id"
    ).to_pylist()
    return entitlements_within_boundary(
        [EntitlementRow.from_row(r) for r in rows],
        lambda tenant: {name: spec.data_set_for(tenant) for name, spec in PRODUCTS.items()}, as_of)


def salesforce_contracts(warehouse: WarehouseResource):
    """Every contract's current version (silver), for precise revocation reasons and the write-back."""
    from mesh_assets.entitlements.grants import Contract

    rows = warehouse.query(
        "select contract_id, account_id, data_product, status, start_date, end_date, contract_number, "
        "adx_provisioned from silver.contracts"
    ).to_pylist()
    return [Contract.from_row(r) for r in rows], {r["contract_id"]: r["adx_provisioned"] for r in rows}


def reconcile(
    warehouse: WarehouseResource, adx: AdxResource, salesforce: SalesforceResource, iceberg: IcebergCatalogResource,
    reconcile_id: str, change_set: str | None, now: dt.datetime,
) -> dict:
    """One reconcile: plan, apply, write back, log every decision, dead-letter failures. Returns its summary."""
    from zoneinfo import ZoneInfo

    from mesh_assets.entitlements.apply import APPLIED, SKIPPED, Decision, apply_actions, write_back
    from mesh_assets.entitlements.decision_log import dead_letter_rows, event_rows, pending
    from mesh_assets.entitlements.grants import parse_grant_name
    from mesh_assets.entitlements.reconcile import plan
    from mesh_assets.entitlements.tables import ENTITLEMENT_EVENTS, GRANT_DEAD_LETTERS
    from mesh_assets.lib.lakehouse.snapshots import append_new_keys
    from mesh_assets.lib.trading_calendar import TIMEZONE

    as_of = now.astimezone(ZoneInfo(TIMEZONE)).date()
    bounded = entitlements_from_gold(warehouse, as_of)
    desired = bounded.grants
    contracts, provisioned_in_salesforce = salesforce_contracts(warehouse)
    exchange = adx.exchange()
    actual = exchange.list_grants()
    the_plan = plan(desired, actual, as_of, contracts=contracts, unfulfilled=bounded.unfulfilled,
                    held=bounded.held)
    report = apply_actions(the_plan.actions, exchange, {g.grant_id: g for g in actual})
    for item in the_plan.unfulfilled:
        report.decisions.append(Decision("refuse", SKIPPED, item.reason, contract_id=item.contract_id,
                                         data_product=item.data_product))
    for contradiction in bounded.contradictions:
        report.decisions.append(Decision("hold", SKIPPED, contradiction.reason,
                                         contract_id=contradiction.contract_id))
    for grant in the_plan.foreign:
        report.decisions.append(Decision("ignore", SKIPPED, f"grant {grant.name} was not made by the reconciler",
                                         data_set=grant.data_set, receiver_account=grant.receiver_account,
                                         grant_id=grant.grant_id))
    after = exchange.list_grants() if the_plan.actions else actual
    live = {parse_grant_name(g.name)[0] for g in after if parse_grant_name(g.name) and not g.expired}
    provisioned_now = {c.contract_id: c.contract_id in live for c in contracts}
    if salesforce.backend == "api":  # the export backend is a read-only file: nothing to write back to
        write_back(report, provisioned_now, provisioned_in_salesforce,
                   lambda updates: salesforce.update_many("Contract", updates))

    dead_table = iceberg.table(GRANT_DEAD_LETTERS)
    waiting = pending(dead_table.scan().to_arrow())
    dead = dead_letter_rows(report.decisions, waiting, reconcile_id, now)
    dead_outcome = append_new_keys(iceberg.loader(GRANT_DEAD_LETTERS), dead, ["dead_letter_id"],
                                   {"mesh.reconcile.id": reconcile_id})
    events = event_rows(report.decisions, reconcile_id, change_set, f"{ACTOR} ({reconcile_id})", now)
    event_outcome = append_new_keys(iceberg.loader(ENTITLEMENT_EVENTS), events, ["event_id"],
                                    {"mesh.reconcile.id": reconcile_id})
    waiting_after = pending(iceberg.table(GRANT_DEAD_LETTERS).scan().to_arrow())
    return {
        "as_of": as_of.isoformat(),
        "desired_grants": len(desired),
        "grants_before": len(actual),
        "grants_after": len(after),
        "granted": report.count("grant", APPLIED),
        "revoked": report.count("revoke", APPLIED),
        "written_back": report.count("writeback", APPLIED),
        "failed": len(report.failures),
        "refused": len(the_plan.unfulfilled),
        "held": len(bounded.held),
        "held_grants": len(the_plan.held),
        "contradictions": [c.as_metadata() for c in bounded.contradictions][:20],
        "foreign_grants": len(the_plan.foreign),
        "dead_letters_waiting": waiting_after.num_rows,
        "decisions": len(report.decisions),
        "events_snapshot_id": event_outcome.snapshot_id,
        "dead_letters_snapshot_id": dead_outcome.snapshot_id,
        "actions": [a.as_metadata() for a in the_plan.actions][:50],
        "failures": [{"decision": d.decision, "contract_id": d.contract_id, "error": d.error}
                     for d in report.failures][:20],
    }


@asset(
    key=GRANTS_KEY, deps=[ENTITLEMENTS_KEY, CONTRACTS_KEY], group_name="entitlements",
    kinds={"adx", "salesforce", "iceberg"}, owners=[CLIENT_SERVICES], pool="entitlement_grants",
    retry_policy=OUTSIDE_SYSTEM_RETRY,
    automation_condition=AutomationCondition.eager(),  # after the end-of-day refresh: expired contracts revoked
    description="ADX data grants reconciled with active Salesforce contracts: grants, revocations and new end "
                "dates applied, ADX_Provisioned__c written back, every decision in audit.entitlement_events.",
)
@user_errors_not_retried
def entitlement_grants(
    context: AssetExecutionContext, warehouse: WarehouseResource, adx: AdxResource,
    salesforce: SalesforceResource, iceberg: IcebergCatalogResource,
) -> MaterializeResult:
    """Apply the difference between desired and actual grants."""
    from mesh_assets.entitlements.apply import now_utc
    from mesh_assets.shared.run_tags import CHANGE_SET_TAG

    change_set = context.run.tags.get(CHANGE_SET_TAG)
    summary = reconcile(warehouse, adx, salesforce, iceberg, context.run.run_id, change_set, now_utc())
    if summary["failed"]:
        context.log.warning(f"{summary['failed']} grant action(s) failed and wait in entitlements.grant_dead_letters:"
                            f" {summary['failures'][:3]}")
    return MaterializeResult(metadata={
        **{k: v for k, v in summary.items() if k not in ("actions", "failures", "events_snapshot_id",
                                                         "dead_letters_snapshot_id", "contradictions")},
        "contradictions": MetadataValue.json(summary["contradictions"]),
        "dagster/row_count": summary["grants_after"],
        "change_set": change_set,
        "events_snapshot_id": str(summary["events_snapshot_id"]),
        "dead_letters_snapshot_id": str(summary["dead_letters_snapshot_id"]),
        "actions": MetadataValue.json(summary["actions"]),
        "failures": MetadataValue.json(summary["failures"]),
    })


@asset_check(asset=GRANTS_KEY, name="no_dead_letters_waiting",
             description="No failed grant, revocation or write-back is waiting in entitlements.grant_dead_letters.")
def no_dead_letters_waiting(iceberg: IcebergCatalogResource) -> AssetCheckResult:
    """Red while any failed call waits for its retry."""
    from mesh_assets.entitlements.decision_log import pending
    from mesh_assets.entitlements.tables import GRANT_DEAD_LETTERS
    from mesh_assets.lib.quality import Verdict

    waiting = pending(iceberg.table(GRANT_DEAD_LETTERS).scan().to_arrow())
    samples = [{k: r[k] for k in ("decision", "contract_id", "data_set", "receiver_account", "error", "recorded_at")}
               for r in waiting.slice(0, 5).to_pylist()]
    if waiting.num_rows:
        verdict = Verdict(False, f"{waiting.num_rows} failed entitlement action(s) waiting for a retry",
                          {"waiting": waiting.num_rows, "threshold": 0, "samples": samples})
    else:
        verdict = Verdict(True, "no failed entitlement action is waiting", {"waiting": 0, "threshold": 0})
    return to_check_result(verdict)


@asset_check(asset=GRANTS_KEY, name="every_grant_has_active_contract", additional_deps=[ENTITLEMENTS_KEY],
             description="Every live grant the reconciler made is justified by an active contract today, on the "
                         "data set of the client's reference tenant, to its registered AWS account.")
def every_grant_has_active_contract(warehouse: WarehouseResource, adx: AdxResource) -> AssetCheckResult:
    """No live grant without an active, uncontradicted contract (expired grants no longer give access)."""
    from zoneinfo import ZoneInfo

    from mesh_assets.entitlements.apply import now_utc
    from mesh_assets.entitlements.grants import parse_grant_name
    from mesh_assets.lib.quality import Verdict
    from mesh_assets.lib.trading_calendar import TIMEZONE

    bounded = entitlements_from_gold(warehouse, now_utc().astimezone(ZoneInfo(TIMEZONE)).date())
    wanted = {(g.contract_id, g.data_product, g.data_set, g.receiver_account) for g in bounded.grants}
    held = {c.contract_id: c.reason for c in bounded.contradictions}
    grants = [g for g in adx.exchange().list_grants() if parse_grant_name(g.name) and not g.expired]
    orphans = [g for g in grants if (*parse_grant_name(g.name), g.data_set, g.receiver_account) not in wanted]

    def why(grant) -> str:
        contract_id = parse_grant_name(grant.name)[0]
        return held.get(contract_id, "no active contract grants this data set to this account")

    metadata = {"live_grants": len(grants), "desired_grants": len(bounded.grants), "unjustified": len(orphans),
                "on_contradicted_contracts": sum(1 for g in orphans if parse_grant_name(g.name)[0] in held),
                "threshold": 0, "samples": [{"grant_id": g.grant_id, "name": g.name, "data_set": g.data_set,
                                             "receiver_account": g.receiver_account, "why": why(g)}
                                            for g in orphans[:5]]}
    if orphans:
        return to_check_result(Verdict(False, f"{len(orphans)} live grant(s) have no active, uncontradicted "
                                              f"contract, e.g. {why(orphans[0])}", metadata))
    return to_check_result(Verdict(True, f"all {len(grants)} live grants have an active contract", metadata))


@asset_check(asset=GRANTS_KEY, name="tenant_matches_reference_data", blocking=True,
             additional_deps=[ENTITLEMENTS_KEY],
             description="No active contract's Salesforce account names a tenant or AWS account other than the "
                         "client's in reference data (such a contract is held: no grant, no revocation).")
def tenant_matches_reference_data(warehouse: WarehouseResource) -> AssetCheckResult:
    """Red, naming contract, account and both values, while Salesforce contradicts reference data."""
    from zoneinfo import ZoneInfo

    from mesh_assets.entitlements.apply import now_utc
    from mesh_assets.lib.quality import Verdict
    from mesh_assets.lib.trading_calendar import TIMEZONE

    bounded = entitlements_from_gold(warehouse, now_utc().astimezone(ZoneInfo(TIMEZONE)).date())
    found = bounded.contradictions
    metadata = {"contradictions": len(found), "contracts_held": len(bounded.held), "threshold": 0,
                "samples": [c.as_metadata() for c in found[:10]]}
    if found:
        return to_check_result(Verdict(False, f"{len(bounded.held)} contract(s) held: " + "; ".join(
            c.reason for c in found[:3]) + (f" (and {len(found) - 3} more)" if len(found) > 3 else ""), metadata))
    return to_check_result(Verdict(True, "every active contract's Salesforce tenant and AWS account agree with "
                                         "reference data", metadata))


def defs() -> Definitions:
    """The entitlement reconciler and its checks."""
    return Definitions(assets=[entitlement_grants], asset_checks=[
        no_dead_letters_waiting, every_grant_has_active_contract, tenant_matches_reference_data])
