"""Iceberg tables of the entitlement reconciler: the decision log and the dead letters of failed calls."""

from __future__ import annotations

from mesh_assets.lib.audit.tables import AUDIT
from mesh_assets.lib.lakehouse.tables import Columns, TableSpec

ENTITLEMENTS = "entitlements"

#: Append-only: one row per decision of a reconcile (grant, revoke, replace, refuse, ignore) and its outcome.
#: ``before_json``/``after_json`` hold the grant as it was and as it is after the decision (sorted JSON).
ENTITLEMENT_EVENT_COLUMNS: Columns = (
    ("event_id", "string"),  # sha256 of reconcile id, decision kind, contract, product, account, grant
    ("reconcile_id", "string"),  # the Dagster run id (or the caller's id outside Dagster)
    ("change_set", "string"),  # the Salesforce change set that triggered the reconcile, if any
    ("actor", "string"),  # who decided: the reconciler and its run
    ("decision", "string"),  # grant | revoke | refuse | ignore | writeback
    ("outcome", "string"),  # applied | failed | skipped
    ("contract_id", "string"),
    ("data_product", "string"),
    ("data_set", "string"),
    ("receiver_account", "string"),
    ("grant_id", "string"),
    ("reason", "string"),  # in words: "contract 00000107 Terminated", "end date amended ..."
    ("error", "string"),  # the failed call's error, when outcome is failed
    ("before_json", "string"),
    ("after_json", "string"),
    ("decided_at", "timestamp"),
)
ENTITLEMENT_EVENTS = TableSpec(
    AUDIT, "entitlement_events", ENTITLEMENT_EVENT_COLUMNS, partition_column="decided_at",
    partition_transform="month", properties={"commit.manifest-merge.enabled": "true"},
)

#: Append-only: a failed ADX or Salesforce call is recorded ``pending``; when a later reconcile applies the
#: same action, or finds it no longer needed, a ``resolved`` row with the same ``action_key`` follows.
#: What is waiting = action keys whose latest row is ``pending``.
GRANT_DEAD_LETTER_COLUMNS: Columns = (
    ("dead_letter_id", "string"),
    ("action_key", "string"),  # decision|contract|product|account: the same failed action retried keeps its key
    ("status", "string"),  # pending | resolved
    ("decision", "string"),
    ("contract_id", "string"),
    ("data_product", "string"),
    ("data_set", "string"),
    ("receiver_account", "string"),
    ("grant_id", "string"),
    ("reason", "string"),
    ("error", "string"),
    ("reconcile_id", "string"),
    ("recorded_at", "timestamp"),
)
GRANT_DEAD_LETTERS = TableSpec(ENTITLEMENTS, "grant_dead_letters", GRANT_DEAD_LETTER_COLUMNS)
