"""The first GIPS step of a composite-year: is the request valid, and which composite definition applies.

It reads only unpartitioned reference data, so it runs before Dagster resolves any partitioned input: a
composite the firm does not have, or a year before the composite's inception, fails here with one sentence
naming the composite and year (a ``dagster.Failure`` that is not retried), before any other step starts.
"""

from typing import Any

from dagster import AssetExecutionContext, AssetKey, Failure, MaterializeResult, MetadataValue, asset

from mesh_assets.gips.partitions import composite_years, split_key
from mesh_assets.lib.ownership import COMPLIANCE
from resources.warehouse import WarehouseResource

COMPOSITE_DEFINITION = AssetKey(["gips", "composite_definition"])
COMPOSITES = AssetKey(["silver", "reference", "composites"])
#: What a report states about its composite, recorded with every composite-year.
DEFINITION_FIELDS = ("composite_name", "strategy", "benchmark_id", "currency", "inception_date", "creation_date",
                     "description", "min_portfolio_size", "significant_cash_flow_pct")


def requested(context: AssetExecutionContext, reads: Any) -> tuple[str, int, dict[str, Any]]:
    """``(composite id, year, composite row)`` of the run's partition; a user error (dagster.Failure, not
    retried) with one sentence naming the composite and year when that composite-year cannot exist."""
    from mesh_assets.lib.gips.requests import gips_year_problem

    composite_id, year = split_key(context.run.tags.get("dagster/partition") or context.partition_key)
    composite = reads.composite_or_none(composite_id)
    problem = gips_year_problem(composite_id, year, composite, reads.data_through() if composite else None)
    if problem:
        raise Failure(description=problem, allow_retries=False,
                      metadata={"composite_id": composite_id, "year": year, "user_error": True})
    return composite_id, year, composite


@asset(
    key=COMPOSITE_DEFINITION, group_name="gips", partitions_def=composite_years, kinds={"python"},
    owners=[COMPLIANCE], deps=[COMPOSITES],
    description="The composite's definition for the year (name, strategy, benchmark, inception and creation dates, "
                "membership policy); a composite-year that cannot exist fails here with one sentence, not retried.",
)
def composite_definition(context: AssetExecutionContext, warehouse: WarehouseResource) -> MaterializeResult:
    """Check the requested composite-year and record the definition its figures and report use."""
    from mesh_assets.gips.inputs import WarehouseReads

    reads = WarehouseReads(warehouse)
    composite_id, year, composite = requested(context, reads)
    return MaterializeResult(metadata={
        "composite_id": composite_id, "year": year,
        "definition": MetadataValue.json({k: composite[k] for k in DEFINITION_FIELDS}),
        "inputs": MetadataValue.json(reads.fingerprints),
    })
