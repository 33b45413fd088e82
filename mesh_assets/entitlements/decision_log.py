"""Rows of ``audit.entitlement_events`` and ``entitlements.grant_dead_letters`` (no Dagster import)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from mesh_assets.entitlements.apply import FAILED, Decision
from mesh_assets.entitlements.tables import ENTITLEMENT_EVENTS, GRANT_DEAD_LETTERS

if TYPE_CHECKING:
    import pyarrow as pa

PENDING, RESOLVED = "pending", "resolved"


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join("" if p is None else str(p) for p in parts).encode()).hexdigest()


def _json(value: object) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=str)


def event_rows(
    decisions: Sequence[Decision], reconcile_id: str, change_set: str | None, actor: str, decided_at: dt.datetime
) -> pa.Table:
    """One audit row per decision; ``event_id`` is stable for the same reconcile, so a retried commit
    of the same decisions appends nothing twice."""
    import pyarrow as pa

    rows = [
        {
            "event_id": _digest(reconcile_id, index, d.decision, d.contract_id, d.data_product, d.receiver_account,
                                d.grant_id),
            "reconcile_id": reconcile_id, "change_set": change_set, "actor": actor, "decision": d.decision,
            "outcome": d.outcome, "contract_id": d.contract_id, "data_product": d.data_product,
            "data_set": d.data_set, "receiver_account": d.receiver_account, "grant_id": d.grant_id,
            "reason": d.reason, "error": d.error, "before_json": _json(d.before), "after_json": _json(d.after),
            "decided_at": decided_at,
        }
        for index, d in enumerate(decisions)
    ]
    return pa.Table.from_pylist(rows, schema=ENTITLEMENT_EVENTS.schema)


def pending(dead_letters: pa.Table) -> pa.Table:
    """Dead letters still waiting: the latest row of each ``action_key`` is ``pending``."""
    import pyarrow as pa

    latest: dict[str, dict] = {}
    for row in sorted(dead_letters.to_pylist(), key=lambda r: (r["recorded_at"], r["status"] == PENDING)):
        latest[row["action_key"]] = row
    waiting = [r for r in latest.values() if r["status"] == PENDING]
    return pa.Table.from_pylist(sorted(waiting, key=lambda r: r["recorded_at"]), schema=GRANT_DEAD_LETTERS.schema)


def dead_letter_rows(
    decisions: Iterable[Decision], waiting: pa.Table, reconcile_id: str, recorded_at: dt.datetime
) -> pa.Table:
    """New dead-letter rows: every failed decision ``pending``; every waiting action that this reconcile
    applied, or no longer planned (its contract changed), ``resolved``."""
    import pyarrow as pa

    decisions = list(decisions)
    outcome = {}
    for d in decisions:
        outcome[d.action_key] = d
    rows = []
    for d in decisions:
        if d.outcome == FAILED:
            rows.append(_dead_letter(d, d.action_key, PENDING, d.reason, d.error, reconcile_id, recorded_at))
    for row in waiting.to_pylist():
        key = row["action_key"]
        later = outcome.get(key)
        if later is not None and later.outcome == FAILED:
            continue  # still failing: the pending row above records the new attempt
        reason = (f"applied by reconcile {reconcile_id}" if later is not None
                  else f"no longer needed at reconcile {reconcile_id}: the desired grants changed")
        rows.append({**row, "dead_letter_id": _digest(reconcile_id, key, RESOLVED), "status": RESOLVED,
                     "reason": reason, "error": None, "reconcile_id": reconcile_id, "recorded_at": recorded_at})
    return pa.Table.from_pylist(rows, schema=GRANT_DEAD_LETTERS.schema)


def _dead_letter(d: Decision, key: str, status: str, reason: str, error: str | None, reconcile_id: str,
                 recorded_at: dt.datetime) -> dict:
    return {"dead_letter_id": _digest(reconcile_id, key, status), "action_key": key, "status": status,
            "decision": d.decision, "contract_id": d.contract_id, "data_product": d.data_product,
            "data_set": d.data_set, "receiver_account": d.receiver_account, "grant_id": d.grant_id,
            "reason": reason, "error": error, "reconcile_id": reconcile_id, "recorded_at": recorded_at}
