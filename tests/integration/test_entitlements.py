"""Salesforce contracts to ADX data grants, end to end on the embedded environment.

The local Salesforce-compatible server (HTTPS, simple-salesforce) seeded from the small firm, the
contract sensor evaluated for real, the ``entitlement_reconcile`` job executed as it requests (the bronze
Salesforce copies of its change window, dbt on DuckDB, the local exchange's grants table, Iceberg audit
tables). The expected grants are computed here from the Salesforce records with the contract rules written
out again, not taken from the code under test.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import pytest
from dagster import AssetKey, Definitions, build_sensor_context, define_asset_job, instance_for_test

from resources.settings import overridden_environment

pytestmark = pytest.mark.integration

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
SETUP_KEYS = [
    AssetKey(["bronze", "reference", "clients"]), AssetKey(["bronze", "salesforce", "accounts"]),
    AssetKey(["bronze", "salesforce", "contracts"]), AssetKey(["silver", "reference", "data_products"]),
    AssetKey(["silver", "reference", "clients"]),
]
CONTRACT_FIELDS = ["Id", "AccountId", "ContractNumber", "Data_Product__c", "StartDate", "EndDate", "Status",
                   "ADX_Provisioned__c", "SystemModstamp"]


@pytest.fixture(scope="module")
def world(small_firm: Path, tmp_path_factory: pytest.TempPathFactory):
    """Bronze reference + Salesforce and the dbt seeds/silver clients, with a live local Salesforce server."""
    from mesh_assets.definitions import build_definitions
    from mesh_dev.local.salesforce_server.runner import start_server
    root = tmp_path_factory.mktemp("entitlements")
    (root / "dagster_home").mkdir()
    server = start_server(root / "salesforce", export_dir=small_firm / "salesforce")
    env = {"MESH_ENV": "local", "MESH_DATA_DIR": str(root / "data"), "MESH_FIRM_DIR": str(small_firm),
           **server.client_environment()}
    try:
        with instance_for_test(temp_dir=str(root / "dagster_home")) as instance, overridden_environment(env):
            defs = build_definitions()
            setup = define_asset_job("entitlements_setup", selection=SETUP_KEYS)
            defs = Definitions.merge(defs, Definitions(jobs=[setup]))
            assert defs.resolve_job_def("entitlements_setup").execute_in_process(
                instance=instance, run_config=QUIET).success
            yield {"defs": defs, "instance": instance, "server": server, "root": root, "cursor": None,
                   "salesforce": client_of(server)}
    finally:
        server.stop()


def client_of(server, **settings):
    """The code location's Salesforce client with the server's values resolved (not EnvVars)."""
    from resources.salesforce import SalesforceResource

    return SalesforceResource(backend="api", login_url=server.url, ca_bundle=str(server.ca_pem_path),
                              username=server.credentials.username, password=server.credentials.password,
                              security_token=server.credentials.security_token, **settings)


def tick(world) -> object:
    """One evaluation of the contract sensor; the cursor is kept like the daemon keeps it."""
    from sensors.salesforce_contract_sensor import salesforce_contract_sensor

    resources = world["defs"].resources
    context = build_sensor_context(instance=world["instance"], cursor=world["cursor"],
                                   resources={"salesforce": world["salesforce"], "iceberg": resources["iceberg"]})
    result = salesforce_contract_sensor(context)
    world["cursor"] = result.cursor
    return result


def reconcile(world, request=None, defs=None):
    """The reconcile job in process: for a run request as the daemon would launch it (its tags, its change window
    as run config, its asset selection), or by hand (``request`` None: every version bronze does not hold)."""
    job = (defs or world["defs"]).resolve_job_def("entitlement_reconcile")
    if request is None:
        return job.execute_in_process(instance=world["instance"], run_config=QUIET, raise_on_error=False)
    return job.execute_in_process(
        instance=world["instance"], run_config={**QUIET, **request.run_config}, tags=request.tags,
        asset_selection=request.asset_selection, raise_on_error=False)


def copied_to_bronze(run, what: str = "rows_written") -> dict[str, int]:
    """Rows each bronze Salesforce copy of ``run`` wrote (or read: ``records_read``), by asset key."""
    return {e.asset_key.to_user_string(): e.materialization.metadata[what].value
            for e in run.get_asset_materialization_events() if e.asset_key.path[:2] == ["bronze", "salesforce"]}


def grants_materialization(result) -> dict:
    [event] = [e for e in result.get_asset_materialization_events()
               if e.asset_key == AssetKey(["entitlements", "grants"])]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def check_results(result) -> dict[str, object]:
    return {e.event_specific_data.check_name: e.event_specific_data for e in result.all_events
            if e.event_type_value == "ASSET_CHECK_EVALUATION"}


def salesforce(world):
    """The same client the code location uses, with the server's values resolved (not EnvVars)."""
    return world["salesforce"]


