"""Which contract versions can change a grant (no Dagster import).

The reconciler writes ``ADX_Provisioned__c`` back to Salesforce, which bumps the contract's
``SystemModstamp``: the sensor sees that version like any other. Requesting a reconcile for it would
double the work for nothing, so only versions that differ from the contract's previous version in a
field the grants depend on are material. The previous version is the latest one *older* than the new
version, so re-reading a version already copied to bronze (after a crash) still compares it with its
predecessor, never with itself.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: Bronze columns of a contract that decide its grants.
ENTITLEMENT_COLUMNS = ("account_id", "data_product", "start_date", "end_date", "status")


def previous_versions(history: Iterable[Mapping[str, Any]], fresh: Sequence[Mapping[str, Any]]) -> dict[tuple, dict]:
    """For each fresh ``(id, system_modstamp)``, the latest historical version of that id older than it."""
    by_id: dict[str, list[Mapping[str, Any]]] = {}
    for row in history:
        by_id.setdefault(row["id"], []).append(row)
    previous: dict[tuple, dict] = {}
    for row in fresh:
        older = [h for h in by_id.get(row["id"], []) if h["system_modstamp"] < row["system_modstamp"]]
        if older:
            previous[(row["id"], row["system_modstamp"])] = dict(max(older, key=lambda h: h["system_modstamp"]))
    return previous


def material(
    fresh: Sequence[Mapping[str, Any]], previous: Mapping[tuple, Mapping[str, Any]]
) -> list[Mapping[str, Any]]:
    """The fresh versions that are new contracts or change a column in :data:`ENTITLEMENT_COLUMNS`."""
    changed = []
    for row in fresh:
        before = previous.get((row["id"], row["system_modstamp"]))
        if before is None or any(row.get(c) != before.get(c) for c in ENTITLEMENT_COLUMNS):
            changed.append(row)
    return changed
