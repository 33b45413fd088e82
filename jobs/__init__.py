"""Jobs and schedules."""

from dagster import Definitions


def defs() -> Definitions:
    """Jobs and schedules of the code location."""
    from jobs.bronze import bronze_daily_job, bronze_snapshot_job

    return Definitions(jobs=[bronze_daily_job, bronze_snapshot_job])
