"""The entitlement reconcile: Salesforce contracts (bronze, silver) -> desired grants (gold) -> ADX grants applied.

Launched by ``salesforce_contract_sensor`` with the change set as run key and its change window as the bronze
assets' run config, or by hand (the bronze assets then copy every version bronze does not hold yet). dbt
rebuilds only the three models between bronze contracts and the desired grants, so a contract change reaches
ADX in seconds rather than at the end-of-day batch.
"""

from __future__ import annotations

from dagster import AssetKey, AssetSelection, define_asset_job

from jobs.executors import CHAIN

#: The Salesforce copies, the dbt models the desired grants depend on, then the reconciler itself.
RECONCILE_KEYS = (
    AssetKey(["bronze", "salesforce", "accounts"]),
    AssetKey(["bronze", "salesforce", "contracts"]),
    AssetKey(["silver", "salesforce", "accounts"]),
    AssetKey(["silver", "salesforce", "contracts"]),
    AssetKey(["gold", "clients", "client_entitlements"]),
    AssetKey(["entitlements", "grants"]),
)

entitlement_reconcile_job = define_asset_job(
    name="entitlement_reconcile",
    selection=AssetSelection.assets(*RECONCILE_KEYS),
    description="Salesforce contract changes -> desired grants -> ADX data grants and revocations, audited.",
    tags={"mesh/batch": "entitlements"},
    executor_def=CHAIN,  # the bronze copies, dbt models, then the reconcile: a chain
)
