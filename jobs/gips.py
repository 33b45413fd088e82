"""GIPS: the compliance job over one composite-year, and the in-process runner behind `mesh gips report`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dagster import AssetSelection, define_asset_job

from jobs.executors import CHAIN
from mesh_assets.lib.user_errors import UserError

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


def register_partitions(instance: Any, composite_ids: list[str], inception_years: list[int], last_year: int) -> None:
    """Add the composites and the GIPS years up to ``last_year`` the instance does not have yet."""
    from mesh_assets.gips.partitions import COMPOSITES_PARTITION_SET, YEARS_PARTITION_SET, years_to_register

    known = set(instance.get_dynamic_partitions(COMPOSITES_PARTITION_SET))
    if new := [c for c in composite_ids if c not in known]:
        instance.add_dynamic_partitions(COMPOSITES_PARTITION_SET, new)
    if new_years := years_to_register(inception_years, last_year,
                                      list(instance.get_dynamic_partitions(YEARS_PARTITION_SET))):
        instance.add_dynamic_partitions(YEARS_PARTITION_SET, new_years)


def run_gips_report(
    composite_id: str, year: int, instance: Any, step: Callable[[str], None] = lambda _: None,
    first_year: int | None = None, defs: Any = None,
) -> list[Any]:
    """Materialize the GIPS assets of ``composite_id`` for every year from ``first_year`` (default: the
    composite's inception year) to ``year``, in order, one run per year; return the runs' results.

    Earlier years come first because a report presents up to ten years and the 3-year risk needs 36 months.
    ``defs`` defaults to the code location's definitions for the current environment.
    """
    from mesh_assets.definitions import build_definitions
    from mesh_assets.gips.inputs import WarehouseReads
    from mesh_assets.gips.partitions import composite_year_key
    from mesh_assets.lib.gips.requests import gips_year_problem

    defs = defs or build_definitions()
    reads = WarehouseReads(defs.resources["warehouse"])
    composite = reads.composite_or_none(composite_id)
    problem = gips_year_problem(composite_id, year, composite, reads.data_through() if composite else None)
    if problem:
        raise UserError(problem)
    inception_year = int(composite["inception_date"][:4])
    first_year = inception_year if first_year is None else first_year
    if first_year > year:
        raise UserError(f"Composite {composite_id} starts in {first_year}, after the report year {year}.")
    register_partitions(instance, [composite_id], [inception_year], year)
    job = defs.resolve_job_def(gips_report_job.name)
    results = []
    for each in range(first_year, year + 1):
        step(f"GIPS {composite_id} {each}")
        result = job.execute_in_process(
            instance=instance, partition_key=composite_year_key(composite_id, each), raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        )
        results.append(result)
        if not result.success:
            break
    return results
