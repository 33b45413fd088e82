"""Entitlements, the desired side: which ADX data grants the active Salesforce contracts entitle clients to.

Desired grants come from active Salesforce contracts (status ``Activated``, as-of date within the
term, end date inclusive, no end date = open) × the data product each buys × the client's AWS
account. A grant we create is named after its contract (:func:`grant_name`), so every actual grant can be
traced back to the contract that justifies it. A grant expires on its own at the end of the contract's
end date (``EndsAt`` = the next midnight UTC). Pure Python; :mod:`mesh_assets.entitlements.reconcile` plans
the difference with the grants that exist.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
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
    return (as_utc(ends_at) - timedelta(microseconds=1)).date()


def as_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def same_end(a: datetime | None, b: datetime | None) -> bool:
    if a is None or b is None:
        return a is b
    return as_utc(a) == as_utc(b)


def day_label(ends_at: datetime | None) -> str:
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
