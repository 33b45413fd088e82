"""simple-salesforce, through SalesforceResource, against the local Salesforce server over real HTTPS.

The server runs in this process (uvicorn thread) on a free port with the small firm's export; the client
trusts the test CA only through the resource's ``ca_bundle``. No mock anywhere: sessions expire and API limits
are hit through the server's local-only hooks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceMalformedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.login import SalesforceLogin

from mesh_dev.local.salesforce_server import ServerInfo, start_server
from resources.salesforce import SalesforceRateLimited, SalesforceResource

pytestmark = pytest.mark.integration

PAGE_SIZE = 4
CONTRACT_FIELDS = [
    "Id",
    "AccountId",
    "ContractNumber",
    "Data_Product__c",
    "StartDate",
    "EndDate",
    "Status",
    "ADX_Provisioned__c",
    "CreatedDate",
    "SystemModstamp",
]
ACCOUNT_FIELDS = ["Id", "Name", "Client_Id__c", "Tenant_Id__c", "AWS_Account_Id__c", "CreatedDate", "SystemModstamp"]


@pytest.fixture
def server(small_firm: Path, tmp_path: Path) -> Iterator[ServerInfo]:
    """A fresh local org seeded from the small firm's export, 4 records per query page."""
    info = start_server(tmp_path / "salesforce", small_firm / "salesforce", page_size=PAGE_SIZE)
    try:
        yield info
    finally:
        info.stop()


def api_resource(info: ServerInfo, **overrides) -> SalesforceResource:
    """The resource as the platform configures it for the local server (fast back-off for tests)."""
    settings = dict(
        backend="api",
        username=info.credentials.username,
        password=info.credentials.password,
        security_token=info.credentials.security_token,
        login_url=info.url,
        ca_bundle=str(info.ca_pem_path),
        rate_limit_initial_wait_s=0.01,
        rate_limit_max_wait_s=0.05,
    )
    return SalesforceResource(**{**settings, **overrides})


def export_resource(small_firm: Path) -> SalesforceResource:
    return SalesforceResource(backend="export", export_dir=str(small_firm / "salesforce"))


def raw_client(info: ServerInfo) -> Salesforce:
    """simple-salesforce used directly (for what the resource never sends: hand-written SOQL, creates)."""
    session = requests.Session()
    session.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override session.verify
    session.verify = str(info.ca_pem_path)
    c = info.credentials
    session_id, instance = SalesforceLogin(
        username=c.username,
        password=c.password,
        security_token=c.security_token,
        sf_version="62.0",
        session=session,
        scratch_url=info.url,
    )
    return Salesforce(session_id=session_id, instance=instance, session=session, version="62.0")


def hook(info: ServerInfo, path: str, body: dict | None = None) -> dict:
    method = "GET" if path == "stats" else "POST"
    response = requests.request(
        method, f"{info.url}/__local/{path}", json=body, verify=str(info.ca_pem_path), timeout=10
    )
    response.raise_for_status()
    return response.json()


def test_query_results_equal_the_export(server: ServerInfo, small_firm: Path) -> None:
    api, export = api_resource(server), export_resource(small_firm)
    contracts = api.records("Contract", CONTRACT_FIELDS)
    assert contracts == export.records("Contract", CONTRACT_FIELDS)
    assert len(contracts) > PAGE_SIZE
    assert api.records("Account", ACCOUNT_FIELDS) == export.records("Account", ACCOUNT_FIELDS)
    assert api.changed_since("Contract", CONTRACT_FIELDS, None) == contracts


def test_raw_query_pages_follow_salesforce_shape(server: ServerInfo, small_firm: Path) -> None:
    client = raw_client(server)
    first = client.query("SELECT Id, SystemModstamp FROM Contract ORDER BY SystemModstamp, Id")
    assert first["done"] is False
    assert len(first["records"]) == PAGE_SIZE
    assert re.fullmatch(r"/services/data/v62\.0/query/01g[0-9A-Za-z]{15}-4", first["nextRecordsUrl"])
    assert first["records"][0]["attributes"]["url"].startswith("/services/data/v62.0/sobjects/Contract/800")
    second = client.query_more(first["nextRecordsUrl"], identifier_is_url=True)
    assert second["totalSize"] == first["totalSize"]
    assert not {r["Id"] for r in first["records"]} & {r["Id"] for r in second["records"]}


