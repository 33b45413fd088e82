"""Entitlement reconciliation: desired grants from active contracts, the plan, and its invariants."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mesh_assets.entitlements.grants import (
    ActualGrant,
    ClientAccount,
    Contract,
    DesiredGrant,
    desired_grants,
    grant_ends_at,
    grant_name,
    last_day_of_access,
    parse_grant_name,
    resolve_entitlements,
)
from mesh_assets.entitlements.reconcile import GrantActionKind, ReconcilePlan, plan

PRODUCTS = {"nav_history": "mesh-nav-history", "prices": "mesh-prices", "esg": "mesh-exposure-analytics"}
AS_OF = dt.date(2026, 11, 23)
ACCOUNTS = [
    ClientAccount("001A", "111111111111", "Westbrook Endowment"),
    ClientAccount("001B", "222222222222", "Granite Foundation"),
    ClientAccount("001C", None, "Harbor Trust"),
]


def _contract(cid: str = "800000123", **changes: object) -> Contract:
    base = Contract(cid, "001A", "nav_history", "Activated", dt.date(2026, 1, 1), dt.date(2026, 12, 31))
    return dataclasses.replace(base, **changes)


def _grant(grant_id: str, want: DesiredGrant, **changes: object) -> ActualGrant:
    base = ActualGrant(grant_id, want.name, want.data_set, want.receiver_account, want.ends_at)
    return dataclasses.replace(base, **changes)


class GrantStore:
    """An in-memory exchange: applies a plan's actions the way the ADX applier does."""

    def __init__(self) -> None:
        self.grants: dict[str, ActualGrant] = {}
        self._ids = itertools.count(1)

    def add(self, name: str, data_set: str, receiver: str, ends_at: dt.datetime | None) -> ActualGrant:
        grant = ActualGrant(f"g-{next(self._ids):04d}", name, data_set, receiver, ends_at)
        self.grants[grant.grant_id] = grant
        return grant

    def apply(self, reconcile: ReconcilePlan) -> None:
        for action in reconcile.actions:
            if action.kind in (GrantActionKind.REVOKE, GrantActionKind.REPLACE):
                del self.grants[action.grant_id]
            if action.kind in (GrantActionKind.CREATE, GrantActionKind.REPLACE):
                self.add(action.name, action.data_set, action.receiver_account, action.ends_at)


# --- names and dates -------------------------------------------------------------------------------------------


def test_grant_name_encodes_the_contract_and_product() -> None:
    name = grant_name("800Dn0000SidYH5IQM", "nav_history")
    assert parse_grant_name(name) == ("800Dn0000SidYH5IQM", "nav_history")
    assert parse_grant_name("granted by hand to our auditor") is None
    assert parse_grant_name(name + "-copy") is None


def test_grant_name_refuses_ids_it_could_not_parse_back() -> None:
    with pytest.raises(ValueError, match="contract '800/1'"):
        grant_name("800/1", "nav_history")


def test_grant_ends_after_the_whole_end_date() -> None:
    ends_at = grant_ends_at(dt.date(2026, 10, 31))
    assert ends_at == dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    assert last_day_of_access(ends_at) == dt.date(2026, 10, 31)
    assert grant_ends_at(None) is None


# --- desired grants --------------------------------------------------------------------------------------------


def test_active_means_activated_and_within_the_term_end_inclusive() -> None:
    contracts = [
        _contract("800000001"),
        _contract("800000002", status="Draft"),
        _contract("800000003", status="Terminated"),
        _contract("800000004", start_date=AS_OF + dt.timedelta(days=1)),
        _contract("800000005", end_date=AS_OF - dt.timedelta(days=1)),
        _contract("800000006", start_date=AS_OF, end_date=AS_OF),
        _contract("800000007", end_date=None),
    ]
    grants = desired_grants(contracts, ACCOUNTS, PRODUCTS, AS_OF)
    assert [g.contract_id for g in grants] == ["800000001", "800000006", "800000007"]
    assert grants[0] == DesiredGrant(
        "800000001", "nav_history", "mesh-nav-history", "111111111111", dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    )
    assert grants[2].ends_at is None


