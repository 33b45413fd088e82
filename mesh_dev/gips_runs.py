"""The in-process runner behind `mesh gips report` and the demo: a composite's GIPS years, one run each, in order.

A development convenience: operators launch the ``gips_report`` job from the UI, per composite-year partition.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jobs.gips import gips_report_job
from mesh_assets.lib.user_errors import UserError


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
    first_year: int | None = None, *, defs: Any,
) -> list[Any]:
    """Materialize the GIPS assets of ``composite_id`` for every year from ``first_year`` (default: the
    composite's inception year) to ``year``, in order, one run per year; return the runs' results.

    Earlier years come first because a report presents up to ten years and the 3-year risk needs 36 months.
    ``defs``: the code location's definitions (``mesh_assets.definitions.build_definitions()``).
    """
    from mesh_assets.gips.inputs import WarehouseReads
    from mesh_assets.gips.partitions import composite_year_key
    from mesh_assets.lib.gips.requests import gips_year_problem

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
