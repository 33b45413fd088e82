"""The tenant boundary: reference data owns a client's tenant and AWS account; tenant ids are validated.

Unit tests of the pieces, then hypothesis properties over the real code (``entitlements/boundary.py``,
``entitlements/reconcile.plan``, ``ProductSpec.data_set_for``, ``tenant_filters``, ``publish_by_tenant``):
over random reference data, Salesforce edits, tenant ids and contract events, no grant ever gives an AWS
account access to a data set of a tenant other than the one reference data assigns to that account's
client, and no two tenants share a data set or a view.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
import re
from types import SimpleNamespace

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesh_assets.adx.assets import publish_by_tenant
from mesh_assets.entitlements.boundary import EntitlementRow, entitlements_within_boundary
from mesh_assets.entitlements.grants import ActualGrant, Contract, grant_ends_at, parse_grant_name
from mesh_assets.entitlements.reconcile import GrantActionKind, ReconcilePlan, plan
from mesh_assets.lib.data_products.products import NAV_HISTORY, PRODUCTS, ProductSpec
from mesh_assets.lib.data_products.tenant_filters import (
    Tenant,
    TenantFilterError,
    data_cells_filter_requests,
    load_filter_spec,
    tenant_schema_name,
)
from mesh_assets.lib.data_products.tenant_list import tenant_list_verdict
from mesh_assets.lib.tenant_ids import (
    TENANT_ID_PATTERN,
    InvalidTenantId,
    TenantNameCollision,
    is_valid_tenant_id,
    validate_tenant_id,
)
from mesh_assets.warehouse.project import DBT_PROJECT_DIR
from mesh_dev.firm import identifiers

AS_OF = dt.date(2026, 11, 23)
FILTER_SPEC = load_filter_spec()


def data_sets(tenant: str) -> dict[str, str]:
    """The real naming: every product's data set for ``tenant`` (raises on an invalid id)."""
    return {name: spec.data_set_for(tenant) for name, spec in PRODUCTS.items()}


def tenant_of_data_set(data_set: str) -> str:
    """The tenant a data set belongs to, read back from its name (independent of the code under test)."""
    for spec in PRODUCTS.values():
        if data_set.startswith(spec.adx_data_set + "-tnt-"):
            return data_set.removeprefix(spec.adx_data_set + "-")
    raise AssertionError(f"{data_set} is no tenant data set")


# --- the tenant id rule ------------------------------------------------------------------------------------------

BAD_IDS = ["tnt--0001", "TNT-0001", "tnt_0001", "tnt-0001 ", " tnt-0001", "tnt-0001\n", "tnt-00001", "tnt-001",
           "tnt-٠٠٠١", "tnt-0001/x", "", None, 1]


@pytest.mark.parametrize("number", [1, 2, 42, 300, 9999])
def test_the_ids_the_firm_assigns_are_valid(number):
    assert validate_tenant_id(identifiers.tenant_id(number)) == identifiers.tenant_id(number)


@pytest.mark.parametrize("bad", BAD_IDS)
def test_every_other_form_is_rejected_naming_the_value(bad):
    with pytest.raises(InvalidTenantId, match=re.escape(f"tenant id {bad!r} is not a valid tenant id")):
        validate_tenant_id(bad, "client C-0009")
    assert not is_valid_tenant_id(bad)


def test_tnt_double_dash_0001_has_no_data_set_and_no_schema():
    with pytest.raises(InvalidTenantId, match="data product nav_history: tenant id 'tnt--0001' is not a valid"):
        NAV_HISTORY.data_set_for("tnt--0001")
    with pytest.raises(TenantFilterError, match="'tnt--0001' is not a valid tenant id"):
        tenant_schema_name("tnt--0001")


def test_dbt_encodes_the_same_rule():
    macro = (DBT_PROJECT_DIR / "macros" / "tenant_views.sql").read_text()
    [pattern] = re.findall(r"macro tenant_id_pattern\(\) -%}\s*{{ return\('([^']*)'\) }}", macro)
    assert pattern == TENANT_ID_PATTERN