def test_contracts_that_cannot_be_granted_are_reported() -> None:
    contracts = [
        _contract("800000001", account_id="001C"),
        _contract("800000002", data_product="tick_data"),
        _contract("800000003", account_id="001Z"),
        _contract("800000004", account_id="001B"),
    ]
    resolved = resolve_entitlements(contracts, {a.account_id: a for a in ACCOUNTS}, PRODUCTS, AS_OF)
    assert [g.contract_id for g in resolved.grants] == ["800000004"]
    assert {u.contract_id: u.reason for u in resolved.unfulfilled} == {
        "800000001": "contract 800000001: account 001C has no AWS account id",
        "800000002": "contract 800000002: data product 'tick_data' is not published",
        "800000003": "contract 800000003: account 001Z is unknown",
    }


# --- the plan --------------------------------------------------------------------------------------------------


def test_missing_grant_is_created_with_the_contract_end() -> None:
    want = desired_grants([_contract()], ACCOUNTS, PRODUCTS, AS_OF)
    result = plan(want, [], AS_OF)
    [action] = result.actions
    assert action.kind == GrantActionKind.CREATE
    assert (action.contract_id, action.data_set, action.receiver_account) == (
        "800000123",
        "mesh-nav-history",
        "111111111111",
    )
    assert action.ends_at == dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    assert action.grant_id is None
    assert action.name == grant_name("800000123", "nav_history")
    assert "contract 800000123 active through 2026-12-31" in action.reason


def test_terminated_and_ended_contracts_are_revoked_with_the_reason() -> None:
    terminated = _contract("800000123", status="Terminated")
    ended = _contract("800000124", end_date=dt.date(2026, 10, 31))
    old = desired_grants(
        [_contract("800000123"), _contract("800000124", end_date=dt.date(2026, 10, 31))],
        ACCOUNTS,
        PRODUCTS,
        dt.date(2026, 6, 1),
    )
    actual = [_grant("g-1", old[0]), _grant("g-2", old[1])]
    contracts = [terminated, ended]
    result = plan(desired_grants(contracts, ACCOUNTS, PRODUCTS, AS_OF), actual, AS_OF, contracts)
    assert [(a.kind, a.grant_id, a.reason) for a in result.actions] == [
        (GrantActionKind.REVOKE, "g-1", "contract 800000123 Terminated"),
        (GrantActionKind.REVOKE, "g-2", "contract 800000124 ended 2026-10-31"),
    ]


def test_grant_without_any_contract_is_revoked() -> None:
    name = grant_name("800000999", "prices")
    result = plan([], [ActualGrant("g-9", name, "mesh-prices", "111111111111", None)], AS_OF)
    [action] = result.actions
    assert action.kind == GrantActionKind.REVOKE
    assert action.reason == f"no active contract for grant {name}"


def test_amended_end_date_replaces_the_grant() -> None:
    before = desired_grants([_contract()], ACCOUNTS, PRODUCTS, AS_OF)[0]
    after = desired_grants([_contract(end_date=dt.date(2027, 6, 30))], ACCOUNTS, PRODUCTS, AS_OF)
    result = plan(after, [_grant("g-1", before)], AS_OF)
    [action] = result.actions
    assert action.kind == GrantActionKind.REPLACE
    assert action.grant_id == "g-1"
    assert action.ends_at == dt.datetime(2027, 7, 1, tzinfo=dt.UTC)
    assert action.reason == "end date amended 2026-12-31 -> 2027-06-30"


