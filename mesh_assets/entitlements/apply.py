"""Carry out a reconcile plan on the exchange and in Salesforce, and say what happened to every action.

No Dagster import. Each exchange call is retried a few times with back-off (tenacity); an action that still
fails is reported ``failed`` with its error (the caller dead-letters it) and the rest of the plan goes on:
one bad account never holds up everyone else's access. A replacement (new end date) creates the new grant
before deleting the old one, so the client never loses access in between.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from resources.adx_exchange.exchange import DataGrant, Exchange

APPLIED, FAILED, SKIPPED = "applied", "failed", "skipped"


@dataclass(frozen=True)
class Decision:
    """One decision of a reconcile and its outcome, with the grant before and after (for the audit log)."""

    decision: str  # grant | revoke | refuse | hold | ignore | writeback
    outcome: str  # applied | failed | skipped
    reason: str
    contract_id: str | None = None
    data_product: str | None = None
    data_set: str | None = None
    receiver_account: str | None = None
    grant_id: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    error: str | None = None

    @property
    def action_key(self) -> str:
        """Identifies the action across reconciles (a failed action retried later keeps its key)."""
        return "|".join((self.decision, self.contract_id or "", self.data_product or "", self.receiver_account or ""))


@dataclass
class ApplyReport:
    """Every decision in order, and counts of what changed."""

    decisions: list[Decision] = field(default_factory=list)

    def count(self, decision: str, outcome: str = APPLIED) -> int:
        """How many ``decision``s ended with ``outcome``."""
        return sum(1 for d in self.decisions if d.decision == decision and d.outcome == outcome)

    @property
    def failures(self) -> list[Decision]:
        """Decisions whose call failed after its retries."""
        return [d for d in self.decisions if d.outcome == FAILED]


def grant_record(grant: DataGrant | None) -> dict[str, Any] | None:
    """A grant as plain JSON-ready data (no secret: ids, account, dates)."""
    if grant is None:
        return None
    return {"grant_id": grant.grant_id, "name": grant.name, "data_set": grant.data_set,
            "receiver_account": grant.receiver_account,
            "ends_at": grant.ends_at.isoformat() if grant.ends_at else None}


def _retrying(call: Callable[[], Any], attempts: int, wait_s: float) -> Any:
    from tenacity import Retrying, stop_after_attempt, wait_exponential

    for attempt in Retrying(stop=stop_after_attempt(attempts), wait=wait_exponential(multiplier=wait_s, max=10),
                            reraise=True):
        with attempt:
            return call()
    return None  # unreachable: Retrying re-raises the last error


def _describe(error: BaseException) -> str:
    return f"{type(error).__name__}: {error}"[:2000]


def apply_actions(
    actions: Iterable[Any],
    exchange: Exchange,
    grants_by_id: dict[str, DataGrant],
    attempts: int = 3,
    wait_s: float = 0.5,
) -> ApplyReport:
    """Apply ``actions`` (``create``, ``revoke``, ``replace``) in order; every outcome is reported, none raised.

    ``grants_by_id`` holds the exchange's grants before the reconcile (to record the ``before`` side).
    """
    report = ApplyReport()
    for action in actions:
        base = {"contract_id": action.contract_id, "data_product": action.data_product, "data_set": action.data_set,
                "receiver_account": action.receiver_account}
        if action.kind in ("create", "replace"):
            old = grants_by_id.get(action.grant_id) if action.grant_id else None
            try:
                new = _retrying(lambda a=action: exchange.create_grant(
                    a.data_set, a.receiver_account, a.name, a.ends_at, a.reason), attempts, wait_s)
            except Exception as error:
                report.decisions.append(Decision("grant", FAILED, action.reason, **base, grant_id=action.grant_id,
                                                 before=grant_record(old), after=grant_record(old),
                                                 error=_describe(error)))
                continue
            report.decisions.append(Decision("grant", APPLIED, action.reason, **base, grant_id=new.grant_id,
                                             before=grant_record(old), after=grant_record(new)))
            if action.kind == "create":
                continue
        # revoke, or the old half of a replacement
        old = grants_by_id.get(action.grant_id)
        try:
            _retrying(lambda a=action: exchange.delete_grant(a.grant_id), attempts, wait_s)
        except Exception as error:
            report.decisions.append(Decision("revoke", FAILED, action.reason, **base, grant_id=action.grant_id,
                                             before=grant_record(old), after=grant_record(old),
                                             error=_describe(error)))
            continue
        report.decisions.append(Decision("revoke", APPLIED, action.reason, **base, grant_id=action.grant_id,
                                         before=grant_record(old), after=None))
    return report


def write_back(
    report: ApplyReport,
    provisioned_now: dict[str, bool],
    provisioned_in_salesforce: dict[str, bool | None],
    update_many: Callable[[dict[str, dict[str, Any]]], dict[str, str | None]],
    attempts: int = 3,
    wait_s: float = 0.5,
) -> None:
    """Set ``ADX_Provisioned__c`` on every contract whose value in Salesforce differs from the grants now.

    ``provisioned_now``: contract id -> whether a live grant exists after the reconcile. Only differences
    are written, in batches (``update_many``: id -> values, returning id -> error or None), so the write-back
    costs one call per 200 contracts and its own SystemModstamp bump changes no grant.
    """
    changes = {c: provisioned_now[c] for c in sorted(provisioned_now)
               if bool(provisioned_in_salesforce.get(c)) != provisioned_now[c]}
    if not changes:
        return
    try:
        errors = _retrying(lambda: update_many({c: {"ADX_Provisioned__c": v} for c, v in changes.items()}),
                           attempts, wait_s)
    except Exception as error:
        errors = dict.fromkeys(changes, _describe(error))
    for contract_id, value in changes.items():
        before = {"ADX_Provisioned__c": provisioned_in_salesforce.get(contract_id)}
        reason = f"contract {contract_id}: ADX_Provisioned__c {before['ADX_Provisioned__c']} -> {value}"
        error = errors.get(contract_id)
        if error:
            report.decisions.append(Decision("writeback", FAILED, reason, contract_id=contract_id, before=before,
                                             after=before, error=error))
        else:
            report.decisions.append(Decision("writeback", APPLIED, reason, contract_id=contract_id, before=before,
                                             after={"ADX_Provisioned__c": value}))


def now_utc() -> dt.datetime:
    """The current time, UTC (one place, so callers and tests agree on the clock)."""
    return dt.datetime.now(dt.UTC)