def exchange(world):
    return world["defs"].resources["adx"].exchange()


def expected_grants(world) -> set[tuple[str, str, str, str]]:
    """(contract, product, receiver account, data set) for every contract active today, from Salesforce."""
    from zoneinfo import ZoneInfo

    today = dt.datetime.now(ZoneInfo("America/New_York")).date()
    accounts = {a["Id"]: a for a in salesforce(world).records("Account", ["Id", "AWS_Account_Id__c", "Tenant_Id__c"])}
    data_sets = {"nav_history": "mesh-nav-history", "performance": "mesh-performance", "prices": "mesh-prices",
                 "esg": "mesh-exposure-analytics"}
    wanted = set()
    for c in salesforce(world).records("Contract", CONTRACT_FIELDS):
        start = dt.date.fromisoformat(c["StartDate"])
        end = dt.date.fromisoformat(c["EndDate"]) if c["EndDate"] else None
        if c["Status"] == "Activated" and start <= today and (end is None or today <= end):
            account = accounts[c["AccountId"]]
            wanted.add((c["Id"], c["Data_Product__c"], account["AWS_Account_Id__c"],
                        f"{data_sets[c['Data_Product__c']]}-{account['Tenant_Id__c']}"))
    return wanted


def live_grants(world) -> set[tuple[str, str, str, str]]:
    from mesh_assets.entitlements.grants import parse_grant_name

    return {(*parse_grant_name(g.name), g.receiver_account, g.data_set)
            for g in exchange(world).list_grants() if not g.expired}


def audit_events(world):
    from mesh_assets.entitlements.tables import ENTITLEMENT_EVENTS

    return world["defs"].resources["iceberg"].table(ENTITLEMENT_EVENTS).scan().to_arrow().to_pylist()


def test_first_tick_copies_every_version_and_the_reconcile_grants_exactly_the_active_contracts(world):
    result = tick(world)
    [request] = result.run_requests
    assert request.run_key.startswith("entitlements-contracts-")
    assert int(request.tags["mesh/contract-changes"]) == 14 and int(request.tags["mesh/account-changes"]) == 6
    assert request.asset_selection is None  # the whole job: the bronze copies, then the reconcile
    assert tick(world).skip_reason is not None  # nothing changed since: the cursor holds

    run = reconcile(world, request)
    assert run.success
    # the run's bronze steps read exactly the versions the tick saw (the sensor itself writes nothing); the
    # world's setup had copied them already, so they append nothing twice
    assert copied_to_bronze(run, "records_read") == {"bronze/salesforce/accounts": 6, "bronze/salesforce/contracts": 14}
    assert copied_to_bronze(run) == {"bronze/salesforce/accounts": 0, "bronze/salesforce/contracts": 0}
    wanted = expected_grants(world)
    assert wanted, "the small firm has active contracts"
    assert live_grants(world) == wanted
    metadata = grants_materialization(run)
    assert metadata["granted"] == len(wanted) and metadata["revoked"] == 0 and metadata["failed"] == 0
    assert metadata["change_set"] == request.tags["mesh/change-set"]
    events = [e for e in audit_events(world) if e["reconcile_id"] == run.run_id]
    granted = {e["contract_id"] for e in events if e["decision"] == "grant" and e["outcome"] == "applied"}
    assert granted == {w[0] for w in wanted}
    assert all(e["actor"].startswith("entitlement-reconciler") and e["reason"] for e in events)
    # written back to Salesforce: provisioned exactly where a grant now exists
    provisioned = {c["Id"] for c in salesforce(world).records("Contract", CONTRACT_FIELDS) if c["ADX_Provisioned__c"]}
    assert provisioned == {w[0] for w in wanted}
    assert {e["contract_id"] for e in events if e["decision"] == "writeback"} == provisioned
    checks = check_results(run)
    assert checks["no_dead_letters_waiting"].passed and checks["every_grant_has_active_contract"].passed