def test_receiver_change_replaces_the_grant() -> None:
    before = desired_grants([_contract()], ACCOUNTS, PRODUCTS, AS_OF)[0]
    after = desired_grants([_contract(account_id="001B")], ACCOUNTS, PRODUCTS, AS_OF)
    [action] = plan(after, [_grant("g-1", before)], AS_OF).actions
    assert action.kind == GrantActionKind.REPLACE
    assert action.reason == "receiver account changed 111111111111 -> 222222222222"


def test_product_change_revokes_the_old_product_and_grants_the_new() -> None:
    before = desired_grants([_contract()], ACCOUNTS, PRODUCTS, AS_OF)[0]
    amended = _contract(data_product="prices")
    result = plan(desired_grants([amended], ACCOUNTS, PRODUCTS, AS_OF), [_grant("g-1", before)], AS_OF, [amended])
    assert [(a.kind, a.data_product, a.reason) for a in result.actions] == [
        (GrantActionKind.REVOKE, "nav_history", "contract 800000123 now covers prices, not nav_history"),
        (GrantActionKind.CREATE, "prices", "contract 800000123 active through 2026-12-31, no grant yet"),
    ]


def test_account_losing_its_aws_account_revokes_with_that_reason() -> None:
    before = desired_grants([_contract()], ACCOUNTS, PRODUCTS, AS_OF)[0]
    accounts = [ClientAccount("001A", None)]
    resolved = resolve_entitlements([_contract()], accounts, PRODUCTS, AS_OF)
    result = plan(resolved.grants, [_grant("g-1", before)], AS_OF, [_contract()], resolved.unfulfilled)
    [action] = result.actions
    assert action.reason == "contract 800000123: account 001A has no AWS account id"
    assert result.summary()["unfulfilled_contracts"] == [{"contract_id": "800000123", "reason": action.reason}]


def test_foreign_grants_are_reported_never_touched() -> None:
    foreign = ActualGrant("g-7", "auditor read access", "mesh-prices", "999999999999", None)
    result = plan([], [foreign], AS_OF)
    assert result.is_empty
    assert result.foreign == (foreign,)
    assert result.summary()["foreign_grants"] == [{"grant_id": "g-7", "name": "auditor read access"}]


def test_duplicates_are_collapsed_keeping_the_one_already_right() -> None:
    want = desired_grants([_contract()], ACCOUNTS, PRODUCTS, AS_OF)
    stale = _grant("g-1", want[0], ends_at=None)
    right = _grant("g-2", want[0])
    copy = _grant("g-3", want[0])
    result = plan(want, [copy, stale, right], AS_OF)
    assert [(a.kind, a.grant_id) for a in result.actions] == [
        (GrantActionKind.REVOKE, "g-1"),
        (GrantActionKind.REVOKE, "g-3"),
    ]
    assert all(a.reason.startswith("duplicate of grant g-2") for a in result.actions)
    assert result.unchanged == (right,)


def test_duplicates_none_right_replace_the_lowest_and_revoke_the_rest() -> None:
    want = desired_grants([_contract()], ACCOUNTS, PRODUCTS, AS_OF)
    result = plan(want, [_grant("g-2", want[0], ends_at=None), _grant("g-1", want[0], ends_at=None)], AS_OF)
    assert [(a.kind, a.grant_id) for a in result.actions] == [
        (GrantActionKind.REVOKE, "g-2"),
        (GrantActionKind.REPLACE, "g-1"),
    ]


def test_plan_orders_revokes_then_replaces_then_creates_and_is_idempotent() -> None:
    contracts = [
        _contract("800000001"),
        _contract("800000002", end_date=dt.date(2027, 3, 31)),
        _contract("800000003", status="Terminated"),
    ]
    old = desired_grants([_contract("800000002"), _contract("800000003")], ACCOUNTS, PRODUCTS, AS_OF)
    store = GrantStore()
    for grant in old:
        store.add(grant.name, grant.data_set, grant.receiver_account, grant.ends_at)
    store.add("set up by hand", "mesh-prices", "999999999999", None)
    want = desired_grants(contracts, ACCOUNTS, PRODUCTS, AS_OF)
    first = plan(want, store.grants.values(), AS_OF, contracts)
    assert [a.kind for a in first.actions] == [GrantActionKind.REVOKE, GrantActionKind.REPLACE, GrantActionKind.CREATE]
    store.apply(first)
    again = plan(want, store.grants.values(), AS_OF, contracts)
    assert again.is_empty
    assert len(again.unchanged) == 2 and len(again.foreign) == 1


