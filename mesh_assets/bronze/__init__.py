"""Bronze: raw facts in append-only Iceberg tables, with their source positions and checks."""

from dagster import Definitions


def defs() -> Definitions:
    """Bronze assets and their checks."""
    from mesh_assets.bronze import (
        aladdin_cdc,
        aladdin_cdc_checks,
        cdc_stall_checks,
        kafka_topics,
        market_data,
        reference,
        salesforce,
    )

    return Definitions.merge(
        aladdin_cdc.defs(), aladdin_cdc_checks.defs(), cdc_stall_checks.defs(), kafka_topics.defs(),
        market_data.defs(), reference.defs(), salesforce.defs(),
    )