class RecordingExchange:
    """Records which tenants' rows publish_by_tenant sends to which data set (read back from the Parquet file)."""

    def __init__(self) -> None:
        self.published: dict[str, set[str]] = {}

    def publish(self, data_set: str, files, comment: str):
        import pyarrow.parquet as pq

        table = pq.read_table(pa.BufferReader(files.files["nav_history.parquet"]))
        self.published.setdefault(data_set, set()).update(table["tenant_id"].to_pylist())
        return SimpleNamespace(revision_id=f"r-{len(self.published)}", content_hash=files.content_hash,
                               created=True, location=data_set)


def nav_rows(tenants: list[str]) -> pa.Table:
    n = len(tenants)
    return pa.table({
        "as_of_date": pa.array([AS_OF] * n, pa.date32()), "tenant_id": tenants,
        "client_id": [f"C-{i:04d}" for i in range(n)], "portfolio_id": [f"P-{i:04d}" for i in range(n)],
        "nav": [1.0] * n, "external_flow": [0.0] * n, "daily_return": [0.0] * n, "nav_index": [1.0] * n,
        "return_status": ["ok"] * n,
    })


def test_publication_rejects_tnt_double_dash_0001_and_publishes_nothing():
    exchange = RecordingExchange()
    with pytest.raises(InvalidTenantId, match=r"a row of gold\.product_nav_history: tenant id .tnt--0001."):
        publish_by_tenant(NAV_HISTORY, nav_rows(["tnt-0001", "tnt--0001"]), AS_OF.isoformat(), exchange)
    assert exchange.published == {}


class CollidingSpec(ProductSpec):
    """A product whose naming rule went wrong: every tenant's data set is ``<data set>-tnt-0001``."""

    def data_set_for(self, tenant_id):
        return f"{self.adx_data_set}-tnt-0001"


def test_publication_refuses_two_tenants_on_one_data_set_and_publishes_nothing():
    colliding = CollidingSpec(**{f.name: getattr(NAV_HISTORY, f.name) for f in dataclasses.fields(NAV_HISTORY)})
    exchange = RecordingExchange()
    with pytest.raises(TenantNameCollision,
                       match="tenants 'tnt-0001' and 'tnt-0002' both map to data set mesh-nav-history-tnt-0001"):
        publish_by_tenant(colliding, nav_rows(["tnt-0001", "tnt-0002"]), AS_OF.isoformat(), exchange)
    assert exchange.published == {}


def test_the_tenant_list_check_names_the_client_and_the_value():
    verdict = tenant_list_verdict([{"client_id": "C-0001", "tenant_id": "tnt-0001"},
                                   {"client_id": "C-0002", "tenant_id": "tnt--0001"}])
    assert not verdict.passed
    assert "client C-0002: tenant id 'tnt--0001' is not a valid tenant id" in verdict.description
    assert tenant_list_verdict([{"client_id": "C-0001", "tenant_id": "tnt-0001"},
                                {"client_id": "C-0002", "tenant_id": "tnt-0002"}]).passed


# --- the contradicted contract -------------------------------------------------------------------------------------


def row(contract_id: str = "800A", account_id: str = "001A", **changes) -> EntitlementRow:
    base = EntitlementRow(contract_id, account_id, "nav_history", dt.date(2026, 1, 1), dt.date(2027, 1, 1),
                          client_id="C-0001", tenant_id="tnt-0001", aws_account_id="111111111111",
                          salesforce_tenant_id="tnt-0001", salesforce_aws_account_id="111111111111")
    return dataclasses.replace(base, **changes)


def test_a_salesforce_tenant_edit_grants_nothing_on_the_other_tenant_and_names_both_values():
    bounded = entitlements_within_boundary([row(salesforce_tenant_id="tnt-0002")], data_sets, AS_OF)
    assert bounded.grants == ()
    [contradiction] = bounded.contradictions
    assert (contradiction.contract_id, contradiction.account_id, contradiction.salesforce_value,
            contradiction.reference_value) == ("800A", "001A", "tnt-0002", "tnt-0001")
    assert contradiction.reason.startswith(
        "contract 800A, account 001A (client C-0001): Salesforce Tenant_Id__c 'tnt-0002' contradicts reference "
        "data tenant_id 'tnt-0001'")
    assert bounded.held == {"800A": frozenset({("mesh-nav-history-tnt-0001", "111111111111")})}