def test_desired_grant_already_past_its_end_is_not_created() -> None:
    want = desired_grants([_contract()], ACCOUNTS, PRODUCTS, dt.date(2026, 6, 1))
    assert plan(want, [], dt.date(2027, 1, 1)).is_empty


def test_naive_and_other_timezone_end_times_compare_as_utc() -> None:
    want = desired_grants([_contract()], ACCOUNTS, PRODUCTS, AS_OF)
    naive = _grant("g-1", want[0], ends_at=dt.datetime(2027, 1, 1))
    paris = _grant("g-2", want[0], ends_at=dt.datetime(2027, 1, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=1))))
    assert plan(want, [naive], AS_OF).is_empty
    assert plan(want, [paris], AS_OF).is_empty


# --- property: the grants always follow the contracts ----------------------------------------------------------

CONTRACT_IDS = [f"80000000{i}" for i in range(1, 6)]
ACCOUNT_IDS = ["001A", "001B", "001C"]
AWS_IDS = ["111111111111", "222222222222", None]
START = dt.date(2026, 1, 1)

_term = st.tuples(st.integers(-20, 10), st.one_of(st.none(), st.integers(0, 60)))
CREATE = st.tuples(
    st.just("create"),
    st.sampled_from(CONTRACT_IDS),
    st.sampled_from(["Draft", "Activated", "Activated"]),
    st.sampled_from(ACCOUNT_IDS),
    st.sampled_from(sorted(PRODUCTS)),
    _term,
)
EVENTS = st.one_of(
    CREATE,
    st.tuples(st.just("activate"), st.sampled_from(CONTRACT_IDS)),
    st.tuples(st.just("amend_dates"), st.sampled_from(CONTRACT_IDS), _term),
    st.tuples(st.just("amend_end"), st.sampled_from(CONTRACT_IDS), st.one_of(st.none(), st.integers(-5, 60))),
    st.tuples(st.just("amend_product"), st.sampled_from(CONTRACT_IDS), st.sampled_from(sorted(PRODUCTS))),
    st.tuples(st.just("amend_account"), st.sampled_from(CONTRACT_IDS), st.sampled_from(ACCOUNT_IDS)),
    st.tuples(st.just("terminate"), st.sampled_from(CONTRACT_IDS)),
    st.tuples(st.just("expire"), st.sampled_from(CONTRACT_IDS)),
    st.tuples(st.just("time_passes"), st.integers(1, 30)),
    st.tuples(st.just("aws_account"), st.sampled_from(ACCOUNT_IDS), st.sampled_from(AWS_IDS)),
    st.tuples(st.just("retried_create"), st.integers(0, 10)),
    st.tuples(st.just("foreign_grant"), st.sampled_from(AWS_IDS[:2])),
)


def _dates(today: dt.date, term: tuple[int, int | None]) -> dict[str, dt.date | None]:
    start = today + dt.timedelta(days=term[0])
    return {"start_date": start, "end_date": None if term[1] is None else start + dt.timedelta(days=term[1])}


