"""The tenant boundary of the entitlements: reference data decides, Salesforce may only agree.

A client's tenant and the AWS account its grants go to come from the firm's reference data (the
system of record for who a client is: ``silver.clients``), never from a CRM field. The Salesforce
Account may carry both (``Tenant_Id__c``, ``AWS_Account_Id__c``); where it carries a value that differs
from reference data, the contract is **contradicted**: it yields no desired grant, the plan holds its
existing grants (neither grants nor revokes, see :func:`mesh_assets.entitlements.reconcile.plan`), and
the blocking check ``tenant_matches_reference_data`` names the contract, the account and both values.
A blank Salesforce value is no contradiction (reference data still decides). Values are compared as
they are, never normalised: ``TNT-0001`` contradicts ``tnt-0001``.

Pure: no Dagster, no I/O. :func:`entitlements_within_boundary` is what the reconciler and its checks
run over the rows of ``gold.client_entitlements``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import date
from typing import Any

from mesh_assets.entitlements.grants import (
    ClientAccount,
    Contract,
    DesiredGrant,
    UnfulfilledContract,
    is_aws_account_id,
    resolve_entitlements,
)
from mesh_assets.lib.tenant_ids import InvalidTenantId, validate_tenant_id

#: Data sets of a tenant: ``tenant id -> {data product: ADX data set}``.
TenantDataSets = Callable[[str], Mapping[str, str]]


@dataclass(frozen=True)
class EntitlementRow:
    """One active contract as ``gold.client_entitlements`` has it: reference values and Salesforce's."""

    contract_id: str
    account_id: str
    data_product: str
    start_date: date | None
    end_date: date | None
    client_id: str | None
    tenant_id: str | None  # reference data
    aws_account_id: str | None  # registered in reference data
    salesforce_tenant_id: str | None = None
    salesforce_aws_account_id: str | None = None
    contract_number: str | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> EntitlementRow:
        """From a ``gold.client_entitlements`` row."""
        return cls(
            contract_id=str(row["contract_id"]),
            account_id=str(row["account_id"]),
            data_product=str(row["data_product"]),
            start_date=row.get("start_date"),
            end_date=row.get("end_date"),
            client_id=row.get("client_id"),
            tenant_id=row.get("tenant_id"),
            aws_account_id=row.get("aws_account_id"),
            salesforce_tenant_id=row.get("salesforce_tenant_id"),
            salesforce_aws_account_id=row.get("salesforce_aws_account_id"),
            contract_number=row.get("contract_number"),
        )

    def contract(self) -> Contract:
        """The contract (every row of the table is an active contract)."""
        return Contract(self.contract_id, self.account_id, self.data_product, "Activated", self.start_date,
                        self.end_date, self.contract_number)


@dataclass(frozen=True)
class Contradiction:
    """A Salesforce value that contradicts reference data for one contract: the contract is held."""

    contract_id: str
    account_id: str
    client_id: str | None
    field: str  # "tenant_id", "aws_account_id", or "client_id" (two reference clients claim the account)
    salesforce_value: str
    reference_value: str | None

    @property
    def reason(self) -> str:
        """One sentence naming the contract, the account and both values."""
        if self.field == "client_id":
            return (f"contract {self.contract_id}, account {self.account_id}: reference data has two clients for "
                    f"this Salesforce account ({self.salesforce_value!r} and {self.reference_value!r}); "
                    "contract held (no grant, no revocation)")
        salesforce_field = {"tenant_id": "Tenant_Id__c", "aws_account_id": "AWS_Account_Id__c"}[self.field]
        client = f" (client {self.client_id})" if self.client_id else ""
        return (f"contract {self.contract_id}, account {self.account_id}{client}: Salesforce {salesforce_field} "
                f"{self.salesforce_value!r} contradicts reference data {self.field} {self.reference_value!r}; "
                "contract held (no grant, no revocation)")

    def as_metadata(self) -> dict[str, Any]:
        """Plain-dict form for check metadata and logs."""
        return {"contract_id": self.contract_id, "account_id": self.account_id, "client_id": self.client_id,
                "field": self.field, "salesforce_value": self.salesforce_value,
                "reference_value": self.reference_value}