def test_the_write_back_echo_is_copied_to_bronze_but_requests_no_reconcile(world):
    from mesh_assets.bronze.salesforce import CONTRACTS

    before = world["defs"].resources["iceberg"].table(CONTRACTS.table).scan().to_arrow().num_rows
    result = tick(world)  # the write-back bumped SystemModstamp of the provisioned contracts
    [request] = result.run_requests
    assert request.asset_selection == [CONTRACTS.key]  # the bronze copy alone: no reconcile
    assert request.tags["mesh/material-contract-changes"] == "0"
    provisioned = len(expected_grants(world))
    copy = reconcile(world, request)
    assert copy.success
    assert {e.asset_key for e in copy.get_asset_materialization_events()} == {CONTRACTS.key}
    assert copied_to_bronze(copy) == {"bronze/salesforce/contracts": provisioned}
    after = world["defs"].resources["iceberg"].table(CONTRACTS.table).scan().to_arrow().num_rows
    assert after == before + provisioned  # every version is kept, none triggers work
    assert tick(world).skip_reason is not None
    run = reconcile(world)  # and a reconcile now would have nothing to do
    metadata = grants_materialization(run)
    assert (metadata["granted"], metadata["revoked"], metadata["written_back"]) == (0, 0, 0)


def test_a_tick_waits_while_a_run_it_requested_has_not_finished_and_moves_no_cursor(world):
    from dagster import DagsterRunStatus

    for request in tick(world).run_requests:  # this test alone: settle the firm's own contracts first
        assert reconcile(world, request).success
    contract = salesforce(world).records("Contract", CONTRACT_FIELDS)[2]
    salesforce(world).update("Contract", contract["Id"], {"EndDate": "2032-06-30"})
    job = world["defs"].resolve_job_def("entitlement_reconcile")
    queued = world["instance"].create_run_for_job(
        job_def=job, status=DagsterRunStatus.NOT_STARTED, tags={"dagster/sensor_name": "salesforce_contract_sensor"})
    cursor = world["cursor"]
    try:
        waiting = tick(world)
        assert not waiting.run_requests and queued.run_id in waiting.skip_reason.skip_message
        assert world["cursor"] == cursor
    finally:
        world["instance"].delete_run(queued.run_id)
    [request] = tick(world).run_requests  # the run is gone: the change is there, nothing was skipped
    assert request.tags["mesh/material-contract-changes"] == "1"
    assert reconcile(world, request).success


def test_a_tick_that_fails_on_the_api_limit_moves_no_cursor_and_the_next_one_skips_nothing(world):
    import requests

    from resources.salesforce import SalesforceRateLimited

    server = world["server"]
    local_hook = f"{server.url}/__local"
    for request in tick(world).run_requests:  # this test alone: settle the firm's own contracts first
        assert reconcile(world, request).success
    contract = salesforce(world).records("Contract", CONTRACT_FIELDS)[0]
    salesforce(world).update("Contract", contract["Id"], {"EndDate": "2031-12-31"})
    cursor = world["cursor"]
    requests.post(f"{local_hook}/expire_sessions", verify=str(server.ca_pem_path), timeout=10).raise_for_status()
    requests.post(f"{local_hook}/rate_limit", json={"requests": 10}, verify=str(server.ca_pem_path),
                  timeout=10).raise_for_status()
    impatient = client_of(server, rate_limit_attempts=2, rate_limit_initial_wait_s=0.05)
    from sensors.salesforce_contract_sensor import salesforce_contract_sensor

    context = build_sensor_context(instance=world["instance"], cursor=cursor, resources={
        "salesforce": impatient, "iceberg": world["defs"].resources["iceberg"]})
    with pytest.raises(SalesforceRateLimited):
        salesforce_contract_sensor(context)  # the daemon records the error; the cursor stays where it was
    requests.post(f"{local_hook}/rate_limit", json={"requests": 0}, verify=str(server.ca_pem_path),
                  timeout=10).raise_for_status()
    assert world["cursor"] == cursor
    [request] = tick(world).run_requests  # the expired session logs in again; the change is there
    assert request.tags["mesh/material-contract-changes"] == "1"
    assert reconcile(world, request).success