def _step(
    event: tuple, today: dt.date, contracts: dict[str, Contract], accounts: dict[str, ClientAccount], store: GrantStore
) -> dt.date:
    kind, *args = event
    if kind == "time_passes":
        return today + dt.timedelta(days=args[0])
    if kind == "create":
        cid, status, account, product, term = args
        contracts[cid] = Contract(cid, account, product, status, **_dates(today, term))
    elif kind == "aws_account":
        accounts[args[0]] = dataclasses.replace(accounts[args[0]], aws_account_id=args[1])
    elif kind == "retried_create":
        ours = sorted((g for g in store.grants.values() if parse_grant_name(g.name)), key=lambda g: g.grant_id)
        if ours:
            g = ours[args[0] % len(ours)]
            store.add(g.name, g.data_set, g.receiver_account, g.ends_at)
    elif kind == "foreign_grant":
        store.add("shared by hand", "mesh-prices", args[0], None)
    elif args[0] in contracts:
        cid = args[0]
        changes: dict[str, object] = {
            "amend_dates": lambda: _dates(today, args[1]),
            "amend_end": lambda: {"end_date": None if args[1] is None else today + dt.timedelta(days=args[1])},
            "amend_product": lambda: {"data_product": args[1]},
            "amend_account": lambda: {"account_id": args[1]},
            "terminate": lambda: {"status": "Terminated"},
            "expire": lambda: {"status": "Expired"},
            "activate": lambda: {"status": "Activated"},
        }[kind]()
        contracts[cid] = dataclasses.replace(contracts[cid], **changes)
    return today


def _active(contract: Contract, today: dt.date) -> bool:
    """The rule, restated independently of the code under test."""
    return (
        contract.status == "Activated"
        and contract.start_date is not None
        and contract.start_date <= today
        and (contract.end_date is None or today <= contract.end_date)
    )


def _assert_every_grant_has_an_active_contract(
    store: GrantStore, contracts: dict[str, Contract], accounts: dict[str, ClientAccount], today: dt.date
) -> None:
    for grant in store.grants.values():
        parsed = parse_grant_name(grant.name)
        if parsed is None:
            continue
        contract = contracts.get(parsed[0])
        assert contract is not None and _active(contract, today), (grant, contract, today)
        assert contract.data_product == parsed[1]
        assert grant.receiver_account == accounts[contract.account_id].aws_account_id
        assert grant.data_set == PRODUCTS[contract.data_product]
        assert grant.ends_at == grant_ends_at(contract.end_date)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(CREATE, min_size=1, max_size=5), st.lists(EVENTS, min_size=1, max_size=40))
def test_grants_always_follow_the_active_contracts(opening: list[tuple], events: list[tuple]) -> None:
    contracts: dict[str, Contract] = {}
    accounts = {a.account_id: a for a in ACCOUNTS}
    store = GrantStore()
    today = START
    for event in opening + events:
        today = _step(event, today, contracts, accounts, store)
        foreign_before = {g for g in store.grants.values() if parse_grant_name(g.name) is None}
        resolved = resolve_entitlements(contracts.values(), accounts, PRODUCTS, today)
        reconcile = plan(resolved.grants, list(store.grants.values()), today, contracts.values(), resolved.unfulfilled)
        assert all(
            a.kind != GrantActionKind.CREATE or _active(contracts[a.contract_id], today) for a in reconcile.actions
        )
        store.apply(reconcile)
        _assert_every_grant_has_an_active_contract(store, contracts, accounts, today)
        assert {g for g in store.grants.values() if parse_grant_name(g.name) is None} == foreign_before
        assert plan(resolved.grants, list(store.grants.values()), today, contracts.values()).is_empty
    ours = {
        (g.name, g.data_set, g.receiver_account, g.ends_at) for g in store.grants.values() if parse_grant_name(g.name)
    }
    expected = {
        (grant_name(c.contract_id, c.data_product), PRODUCTS[c.data_product], aws, grant_ends_at(c.end_date))
        for c in contracts.values()
        if _active(c, today) and (aws := accounts[c.account_id].aws_account_id)
    }
    assert ours == expected
    assert len(ours) == sum(1 for g in store.grants.values() if parse_grant_name(g.name))