def test_an_aws_account_edit_is_a_contradiction_too_and_a_blank_salesforce_value_is_not():
    bounded = entitlements_within_boundary([row(salesforce_aws_account_id="999999999999")], data_sets, AS_OF)
    assert bounded.grants == () and bounded.contradictions[0].field == "aws_account_id"
    assert "AWS_Account_Id__c '999999999999' contradicts reference data aws_account_id '111111111111'" in \
        bounded.contradictions[0].reason
    blank = entitlements_within_boundary([row(salesforce_tenant_id=None, salesforce_aws_account_id="")],
                                         data_sets, AS_OF)
    assert [(g.data_set, g.receiver_account) for g in blank.grants] == [("mesh-nav-history-tnt-0001",
                                                                         "111111111111")]


def test_the_plan_neither_grants_nor_revokes_on_a_held_contract():
    good = entitlements_within_boundary([row()], data_sets, AS_OF).grants[0]
    existing = ActualGrant("g-1", good.name, good.data_set, good.receiver_account, good.ends_at)
    bounded = entitlements_within_boundary([row(salesforce_tenant_id="tnt-0002")], data_sets, AS_OF)
    held = plan(bounded.grants, [existing], AS_OF, held=bounded.held)
    assert held.is_empty and held.held == (existing,)
    fresh = plan(bounded.grants, [], AS_OF, held=bounded.held)
    assert fresh.is_empty  # nothing granted on a contradicted contract


def test_a_held_grant_outside_the_reference_boundary_is_revoked():
    """Reference data moved the client to tnt-0003 while Salesforce still says tnt-0001: the old access goes."""
    old = ActualGrant("g-1", "mesh-entitlement/800A/nav_history", "mesh-nav-history-tnt-0001", "111111111111", None)
    bounded = entitlements_within_boundary([row(tenant_id="tnt-0003")], data_sets, AS_OF)
    [revoke] = plan(bounded.grants, [old], AS_OF, held=bounded.held).actions
    assert revoke.kind == GrantActionKind.REVOKE and "outside the client's tenant boundary" in revoke.reason


def test_an_account_that_is_no_client_of_reference_data_gets_nothing():
    bounded = entitlements_within_boundary([row(client_id=None, tenant_id=None, aws_account_id=None,
                                                salesforce_tenant_id=None, salesforce_aws_account_id=None)],
                                           data_sets, AS_OF)
    assert bounded.grants == () and "is no client in reference data" in bounded.unfulfilled[0].reason


# --- property: no two tenants share a data set or a view -----------------------------------------------------------

VALID_IDS = st.integers(0, 9999).map(lambda n: f"tnt-{n:04d}")
LOOKALIKES = st.from_regex(r"\A[tT][nN][tT][-_ .]{0,2}[0-9]{2,5}[ \n-]?\Z")
TENANT_IDS = st.one_of(VALID_IDS, VALID_IDS, LOOKALIKES, st.text(max_size=12))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TENANT_IDS, min_size=1, max_size=12))
def test_no_two_tenants_share_a_data_set_a_schema_or_a_filter(candidates):
    accepted = sorted({t for t in candidates if is_valid_tenant_id(t)})
    for rejected in {t for t in candidates if not is_valid_tenant_id(t)}:
        with pytest.raises(InvalidTenantId):
            NAV_HISTORY.data_set_for(rejected)
        with pytest.raises(TenantFilterError):
            tenant_schema_name(rejected)
    for spec in PRODUCTS.values():
        names = [spec.data_set_for(t) for t in accepted]
        assert len(set(names)) == len(accepted)
        assert [tenant_of_data_set(n) for n in names] == accepted
    assert len({tenant_schema_name(t) for t in accepted}) == len(accepted)
    if accepted:
        filters = [r["TableData"] for r in data_cells_filter_requests([Tenant(t) for t in accepted], "111122223333",
                                                                       FILTER_SPEC)]
        assert len({(f["TableName"], f["Name"]) for f in filters}) == len(filters)
    verdict = tenant_list_verdict([{"client_id": f"C-{i}", "tenant_id": t} for i, t in enumerate(candidates)])
    assert verdict.passed == all(is_valid_tenant_id(t) for t in candidates)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(TENANT_IDS, min_size=1, max_size=6))
