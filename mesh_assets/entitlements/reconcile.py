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

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from enum import StrEnum
from typing import Any

from mesh_assets.entitlements.grants import (
    Contract,
    DesiredGrant,
    ListedGrant,
    UnfulfilledContract,
    as_utc,
    day_label,
    grant_name,
    parse_grant_name,
    same_end,
)
from mesh_assets.lib.user_errors import UserError

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
            "ends_on": day_label(self.ends_at),
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
        and same_end(grant.ends_at, want.ends_at)
    )


def _differences(grant: ListedGrant, want: DesiredGrant) -> str:
    changes = []
    if not same_end(grant.ends_at, want.ends_at):
        changes.append(f"end date amended {day_label(grant.ends_at)} -> {day_label(want.ends_at)}")
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
        if grant.ends_at is not None and as_utc(grant.ends_at) <= start_of_day:
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
                    f"contract {want.contract_id} active through {day_label(want.ends_at)}, no grant yet",
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
