"""Declaration of ``audit.check_results`` and the keys its commits write into snapshot summaries."""

from __future__ import annotations

from mesh_assets.lib.lakehouse.tables import Columns, TableSpec

AUDIT = "audit"

#: One row per asset-check evaluation in the Dagster event log. Timestamps are UTC.
CHECK_RESULTS_COLUMNS: Columns = (
    # the event log's storage id (its cursor): with run_id, the idempotency key
    ("event_storage_id", "int64"),
    ("run_id", "string"),
    ("job_name", "string"),
    ("code_location", "string"),  # null for runs launched in process (tests, `mesh demo`)
    ("asset_key", "string"),  # "layer/domain/table"
    ("check_name", "string"),
    ("partition_key", "string"),  # null for unpartitioned checks
    ("passed", "bool"),
    ("severity", "string"),  # ERROR | WARN
    ("blocking", "bool"),
    ("description", "string"),
    ("metadata_json", "string"),  # the check's own metadata only, as sorted JSON
    ("target_materialization_storage_id", "int64"),  # the materialization the check looked at
    ("target_materialization_run_id", "string"),
    ("evaluated_at", "timestamp"),
    ("ingested_at", "timestamp"),
)

#: Append-only, partitioned by month of ``evaluated_at``: an export for a date range reads only its
#: months. The sensor commits small batches for years, one manifest each: merge appends fold them
#: (from 100 manifests on), so planning a scan does not read thousands of tiny manifests.
CHECK_RESULTS = TableSpec(AUDIT, "check_results", CHECK_RESULTS_COLUMNS, partition_column="evaluated_at",
                          partition_transform="month", properties={"commit.manifest-merge.enabled": "true"})

#: Columns that identify one evaluation. The storage id alone is unique within one Dagster instance;
#: the run id keeps evaluations apart if the event log ever restarts its ids (a new instance database).
KEY_COLUMNS: tuple[str, ...] = ("event_storage_id", "run_id")

#: Highest event storage id in one commit (summary), for operators: ``select`` it instead of scanning.
MAX_STORAGE_ID_KEY = "mesh.audit.max_storage_id"
#: Rows one commit appended (summary).
APPENDED_KEY = "mesh.audit.appended"
