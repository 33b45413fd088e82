"""Entitlements as a reconciliation: the ADX data grants that should exist against those that do.

Desired grants come from active Salesforce contracts (status ``Activated``, as-of date within the
term, end date inclusive, no end date = open) × the data product each buys × the client's AWS
account. Actual grants are listed from AWS Data Exchange. :func:`plan` returns the difference as
ordered actions (revokes first, then replacements, then creations), each with a reason in words.

A grant we create is named after its contract (:func:`grant_name`), so every actual grant can be
traced back to the contract that justifies it; grants with other names (made by hand or by another
system) are foreign: reported, never touched. A grant expires on its own at the end of the contract's
end date (``EndsAt`` = the next midnight UTC) and is revoked by the next reconcile after it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Protocol

from mesh_assets.lib.user_errors import UserError

ACTIVE_STATUS = "Activated"
GRANT_NAME_PREFIX = "mesh-entitlement"
_GRANT_NAME = re.compile(rf"^{GRANT_NAME_PREFIX}/(?P<contract_id>[A-Za-z0-9]+)/(?P<data_product>[a-z][a-z0-9_]*)$")
_AWS_ACCOUNT_ID = re.compile(r"^\d{12}$")


# --- inputs ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Contract:
    """A Salesforce contract as the reconciler sees it (current version)."""

    contract_id: str
    account_id: str
    data_product: str
    status: str
    start_date: date | None
    end_date: date | None
    contract_number: str | None = None

    def is_active(self, as_of: date) -> bool:
        """Activated and ``start_date <= as_of <= end_date`` (no end date: open-ended)."""
        return self.inactive_reason(as_of) is None

    def inactive_reason(self, as_of: date) -> str | None:
        """Why the contract gives no access on ``as_of``, in words; ``None`` when it is active."""
        if self.status != ACTIVE_STATUS:
            return f"contract {self.contract_id} {self.status}"
        if self.start_date is None:
            return f"contract {self.contract_id} has no start date"
        if self.start_date > as_of:
            return f"contract {self.contract_id} starts {self.start_date.isoformat()}"
        if self.end_date is not None and self.end_date < as_of:
            return f"contract {self.contract_id} ended {self.end_date.isoformat()}"
        return None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Contract:
        """From a ``silver.contracts`` row (``contract_id, account_id, data_product, status, start_date, end_date``)."""
        return cls(
            contract_id=str(row["contract_id"]),
            account_id=str(row["account_id"]),
            data_product=str(row["data_product"]),
            status=str(row["status"]),
            start_date=row.get("start_date"),
            end_date=row.get("end_date"),
            contract_number=row.get("contract_number"),
        )


@dataclass(frozen=True)
class ClientAccount:
    """A Salesforce account and the AWS account that receives its grants (``None`` when not known yet)."""

    account_id: str
    aws_account_id: str | None
    account_name: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ClientAccount:
        """From a ``silver.accounts`` row (``account_id, aws_account_id, account_name``)."""
        aws = row.get("aws_account_id")
        return cls(str(row["account_id"]), str(aws) if aws not in (None, "") else None, row.get("account_name"))


# --- grants ------------------------------------------------------------------------------------------------------


def is_aws_account_id(value: object) -> bool:
    """Whether ``value`` is a 12-digit AWS account id."""
    return isinstance(value, str) and bool(_AWS_ACCOUNT_ID.fullmatch(value))


def grant_name(contract_id: str, data_product: str) -> str:
    """The deterministic ADX grant name of ``contract_id``'s grant to ``data_product``."""
    name = f"{GRANT_NAME_PREFIX}/{contract_id}/{data_product}"
    if not _GRANT_NAME.match(name):
        raise UserError(
            f"contract {contract_id!r}, data product {data_product!r}: cannot name a grant "
            "(contract id must be alphanumeric, data product lower-case letters, digits and _)"
        )
    return name


def parse_grant_name(name: str) -> tuple[str, str] | None:
    """``(contract_id, data_product)`` encoded in a grant name, or ``None`` for a grant we did not name."""
    match = _GRANT_NAME.match(name)
    return (match["contract_id"], match["data_product"]) if match else None


def grant_ends_at(end_date: date | None) -> datetime | None:
    """``EndsAt`` of a grant for a contract ending on ``end_date`` (inclusive): the next midnight, UTC."""
    if end_date is None:
        return None
    return datetime.combine(end_date + timedelta(days=1), time(0), tzinfo=UTC)


