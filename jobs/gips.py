"""GIPS: the compliance job over one composite-year, and the in-process runner behind `mesh gips report`."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dagster import AssetSelection, define_asset_job

from jobs.executors import CHAIN

#: Compliance launches this for one composite-year (Dagster UI: Jobs -> gips_report -> partition).
gips_report_job = define_asset_job(
    "gips_report",
    selection=AssetSelection.groups("gips"),  # partitioned by composite × year, inferred from the assets
    description="Compute a composite-year's GIPS figures and write its report (PDF, HTML, CSV, JSON).",
    executor_def=CHAIN,  # five steps, each needing the one before
)


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
    from mesh_assets.gips_reporting.inputs import WarehouseReads
    from mesh_assets.gips_reporting.partitions import COMPOSITES_PARTITION_SET, composite_year_key

    defs = defs or build_definitions()
    if first_year is None:
        warehouse = defs.resources["warehouse"]
        first_year = int(WarehouseReads(warehouse).composite(composite_id)["inception_date"][:4])
    if first_year > year:
        raise ValueError(f"composite {composite_id} starts in {first_year}, after the report year {year}")
    instance.add_dynamic_partitions(COMPOSITES_PARTITION_SET, [composite_id])
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