def test_termination_expiry_and_a_new_contract_are_applied_on_the_next_reconcile(world):
    from zoneinfo import ZoneInfo

    sf = salesforce(world)
    granted = sorted(expected_grants(world))
    terminated, ended = granted[0][0], granted[1][0]
    sf.update("Contract", terminated, {"Status": "Terminated"})
    yesterday = dt.datetime.now(ZoneInfo("America/New_York")).date() - dt.timedelta(days=1)
    sf.update("Contract", ended, {"EndDate": yesterday.isoformat()})
    account = sf.records("Account", ["Id", "AWS_Account_Id__c"])[0]
    new_id = sf.create("Contract", {
        "AccountId": account["Id"], "Data_Product__c": "prices", "Status": "Activated",
        "StartDate": (yesterday - dt.timedelta(days=30)).isoformat(),
        "EndDate": (yesterday + dt.timedelta(days=365)).isoformat(), "ADX_Provisioned__c": False,
    })
    [request] = tick(world).run_requests
    assert int(request.tags["mesh/contract-changes"]) == 3
    run = reconcile(world, request)
    assert run.success
    assert live_grants(world) == expected_grants(world)
    live_contracts = {g[0] for g in live_grants(world)}
    assert new_id in live_contracts and terminated not in live_contracts and ended not in live_contracts
    events = {(e["decision"], e["contract_id"]): e for e in audit_events(world) if e["reconcile_id"] == run.run_id}
    assert "Terminated" in events[("revoke", terminated)]["reason"]
    assert f"ended {yesterday.isoformat()}" in events[("revoke", ended)]["reason"]
    assert json.loads(events[("revoke", terminated)]["before_json"])["receiver_account"]
    assert events[("revoke", terminated)]["after_json"] is None
    assert events[("grant", new_id)]["outcome"] == "applied"
    provisioned = {c["Id"]: c["ADX_Provisioned__c"] for c in sf.records("Contract", CONTRACT_FIELDS)}
    assert provisioned[new_id] is True and provisioned[terminated] is False and provisioned[ended] is False