def test_paging_across_pages_returns_every_record_once(server: ServerInfo, small_firm: Path) -> None:
    before = hook(server, "stats")["api_calls"]
    records = api_resource(server).changed_since("Contract", ["Status"], None)
    expected = export_resource(small_firm).records("Contract", ["Id", "SystemModstamp", "Status"])
    assert records == expected
    assert len({r["Id"] for r in records}) == len(records)
    pages = -(-len(records) // PAGE_SIZE)
    assert hook(server, "stats")["api_calls"] - before == pages  # one query + (pages - 1) query_more calls


def test_patch_bumps_system_modstamp_and_changed_since_sees_it(server: ServerInfo) -> None:
    resource = api_resource(server)
    contracts = resource.records("Contract", CONTRACT_FIELDS)
    newest = contracts[-1]["SystemModstamp"]
    target = next(c for c in contracts if c["Status"] == "Draft")
    resource.update("Contract", target["Id"], {"ADX_Provisioned__c": True, "Status": "Activated"})
    changed = resource.changed_since("Contract", ["Status", "ADX_Provisioned__c"], newest)
    mine = [c for c in changed if c["Id"] == target["Id"]]
    assert len(mine) == 1
    assert mine[0]["Status"] == "Activated" and mine[0]["ADX_Provisioned__c"] is True
    assert mine[0]["SystemModstamp"] > newest
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", mine[0]["SystemModstamp"])
    resource.update("Contract", target["Id"], {"Status": "Terminated"})
    after = resource.changed_since("Contract", ["Status"], mine[0]["SystemModstamp"])
    assert [(c["Id"], c["Status"]) for c in after if c["Id"] == target["Id"]] == [(target["Id"], "Terminated")]
    assert after[-1]["SystemModstamp"] > mine[0]["SystemModstamp"]  # strictly increasing, even within a millisecond


def test_changed_since_only_returns_changes_at_or_after_the_bound(server: ServerInfo) -> None:
    resource = api_resource(server)
    contracts = resource.records("Contract", ["Id", "SystemModstamp"])
    middle = contracts[len(contracts) // 2]["SystemModstamp"]
    changed = resource.changed_since("Contract", [], middle)
    assert changed == [c for c in contracts if c["SystemModstamp"] >= middle]


def test_expired_session_logs_in_again_transparently(server: ServerInfo) -> None:
    resource = api_resource(server)
    first = resource.records("Contract", ["Id"])
    assert hook(server, "stats")["logins"] == 1
    assert hook(server, "expire_sessions")["expired_sessions"] == 1
    assert resource.records("Contract", ["Id"]) == first
    stats = hook(server, "stats")
    assert stats["logins"] == 2
    assert stats["invalid_session"] == 1


def test_rate_limit_backs_off_then_succeeds_with_no_record_lost(server: ServerInfo, small_firm: Path) -> None:
    resource = api_resource(server)
    expected = export_resource(small_firm).records("Contract", ["Id", "SystemModstamp"])
    hook(server, "rate_limit", {"requests": 3, "after": 1})  # refusals hit the first query_more: mid-pagination
    assert resource.changed_since("Contract", [], None) == expected
    assert hook(server, "stats")["rate_limited"] == 3


def test_rate_limit_that_outlasts_the_retries_is_a_clear_error(server: ServerInfo) -> None:
    hook(server, "rate_limit", {"requests": 100})
    with pytest.raises(SalesforceRateLimited, match=r"after 3 attempts while reading Contract"):
        api_resource(server, rate_limit_attempts=3).records("Contract", ["Id"])
    assert hook(server, "stats")["rate_limited"] == 3


def test_malformed_soql_is_a_clear_error(server: ServerInfo) -> None:
    with pytest.raises(SalesforceMalformedRequest) as bad_field:
        api_resource(server).records("Contract", ["Id", "Bogus__c"])
    assert bad_field.value.content[0]["errorCode"] == "INVALID_FIELD"
    assert "Bogus__c" in bad_field.value.content[0]["message"]
    with pytest.raises(SalesforceMalformedRequest) as bad_query:
        raw_client(server).query("SELECT Id FRM Contract")
    assert bad_query.value.content[0]["errorCode"] == "MALFORMED_QUERY"
    assert "'FRM'" in bad_query.value.content[0]["message"]
    with pytest.raises(SalesforceMalformedRequest, match="OR at column"):
        raw_client(server).query("SELECT Id FROM Contract WHERE Status = 'Draft' OR Status = 'Expired'")


def test_created_record_can_be_read_back(server: ServerInfo) -> None:
    client = raw_client(server)
    account_id = client.query("SELECT Id FROM Account LIMIT 1")["records"][0]["Id"]
    created = client.Contract.create({"AccountId": account_id, "Status": "Draft", "Data_Product__c": "esg"})
    assert created["success"] is True and re.fullmatch(r"800[0-9A-Za-z]{15}", created["id"])
    record = client.Contract.get(created["id"])
    assert (record["AccountId"], record["Status"], record["Data_Product__c"]) == (account_id, "Draft", "esg")
    assert record["CreatedDate"] == record["SystemModstamp"]


def test_update_of_a_missing_contract_names_it(server: ServerInfo) -> None:
    with pytest.raises(SalesforceResourceNotFound) as missing:
        api_resource(server).update("Contract", "800Lc0000000000AAA", {"Status": "Activated"})
    assert missing.value.content[0]["errorCode"] == "NOT_FOUND"
    assert "800Lc0000000000AAA" in missing.value.url


def test_wrong_credentials_are_refused_without_echoing_them(server: ServerInfo) -> None:
    with pytest.raises(SalesforceAuthenticationFailed) as refused:
        api_resource(server, password="not-the-password").records("Contract", ["Id"])
    assert "INVALID_LOGIN" in str(refused.value)
    assert "not-the-password" not in str(refused.value)
    assert hook(server, "stats")["login_failures"] == 1


def test_plain_requests_without_the_ca_fails_tls_verification(server: ServerInfo) -> None:
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{server.url}/services/data", timeout=10)
    assert requests.get(f"{server.url}/services/data", verify=str(server.ca_pem_path), timeout=10).status_code == 200


def test_a_restarted_server_keeps_its_updates_and_its_ca(server: ServerInfo, small_firm: Path) -> None:
    resource = api_resource(server)
    target = resource.records("Contract", ["Id"])[0]["Id"]
    resource.update("Contract", target, {"ADX_Provisioned__c": True})
    ca = server.ca_pem_path.read_bytes()
    server.stop()
    with start_server(server.data_dir, small_firm / "salesforce", page_size=PAGE_SIZE) as restarted:
        assert restarted.ca_pem_path.read_bytes() == ca
        assert restarted.seeded == {"Account": 0, "Contract": 0}
        records = api_resource(restarted).records("Contract", ["Id", "ADX_Provisioned__c"])
        assert {r["Id"]: r["ADX_Provisioned__c"] for r in records}[target] is True


def test_collection_update_reports_each_record_and_a_bad_one_does_not_stop_the_others(server: ServerInfo) -> None:
    resource = api_resource(server)
    contracts = resource.records("Contract", ["Id", "SystemModstamp", "ADX_Provisioned__c"])
    ids = [c["Id"] for c in contracts]
    updates = {record_id: {"ADX_Provisioned__c": True} for record_id in ids}
    updates["800000000000000AAA"] = {"ADX_Provisioned__c": True}
    outcome = resource.update_many("Contract", updates)
    assert [outcome[i] for i in ids] == [None] * len(ids)
    assert "800000000000000AAA" in updates and outcome["800000000000000AAA"]  # the unknown one, with its error
    after = {c["Id"]: c for c in resource.records("Contract", ["Id", "SystemModstamp", "ADX_Provisioned__c"])}
    before = {c["Id"]: c["SystemModstamp"] for c in contracts}
    assert all(after[i]["ADX_Provisioned__c"] is True and after[i]["SystemModstamp"] > before[i] for i in ids)


def test_stopping_with_a_client_still_connected_logs_no_error(small_firm: Path, tmp_path: Path) -> None:
    import logging

    class Kept(logging.Handler):
        def __init__(self) -> None:
            super().__init__(logging.ERROR)
            self.messages: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.messages.append(record.getMessage())

    info = start_server(tmp_path / "salesforce", small_firm / "salesforce", page_size=PAGE_SIZE)
    errors = Kept()
    logging.getLogger("uvicorn.error").addHandler(errors)  # uvicorn's loggers do not propagate to the root
    try:
        client = raw_client(info)  # simple-salesforce keeps its HTTPS connection alive, as the demo's resource does
        assert client.query("SELECT Id FROM Account LIMIT 1")["records"]
        info.stop()
    finally:
        logging.getLogger("uvicorn.error").removeHandler(errors)
    assert errors.messages == []