def test_publication_puts_each_tenants_rows_in_its_own_data_set_or_publishes_nothing(tenants):
    exchange = RecordingExchange()
    rows = nav_rows(tenants)
    if all(is_valid_tenant_id(t) for t in tenants):
        published = publish_by_tenant(NAV_HISTORY, rows, AS_OF.isoformat(), exchange)
        assert {p["tenant"] for p in published} == set(tenants)
        assert all(owners == {tenant_of_data_set(ds)} for ds, owners in exchange.published.items())
    else:
        with pytest.raises(InvalidTenantId):
            publish_by_tenant(NAV_HISTORY, rows, AS_OF.isoformat(), exchange)
        assert exchange.published == {}


# --- property: a grant never crosses the tenant boundary ----------------------------------------------------------


@dataclasses.dataclass
class World:
    """Reference clients, Salesforce accounts and contracts, and the grants in an in-memory exchange."""

    clients: dict[str, dict]  # client_id -> {tenant_id, aws_account_id, salesforce_account_id}
    accounts: dict[str, dict]  # Salesforce account id -> {tenant_id, aws_account_id}
    contracts: dict[str, Contract]
    grants: dict[str, ActualGrant]
    today: dt.date
    ids: itertools.count

    def gold_rows(self) -> list[EntitlementRow]:
        """``gold.client_entitlements`` as dbt builds it: active contracts, reference values beside Salesforce's."""
        client_of = {c["salesforce_account_id"]: (cid, c) for cid, c in self.clients.items()}
        rows = []
        for contract in self.contracts.values():
            if contract.status != "Activated" or contract.start_date > self.today or (
                    contract.end_date is not None and contract.end_date < self.today):
                continue
            account = self.accounts[contract.account_id]
            client_id, client = client_of.get(contract.account_id, (None, {}))
            rows.append(EntitlementRow(
                contract.contract_id, contract.account_id, contract.data_product, contract.start_date,
                contract.end_date, client_id, client.get("tenant_id"), client.get("aws_account_id"),
                account["tenant_id"], account["aws_account_id"]))
        return rows

    def client_of_account(self, account_id: str) -> dict | None:
        """The reference client whose Salesforce account is ``account_id``."""
        return next((c for c in self.clients.values() if c["salesforce_account_id"] == account_id), None)

    def apply(self, the_plan: ReconcilePlan) -> None:
        for action in the_plan.actions:
            if action.kind in (GrantActionKind.REVOKE, GrantActionKind.REPLACE):
                del self.grants[action.grant_id]
            if action.kind in (GrantActionKind.CREATE, GrantActionKind.REPLACE):
                grant = ActualGrant(f"g-{next(self.ids):05d}", action.name, action.data_set, action.receiver_account,
                                    action.ends_at)
                self.grants[grant.grant_id] = grant


ACCOUNT_IDS = ["001A", "001B", "001C", "001D"]  # 001D is no client of reference data
AWS_IDS = ["111111111111", "222222222222", "333333333333", "444444444444"]
CONTRACT_IDS = [f"80000000{i}" for i in range(6)]
SALESFORCE_TENANTS = st.one_of(st.none(), st.just(""), VALID_IDS, st.sampled_from(["tnt--0001", "TNT-0001"]))
SALESFORCE_AWS = st.one_of(st.none(), st.sampled_from(AWS_IDS), st.just("not-an-id"))

REFERENCE = st.lists(
    st.tuples(st.one_of(st.sampled_from(["tnt-0001", "tnt-0002", "tnt-0003"]), st.just("tnt--0001"))),
    min_size=3, max_size=3,
)
EVENTS = st.one_of(
    st.tuples(st.just("create"), st.sampled_from(CONTRACT_IDS), st.sampled_from(ACCOUNT_IDS),
              st.sampled_from(sorted(PRODUCTS)), st.integers(-30, 5), st.one_of(st.none(), st.integers(0, 90))),
    st.tuples(st.just("terminate"), st.sampled_from(CONTRACT_IDS)),
    st.tuples(st.just("expire"), st.sampled_from(CONTRACT_IDS)),
    st.tuples(st.just("reactivate"), st.sampled_from(CONTRACT_IDS)),
    st.tuples(st.just("move_contract"), st.sampled_from(CONTRACT_IDS), st.sampled_from(ACCOUNT_IDS)),
    st.tuples(st.just("salesforce_tenant"), st.sampled_from(ACCOUNT_IDS), SALESFORCE_TENANTS),
    st.tuples(st.just("salesforce_aws"), st.sampled_from(ACCOUNT_IDS), SALESFORCE_AWS),
    st.tuples(st.just("reference_tenant"), st.integers(0, 2), st.sampled_from(["tnt-0001", "tnt-0002", "tnt-0004"])),
    st.tuples(st.just("time_passes"), st.integers(1, 40)),
)


