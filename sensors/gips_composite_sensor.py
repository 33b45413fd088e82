"""Registers every composite of the reference data, and every GIPS year from the earliest composite's
inception year to the current year, as GIPS partitions, so compliance can pick them in the UI."""

from __future__ import annotations

import datetime as dt

from dagster import DefaultSensorStatus, SensorEvaluationContext, SensorResult, SkipReason, sensor

from mesh_assets.gips.partitions import (
    COMPOSITES_PARTITION_SET,
    YEARS_PARTITION_SET,
    composites,
    years,
    years_to_register,
)
from resources.iceberg import IcebergCatalogResource


def reference_composites(iceberg: IcebergCatalogResource) -> dict[str, int]:
    """Composite id -> inception year, from the bronze reference snapshot (read from Iceberg: no warehouse
    lock is taken)."""
    from mesh_assets.bronze.reference import REFERENCE_TABLES

    spec = REFERENCE_TABLES["composites"]
    catalog = iceberg.catalog()
    if not catalog.table_exists(spec.identifier):
        return {}
    rows = catalog.load_table(spec.identifier).scan(selected_fields=("composite_id", "inception_date")).to_arrow()
    return {c: d.year for c, d in zip(rows["composite_id"].to_pylist(), rows["inception_date"].to_pylist(),
                                      strict=True) if c and d}


def reference_composite_ids(iceberg: IcebergCatalogResource) -> list[str]:
    """Composite ids in the bronze reference snapshot."""
    return sorted(reference_composites(iceberg))


def current_year() -> int:
    """The calendar year in New York (the current year is a GIPS year to date)."""
    from zoneinfo import ZoneInfo

    from mesh_assets.lib.trading_calendar import TIMEZONE

    return dt.datetime.now(ZoneInfo(TIMEZONE)).year


@sensor(minimum_interval_seconds=300, default_status=DefaultSensorStatus.RUNNING,
        description="Adds new composites from the reference data, and the GIPS years from the earliest composite "
                    "inception year to the current year, to the GIPS partitions.")
def gips_composite_sensor(context: SensorEvaluationContext, iceberg: IcebergCatalogResource):
    """Add composites and years the partition sets do not have yet."""
    inception_years = reference_composites(iceberg)
    known = set(context.instance.get_dynamic_partitions(COMPOSITES_PARTITION_SET))
    new = sorted(c for c in inception_years if c not in known)
    new_years = years_to_register(list(inception_years.values()), current_year(),
                                  list(context.instance.get_dynamic_partitions(YEARS_PARTITION_SET)))
    if not new and not new_years:
        return SkipReason(f"all {len(known)} composites and their GIPS years are registered")
    context.log.info(f"registering GIPS composites {new} and years {new_years}")
    requests = []
    if new:
        requests.append(composites.build_add_request(new))
    if new_years:
        requests.append(years.build_add_request(new_years))
    return SensorResult(dynamic_partitions_requests=requests)
