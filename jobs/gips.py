"""GIPS: the compliance job over one composite-year and the firm-wide book job (`mesh gips report` runs the first:
mesh_dev/gips_runs.py)."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from jobs.executors import CHAIN

#: The six assets of one composite-year, in order.
COMPOSITE_YEAR_ASSETS = [["gips", name] for name in ("composite_definition", "portfolio_monthly_returns",
                                                       "composite_membership",
                                                       "composite_monthly_returns", "composite_annual_statistics",
                                                       "annual_report")]

#: A bad request fails its step with a user error: the run is not retried (only crashed runs are).
NO_RETRY_ON_STEP_FAILURE = {"dagster/retry_on_asset_or_op_failure": "false"}

#: Compliance launches this for one composite-year (Dagster UI: Jobs -> gips_report -> partition).
#: Its six steps form a chain over one composite-year (~20 ms of engine work each): run in the run's
#: own process, they cost their work, where one process per step cost ~25 s.
gips_report_job = define_asset_job(
    "gips_report",
    selection=AssetSelection.assets(*COMPOSITE_YEAR_ASSETS),
    executor_def=CHAIN,  # six steps, each needing the one before
    tags=NO_RETRY_ON_STEP_FAILURE,
    description="Compute a composite-year's GIPS figures and write its report (PDF, HTML, CSV, JSON).",
)

#: Every composite of the selected GIPS years in one run and one step (the firm-wide book). Launch it over a
#: range of years (tags dagster/asset_partition_range_start/end, or a backfill: its single-run policy makes a
#: backfill over any years one run): every composite x year of the firm is one run.
gips_book_job = define_asset_job(
    "gips_book",
    selection=AssetSelection.assets(["gips", "annual_book"]),
    executor_def=CHAIN,  # one step
    tags=NO_RETRY_ON_STEP_FAILURE,
    description="Every composite's GIPS figures and reports for the selected years, in one step.",
)
