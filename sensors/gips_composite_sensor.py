"""Registers every composite of the reference data as a GIPS partition, so compliance can pick it in the UI."""

from __future__ import annotations

from dagster import DefaultSensorStatus, SensorEvaluationContext, SensorResult, SkipReason, sensor

from mesh_assets.gips_reporting.partitions import COMPOSITES_PARTITION_SET, composites
from resources.iceberg import IcebergCatalogResource


def reference_composite_ids(iceberg: IcebergCatalogResource) -> list[str]:
    """Composite ids in the bronze reference snapshot (read from Iceberg: no warehouse lock is taken)."""
    from mesh_assets.bronze.reference import REFERENCE_TABLES

    spec = REFERENCE_TABLES["composites"]
    catalog = iceberg.catalog()
    if not catalog.table_exists(spec.identifier):
        return []
    rows = catalog.load_table(spec.identifier).scan(selected_fields=("composite_id",)).to_arrow()
    return sorted({c for c in rows["composite_id"].to_pylist() if c})


@sensor(minimum_interval_seconds=300, default_status=DefaultSensorStatus.RUNNING,
        description="Adds new composites from the reference data to the GIPS composite partitions.")
def gips_composite_sensor(context: SensorEvaluationContext, iceberg: IcebergCatalogResource):
    """Add composites the partition set does not have yet."""
    known = set(context.instance.get_dynamic_partitions(COMPOSITES_PARTITION_SET))
    new = [c for c in reference_composite_ids(iceberg) if c not in known]
    if not new:
        return SkipReason(f"all {len(known)} composites are registered")
    context.log.info(f"registering GIPS composites {new}")
    return SensorResult(dynamic_partitions_requests=[composites.build_add_request(new)])