@dataclass(frozen=True)
class BoundedEntitlements:
    """Desired grants inside the boundary, contracts that cannot be granted, and contradicted (held) ones."""

    grants: tuple[DesiredGrant, ...]
    unfulfilled: tuple[UnfulfilledContract, ...]
    contradictions: tuple[Contradiction, ...]
    #: contradicted contract -> the ``(data set, receiver account)`` its existing grants may keep: the
    #: reference tenant's data set for its product and the registered account (none if reference data
    #: gives no valid tenant or account). The plan neither grants nor changes these contracts.
    held: Mapping[str, frozenset[tuple[str, str]]] = dataclass_field(default_factory=dict)


def _blank(value: str | None) -> bool:
    return value is None or value == ""


def contradictions_of(row: EntitlementRow) -> list[Contradiction]:
    """The Salesforce values of ``row`` that differ from its reference values (blank Salesforce values agree)."""
    found = []
    for name, salesforce, reference in (("tenant_id", row.salesforce_tenant_id, row.tenant_id),
                                        ("aws_account_id", row.salesforce_aws_account_id, row.aws_account_id)):
        if not _blank(salesforce) and salesforce != reference:
            found.append(Contradiction(row.contract_id, row.account_id, row.client_id, name, str(salesforce),
                                       reference))
    return found


def entitlements_within_boundary(rows: Iterable[EntitlementRow], data_sets: TenantDataSets,
                                 as_of: date) -> BoundedEntitlements:
    """Desired grants of the active contracts in ``rows``, each on its reference tenant's data set and to
    its reference AWS account; contradicted contracts held, the others that cannot be granted reported."""
    rows = list(rows)
    contradictions: list[Contradiction] = []
    unfulfilled: list[UnfulfilledContract] = []
    by_tenant: dict[str, list[EntitlementRow]] = {}
    seen: dict[str, EntitlementRow] = {}
    for row in sorted(rows, key=lambda r: (r.contract_id, r.client_id or "")):
        if row.contract_id in seen:  # one Salesforce account claimed by two clients of reference data
            first = seen[row.contract_id]
            contradictions.append(Contradiction(row.contract_id, row.account_id, row.client_id, "client_id",
                                                str(first.client_id), row.client_id))
            continue
        seen[row.contract_id] = row
        found = contradictions_of(row)
        if found:
            contradictions.extend(found)
            continue
        if _blank(row.tenant_id) or row.client_id is None:
            unfulfilled.append(UnfulfilledContract(
                row.contract_id, row.account_id, row.data_product,
                f"contract {row.contract_id}: account {row.account_id} is no client in reference data: no tenant"))
            continue
        try:
            tenant = validate_tenant_id(row.tenant_id, f"contract {row.contract_id}, client {row.client_id}")
        except InvalidTenantId as error:
            unfulfilled.append(UnfulfilledContract(row.contract_id, row.account_id, row.data_product, str(error)))
            continue
        by_tenant.setdefault(tenant, []).append(row)
    held = {c.contract_id: _permitted(seen[c.contract_id], data_sets) for c in contradictions}
    doubled = {c.contract_id for c in contradictions if c.field == "client_id"}
    held.update({contract_id: frozenset() for contract_id in doubled})
    by_tenant = {t: [r for r in group if r.contract_id not in doubled] for t, group in by_tenant.items()}
    grants: list[DesiredGrant] = []
    for tenant, group in sorted(by_tenant.items()):
        accounts = {r.account_id: ClientAccount(r.account_id, r.aws_account_id) for r in group}
        resolved = resolve_entitlements([r.contract() for r in group], accounts, data_sets(tenant), as_of)
        grants.extend(resolved.grants)
        unfulfilled.extend(resolved.unfulfilled)
    return BoundedEntitlements(tuple(grants), tuple(unfulfilled), tuple(contradictions), held)


def _permitted(row: EntitlementRow, data_sets: TenantDataSets) -> frozenset[tuple[str, str]]:
    """What a held contract's grants may still be: its reference tenant's data set, the registered account."""
    if row.client_id is None or _blank(row.tenant_id) or not is_aws_account_id(row.aws_account_id):
        return frozenset()
    try:
        tenant = validate_tenant_id(row.tenant_id)
    except InvalidTenantId:
        return frozenset()
    data_set = data_sets(tenant).get(row.data_product)
    return frozenset({(data_set, str(row.aws_account_id))}) if data_set else frozenset()