def _event(world: World, event: tuple) -> None:
    kind, *args = event
    if kind == "create":
        cid, account, product, start, length = args
        start_date = world.today + dt.timedelta(days=start)
        end_date = None if length is None else start_date + dt.timedelta(days=length)
        world.contracts[cid] = Contract(cid, account, product, "Activated", start_date, end_date)
    elif kind == "salesforce_tenant":
        world.accounts[args[0]]["tenant_id"] = args[1]
    elif kind == "salesforce_aws":
        world.accounts[args[0]]["aws_account_id"] = args[1]
    elif kind == "reference_tenant":
        world.clients[f"C-000{args[0] + 1}"]["tenant_id"] = args[1]
    elif kind == "time_passes":
        world.today += dt.timedelta(days=args[0])
    elif args[0] in world.contracts:
        change = {"terminate": {"status": "Terminated"}, "expire": {"status": "Expired"},
                  "reactivate": {"status": "Activated"}, "move_contract": {"account_id": args[-1]}}[kind]
        world.contracts[args[0]] = dataclasses.replace(world.contracts[args[0]], **change)


def _assert_no_grant_crosses_the_boundary(world: World) -> None:
    """Every live grant: its receiver is a client's registered AWS account, on a data set of that client's
    reference tenant (restated from the world, not from the code under test)."""
    owner = {c["aws_account_id"]: c for c in world.clients.values()}
    for grant in world.grants.values():
        client = owner.get(grant.receiver_account)
        assert client is not None, f"{grant} goes to an AWS account no client has registered"
        assert is_valid_tenant_id(client["tenant_id"]), f"{grant}: its client has no valid tenant"
        assert tenant_of_data_set(grant.data_set) == client["tenant_id"], (grant, client)
        contract = world.contracts[parse_grant_name(grant.name)[0]]
        assert world.client_of_account(contract.account_id) is client, (grant, contract)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(REFERENCE, st.lists(EVENTS, min_size=1, max_size=40))
def test_no_grant_ever_gives_an_account_a_data_set_of_another_tenant(reference, events):
    clients = {f"C-000{i + 1}": {"tenant_id": tenant, "aws_account_id": AWS_IDS[i],
                                 "salesforce_account_id": ACCOUNT_IDS[i]} for i, (tenant,) in enumerate(reference)}
    accounts = {a: {"tenant_id": None, "aws_account_id": None} for a in ACCOUNT_IDS}
    for client in clients.values():  # Salesforce starts out agreeing with reference data
        accounts[client["salesforce_account_id"]] = {"tenant_id": client["tenant_id"],
                                                     "aws_account_id": client["aws_account_id"]}
    accounts["001D"] = {"tenant_id": "tnt-0001", "aws_account_id": AWS_IDS[3]}  # a CRM account of no client
    world = World(clients, accounts, {}, {}, dt.date(2026, 1, 5), itertools.count(1))
    for event in events:
        _event(world, event)
        bounded = entitlements_within_boundary(world.gold_rows(), data_sets, world.today)
        before = dict(world.grants)
        the_plan = plan(bounded.grants, list(world.grants.values()), world.today, world.contracts.values(),
                        bounded.unfulfilled, bounded.held)
        touched = {a.contract_id for a in the_plan.actions
                   if a.kind != GrantActionKind.REVOKE or "outside the client's tenant boundary" not in a.reason}
        assert not touched & set(bounded.held), "the reconcile granted or changed a contradicted contract"
        world.apply(the_plan)
        _assert_no_grant_crosses_the_boundary(world)
        for grant_id, grant in before.items():  # a held grant inside the boundary is kept as it was
            if parse_grant_name(grant.name)[0] in bounded.held and \
                    (grant.data_set, grant.receiver_account) in bounded.held[parse_grant_name(grant.name)[0]]:
                assert world.grants.get(grant_id) == grant
        for grant in world.grants.values():
            assert grant.ends_at is None or grant.ends_at == grant_ends_at(
                world.contracts[parse_grant_name(grant.name)[0]].end_date)