def last_day_of_access(ends_at: datetime | None) -> date | None:
    """The last day a grant ending at ``ends_at`` covers (inverse of :func:`grant_ends_at`)."""
    if ends_at is None:
        return None
    return (_utc(ends_at) - timedelta(microseconds=1)).date()


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _same_end(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    return _utc(a) == _utc(b)


def _day(ends_at: datetime | None) -> str:
    end = last_day_of_access(ends_at)
    return end.isoformat() if end else "open"


@dataclass(frozen=True)
class DesiredGrant:
    """A grant an active contract entitles its client to."""

    contract_id: str
    data_product: str
    data_set: str
    receiver_account: str
    ends_at: datetime | None

    @property
    def name(self) -> str:
        """The grant's ADX name."""
        return grant_name(self.contract_id, self.data_product)


@dataclass(frozen=True)
class ActualGrant:
    """A data grant as listed by ADX (``data_set`` is its source data set)."""

    grant_id: str
    name: str
    data_set: str
    receiver_account: str
    ends_at: datetime | None


class ListedGrant(Protocol):
    """What :func:`plan` reads of an actual grant (``ActualGrant``, or the exchange's ``DataGrant``)."""

    @property
    def grant_id(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def data_set(self) -> str: ...
    @property
    def receiver_account(self) -> str: ...
    @property
    def ends_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class UnfulfilledContract:
    """An active contract that yields no grant, and why (no AWS account id, unknown data product...)."""

    contract_id: str
    account_id: str
    data_product: str
    reason: str


@dataclass(frozen=True)
class Entitlements:
    """Desired grants of the active contracts, and the active contracts that cannot be granted."""

    grants: tuple[DesiredGrant, ...]
    unfulfilled: tuple[UnfulfilledContract, ...]


def resolve_entitlements(
    contracts: Iterable[Contract],
    accounts: Iterable[ClientAccount] | Mapping[str, ClientAccount],
    products: Mapping[str, str],
    as_of: date,
) -> Entitlements:
    """Desired grants as of ``as_of``; ``products`` maps each data product to its ADX data set."""
    by_account = dict(accounts) if isinstance(accounts, Mapping) else {a.account_id: a for a in accounts}
    grants: dict[tuple[str, str], DesiredGrant] = {}
    unfulfilled: list[UnfulfilledContract] = []
    for contract in sorted(contracts, key=lambda c: c.contract_id):
        if not contract.is_active(as_of):
            continue
        account = by_account.get(contract.account_id)
        reason = None
        if contract.data_product not in products:
            reason = f"contract {contract.contract_id}: data product {contract.data_product!r} is not published"
        elif account is None:
            reason = f"contract {contract.contract_id}: account {contract.account_id} is unknown"
        elif not account.aws_account_id:
            reason = f"contract {contract.contract_id}: account {contract.account_id} has no AWS account id"
        elif not _AWS_ACCOUNT_ID.match(account.aws_account_id):
            reason = f"contract {contract.contract_id}: account {contract.account_id} has an invalid AWS account id"
        if reason is not None:
            unfulfilled.append(
                UnfulfilledContract(contract.contract_id, contract.account_id, contract.data_product, reason)
            )
            continue
        assert account is not None and account.aws_account_id is not None
        key = (contract.contract_id, contract.data_product)
        if key in grants:
            raise UserError(f"contract {contract.contract_id} appears twice in the contracts to reconcile")
        grants[key] = DesiredGrant(
            contract_id=contract.contract_id,
            data_product=contract.data_product,
            data_set=products[contract.data_product],
            receiver_account=account.aws_account_id,
            ends_at=grant_ends_at(contract.end_date),
        )
    return Entitlements(tuple(grants.values()), tuple(unfulfilled))


def desired_grants(
    contracts: Iterable[Contract],
    accounts: Iterable[ClientAccount] | Mapping[str, ClientAccount],
    products: Mapping[str, str],
    as_of: date,
) -> list[DesiredGrant]:
    """The grants active contracts entitle their clients to on ``as_of`` (see :func:`resolve_entitlements`)."""
    return list(resolve_entitlements(contracts, accounts, products, as_of).grants)


# --- the plan ----------------------------------------------------------------------------------------------------


class GrantActionKind(StrEnum):
    """What to do with a grant: create it, revoke it, or replace it (revoke the old, create the new)."""

    CREATE = "create"
    REVOKE = "revoke"
    REPLACE = "replace"


@dataclass(frozen=True)
class GrantAction:
    """One step of a plan. ``grant_id`` is the grant revoked (revoke, replace); ``ends_at`` that of the grant
    created (create, replace) or revoked (revoke)."""

    kind: GrantActionKind
    contract_id: str
    data_product: str
    data_set: str
    receiver_account: str
    grant_id: str | None
    reason: str
    ends_at: datetime | None = None

    @property
    def grant_name(self) -> str:
        """The name of the grant this action creates or revokes."""
        return grant_name(self.contract_id, self.data_product)

    @property
    def name(self) -> str:
        """Same as :attr:`grant_name` (the ``Name`` of the ADX grant)."""
        return self.grant_name

    def as_metadata(self) -> dict[str, Any]:
        """Plain-dict form for logs and check metadata."""
        return {
            "kind": str(self.kind),
            "contract_id": self.contract_id,
            "data_product": self.data_product,
            "data_set": self.data_set,
            "receiver_account": self.receiver_account,
            "grant_id": self.grant_id,
            "ends_on": _day(self.ends_at),
            "reason": self.reason,
        }


@dataclass(frozen=True)
class ReconcilePlan:
    """Ordered actions, the grants already right, the foreign grants left alone, the unfulfilled contracts,
    and the grants of held (contradicted) contracts, neither revoked nor replaced."""

    as_of: date
    actions: tuple[GrantAction, ...]
    unchanged: tuple[ListedGrant, ...] = ()
    foreign: tuple[ListedGrant, ...] = ()
    unfulfilled: tuple[UnfulfilledContract, ...] = ()
    held: tuple[ListedGrant, ...] = ()

    @property
    def is_empty(self) -> bool:
        """Nothing to apply."""
        return not self.actions

    def of_kind(self, kind: GrantActionKind) -> tuple[GrantAction, ...]:
        """The actions of one kind, in plan order."""
        return tuple(a for a in self.actions if a.kind == kind)

    def summary(self) -> dict[str, Any]:
        """Counts and actions, for logs and metadata."""
        return {
            "as_of": self.as_of.isoformat(),
            "creates": len(self.of_kind(GrantActionKind.CREATE)),
            "revokes": len(self.of_kind(GrantActionKind.REVOKE)),
            "replaces": len(self.of_kind(GrantActionKind.REPLACE)),
            "unchanged": len(self.unchanged),
            "held": len(self.held),
            "foreign_grants": [{"grant_id": g.grant_id, "name": g.name} for g in self.foreign],
            "unfulfilled_contracts": [{"contract_id": u.contract_id, "reason": u.reason} for u in self.unfulfilled],
            "actions": [a.as_metadata() for a in self.actions],
        }


def _matches(grant: ListedGrant, want: DesiredGrant) -> bool:
    return (
        grant.data_set == want.data_set
        and grant.receiver_account == want.receiver_account
        and _same_end(grant.ends_at, want.ends_at)
    )


def _differences(grant: ListedGrant, want: DesiredGrant) -> str:
    changes = []
    if not _same_end(grant.ends_at, want.ends_at):
        changes.append(f"end date amended {_day(grant.ends_at)} -> {_day(want.ends_at)}")
    if grant.receiver_account != want.receiver_account:
        changes.append(f"receiver account changed {grant.receiver_account} -> {want.receiver_account}")
    if grant.data_set != want.data_set:
        changes.append(f"data set changed {grant.data_set} -> {want.data_set}")
    return "; ".join(changes)


def _why_revoked(
    name: str,
    contract_id: str,
    data_product: str,
    contracts: Mapping[str, Contract],
    unfulfilled: Mapping[str, UnfulfilledContract],
    as_of: date,
) -> str:
    contract = contracts.get(contract_id)
    if contract is not None:
        inactive = contract.inactive_reason(as_of)
        if inactive is not None:
            return inactive
        if contract.data_product != data_product:
            return f"contract {contract_id} now covers {contract.data_product}, not {data_product}"
    if contract_id in unfulfilled:
        return unfulfilled[contract_id].reason
    return f"no active contract for grant {name}"


def _revoke(grant: ListedGrant, contract_id: str, product: str, reason: str) -> GrantAction:
    return GrantAction(GrantActionKind.REVOKE, contract_id, product, grant.data_set, grant.receiver_account,
                       grant.grant_id, reason, grant.ends_at)


def plan(
    desired: Iterable[DesiredGrant],
    actual: Iterable[ListedGrant],
    as_of: date,
    contracts: Iterable[Contract] = (),
    unfulfilled: Iterable[UnfulfilledContract] = (),
    held: Mapping[str, Collection[tuple[str, str]]] | None = None,
) -> ReconcilePlan:
    """Actions turning ``actual`` grants into ``desired`` ones on ``as_of``.

    ``contracts`` (all of them, active or not) only make the reasons of revocations precise. A desired
    grant already past its end on ``as_of`` is not created. Duplicates of one grant are collapsed (the
    one already right, else the lowest id, is kept). Foreign grants are never in an action. ``held``
    contracts (their Salesforce values contradict reference data) get no new grant and no change: their
    existing grants are kept as they are until the contradiction is resolved, except one that lies outside
    the tenant boundary (its ``(data set, receiver account)`` not among those ``held`` permits for the
    contract, e.g. after reference data moved the client): that one is revoked, which never widens access.
    """
    held = dict(held or {})
    by_contract = {c.contract_id: c for c in contracts}
    unfulfilled = tuple(unfulfilled)
    unfulfilled_by_contract = {u.contract_id: u for u in unfulfilled}
    start_of_day = datetime.combine(as_of, time(0), tzinfo=UTC)
    wanted: dict[tuple[str, str], DesiredGrant] = {}
    for grant in desired:
        if grant.contract_id in held:
            continue
        key = (grant.contract_id, grant.data_product)
        if key in wanted and wanted[key] != grant:
            raise UserError(f"contract {grant.contract_id}: two different desired grants for {grant.data_product}")
        if grant.ends_at is not None and _utc(grant.ends_at) <= start_of_day:
            continue
        wanted[key] = grant

    ours: dict[tuple[str, str], list[ListedGrant]] = {}
    foreign: list[ListedGrant] = []
    kept: list[ListedGrant] = []
    outside: list[GrantAction] = []
    for grant in actual:
        parsed = parse_grant_name(grant.name)
        if parsed is None:
            foreign.append(grant)
        elif parsed[0] in held and (grant.data_set, grant.receiver_account) in held[parsed[0]]:
            kept.append(grant)
        elif parsed[0] in held:
            outside.append(_revoke(grant, *parsed, f"contract {parsed[0]} is held (Salesforce contradicts reference "
                                                    f"data) and grant {grant.grant_id} lies outside the client's "
                                                    "tenant boundary"))
        else:
            ours.setdefault(parsed, []).append(grant)

    revokes: list[GrantAction] = outside
    replaces: list[GrantAction] = []
    creates: list[GrantAction] = []
    unchanged: list[ListedGrant] = []
    for (contract_id, product), grants in sorted(ours.items()):
        grants = sorted(grants, key=lambda g: g.grant_id)
        want = wanted.get((contract_id, product))
        if want is None:
            reason = _why_revoked(grants[0].name, contract_id, product, by_contract, unfulfilled_by_contract, as_of)
            revokes.extend(_revoke(g, contract_id, product, reason) for g in grants)
            continue
        exact = [g for g in grants if _matches(g, want)]
        keeper = exact[0] if exact else grants[0]
        if exact:
            unchanged.append(keeper)
        else:
            replaces.append(
                GrantAction(
                    GrantActionKind.REPLACE,
                    contract_id,
                    product,
                    want.data_set,
                    want.receiver_account,
                    keeper.grant_id,
                    _differences(keeper, want),
                    want.ends_at,
                )
            )
        revokes.extend(
            _revoke(g, contract_id, product, f"duplicate of grant {keeper.grant_id} ({g.name})")
            for g in grants
            if g is not keeper
        )
    for key, want in sorted(wanted.items()):
        if key not in ours:
            creates.append(
                GrantAction(
                    GrantActionKind.CREATE,
                    want.contract_id,
                    want.data_product,
                    want.data_set,
                    want.receiver_account,
                    None,
                    f"contract {want.contract_id} active through {_day(want.ends_at)}, no grant yet",
                    want.ends_at,
                )
            )
    return ReconcilePlan(
        as_of=as_of,
        actions=tuple(revokes + replaces + creates),
        unchanged=tuple(unchanged),
        foreign=tuple(sorted(foreign, key=lambda g: g.grant_id)),
        unfulfilled=unfulfilled,
        held=tuple(sorted(kept, key=lambda g: g.grant_id)),
    )