def test_a_failed_grant_call_is_dead_lettered_turns_the_check_red_and_is_retried_by_the_next_reconcile(world):
    from mesh_assets.entitlements.decision_log import pending
    from mesh_assets.entitlements.tables import GRANT_DEAD_LETTERS

    for request in tick(world).run_requests:  # this test alone: settle the firm's own contracts first
        assert reconcile(world, request).success
    sf = salesforce(world)
    account = sf.records("Account", ["Id"])[1]
    new_id = sf.create("Contract", {
        "AccountId": account["Id"], "Data_Product__c": "esg", "Status": "Activated",
        "StartDate": "2026-01-01", "EndDate": "2030-12-31", "ADX_Provisioned__c": False,
    })
    [request] = tick(world).run_requests
    resources = world["defs"].resources
    from mesh_assets.definitions import build_definitions
    from resources.adx import AdxResource

    impatient = AdxResource(backend="local", root=resources["adx"].root, lock_timeout_s=0.2)
    defs = build_definitions({**resources, "adx": impatient})
    # another writer holds the grants table: a real SQLite "database is locked" on every write
    holder = sqlite3.connect(Path(resources["adx"].root) / "grants.db", timeout=1, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        run = reconcile(world, request, defs)
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    metadata = grants_materialization(run)
    assert metadata["failed"] == 1 and metadata["dead_letters_waiting"] == 1
    check = check_results(run)["no_dead_letters_waiting"]
    assert not check.passed and check.metadata["waiting"].value == 1
    [waiting] = pending(resources["iceberg"].table(GRANT_DEAD_LETTERS).scan().to_arrow()).to_pylist()
    assert waiting["contract_id"] == new_id and "locked" in waiting["error"]
    assert new_id not in {g[0] for g in live_grants(world)}

    retry = reconcile(world)  # the next reconcile (no new change needed)
    assert retry.success
    assert new_id in {g[0] for g in live_grants(world)}
    assert grants_materialization(retry)["dead_letters_waiting"] == 0
    assert check_results(retry)["no_dead_letters_waiting"].passed
    rows = resources["iceberg"].table(GRANT_DEAD_LETTERS).scan().to_arrow().to_pylist()
    assert [r["status"] for r in sorted(rows, key=lambda r: r["recorded_at"])] == ["pending", "resolved"]
    assert live_grants(world) == expected_grants(world)


# --- the tenant boundary: reference data decides, a Salesforce edit cannot move a grant --------------------------


def reference_client(world, tenant_id: str) -> dict:
    """The client reference data (silver.clients) places in ``tenant_id``."""
    [client] = world["defs"].resources["warehouse"].query(
        "select client_id, tenant_id, aws_account_id, salesforce_account_id from silver.clients "
        f"where tenant_id = '{tenant_id}'").to_pylist()
    return client


def active_contract_for(world, account_id: str, product: str) -> str:
    """A new active contract of ``account_id`` for ``product``, created through simple-salesforce."""
    today = dt.datetime.now(dt.UTC).date()
    return salesforce(world).create("Contract", {
        "AccountId": account_id, "Data_Product__c": product, "Status": "Activated",
        "StartDate": (today - dt.timedelta(days=40)).isoformat(),
        "EndDate": (today + dt.timedelta(days=400)).isoformat(), "ADX_Provisioned__c": False,
    })


def settle(world) -> None:
    for request in tick(world).run_requests:
        assert reconcile(world, request).success


def live_grant_of(world, client: dict) -> object | None:
    """A live reconciler grant on the client's tenant data sets, to its registered account (None if none)."""
    from mesh_assets.entitlements.grants import parse_grant_name

    return next((g for g in sorted(exchange(world).list_grants(), key=lambda g: g.grant_id)
                 if parse_grant_name(g.name) and not g.expired and g.data_set.endswith(f"-{client['tenant_id']}")
                 and g.receiver_account == client["aws_account_id"]), None)


def test_salesforce_edits_of_tenant_or_aws_account_grant_nothing_and_turn_the_blocking_check_red(world):
    """The review's proof, inverted: the client reference data places in tnt-0001, its Salesforce Tenant_Id__c
    edited to tnt-0002, gets no grant on tnt-0002's data sets; its existing grant is held (neither granted nor
    revoked); an AWS_Account_Id__c edited to another client's account sends that account nothing."""
    settle(world)
    client, other, third = (reference_client(world, t) for t in ("tnt-0001", "tnt-0002", "tnt-0003"))
    account, third_account = client["salesforce_account_id"], third["salesforce_account_id"]
    before = live_grant_of(world, client)
    if before is None:  # the firm gave this client no active contract: give it one
        active_contract_for(world, account, "nav_history")
        [request] = tick(world).run_requests
        assert reconcile(world, request).success
        before = live_grant_of(world, client)
    assert before is not None

    salesforce(world).update("Account", account, {"Tenant_Id__c": "tnt-0002"})
    salesforce(world).update("Account", third_account, {"AWS_Account_Id__c": other["aws_account_id"]})
    new_contract = active_contract_for(world, third_account, "performance")
    [request] = tick(world).run_requests
    run = reconcile(world, request)

    live = [g for g in exchange(world).list_grants() if not g.expired]
    assert not [g for g in live if g.data_set.endswith("-tnt-0002") and g.receiver_account != other["aws_account_id"]]
    assert not [g for g in live
                if g.receiver_account == other["aws_account_id"] and not g.data_set.endswith("-tnt-0002")]
    assert new_contract not in {g[0] for g in live_grants(world)}
    assert [g for g in live if g.grant_id == before.grant_id] == [before]  # held: neither granted nor revoked
    checks = check_results(run)
    boundary = checks["tenant_matches_reference_data"]
    assert not boundary.passed and not run.success  # blocking: the run fails and says why
    assert f"account {account} (client {client['client_id']}): Salesforce Tenant_Id__c 'tnt-0002' contradicts " \
           "reference data tenant_id 'tnt-0001'" in boundary.metadata["reason"].value
    samples = boundary.metadata["samples"].value
    held_contract = before.name.split("/")[1]
    assert {"contract_id": held_contract, "account_id": account, "client_id": client["client_id"],
            "field": "tenant_id", "salesforce_value": "tnt-0002", "reference_value": "tnt-0001"} in samples
    assert {"contract_id": new_contract, "account_id": third_account, "client_id": third["client_id"],
            "field": "aws_account_id", "salesforce_value": other["aws_account_id"],
            "reference_value": third["aws_account_id"]} in samples
    assert not checks["every_grant_has_active_contract"].passed  # the held grant is not justified today
    metadata = grants_materialization(run)
    assert metadata["held"] >= 2 and metadata["granted"] == 0 and metadata["revoked"] == 0
    holds = [e for e in audit_events(world) if e["reconcile_id"] == run.run_id and e["decision"] == "hold"]
    assert {held_contract, new_contract} <= {e["contract_id"] for e in holds}

    salesforce(world).update("Account", account, {"Tenant_Id__c": "tnt-0001"})  # the CRM is corrected
    salesforce(world).update("Account", third_account, {"AWS_Account_Id__c": third["aws_account_id"]})
    [request] = tick(world).run_requests
    run = reconcile(world, request)
    assert run.success
    checks = check_results(run)
    assert checks["tenant_matches_reference_data"].passed and checks["every_grant_has_active_contract"].passed
    assert [g for g in exchange(world).list_grants() if g.grant_id == before.grant_id] == [before]
    [granted] = [g for g in exchange(world).list_grants() if g.name == f"mesh-entitlement/{new_contract}/performance"]
    assert (granted.data_set, granted.receiver_account) == ("mesh-performance-tnt-0003", third["aws_account_id"])
