"""Jobs and schedules."""

from dagster import Definitions


def defs() -> Definitions:
    """Jobs and schedules of the code location."""
    from jobs.adx import adx_publish_job
    from jobs.bronze import bronze_daily_job, bronze_snapshot_job
    from jobs.cdc import aladdin_cdc_job
    from jobs.distribution import distribution_publish_job
    from jobs.entitlements import entitlement_reconcile_job
    from jobs.eod import eod_batch, eod_batch_schedule
    from jobs.executors import CHAIN
    from jobs.gips import gips_book_job, gips_report_job
    from jobs.maintenance import table_maintenance_job, table_maintenance_schedule

    return Definitions(jobs=[bronze_daily_job, bronze_snapshot_job, eod_batch, gips_report_job, gips_book_job,
                             adx_publish_job, entitlement_reconcile_job, aladdin_cdc_job, distribution_publish_job,
                             table_maintenance_job],
                       schedules=[eod_batch_schedule, table_maintenance_schedule],
                       # Materializations from the UI and automation runs: in process, like the chains.
                       executor=CHAIN)
