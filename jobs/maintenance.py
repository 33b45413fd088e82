"""Table maintenance: every Iceberg table compacted and its old snapshots expired, weekly (Sunday 03:00 New York).

The schedule starts stopped, like the end-of-day one: an operator turns it on in the UI (or `dagster schedule
start table_maintenance_schedule`). ``MESH_MAINTENANCE_CRON`` moves it.
"""

from __future__ import annotations

from dagster import AssetSelection, ScheduleDefinition, define_asset_job

from jobs.executors import CHAIN
from mesh_assets.lib.trading_calendar import TIMEZONE
from resources.settings import mesh_settings

#: The maintenance asset (and its checks): one step walking the catalog.
table_maintenance_job = define_asset_job(
    "table_maintenance",
    selection=AssetSelection.keys(["maintenance", "iceberg", "tables"]),
    executor_def=CHAIN,  # one step
    tags={"mesh/batch": "maintenance"},
    description="Compact every Iceberg table's small files and expire its old snapshots (keeping those that carry "
                "committed source positions or that a check reads).",
)

table_maintenance_schedule = ScheduleDefinition(
    name="table_maintenance_schedule", job=table_maintenance_job, cron_schedule=mesh_settings().mesh_maintenance_cron,
    execution_timezone=TIMEZONE,
    description="Sunday 03:00 New York: compaction and snapshot expiry of every Iceberg table.",
)
