"""GIPS partitions: composite (registered as composites appear) × calendar year."""

from __future__ import annotations

from dagster import (
    DimensionPartitionMapping,
    DynamicPartitionsDefinition,
    IdentityPartitionMapping,
    MultiPartitionKey,
    MultiPartitionMapping,
    MultiPartitionsDefinition,
    TimeWindowPartitionMapping,
    TimeWindowPartitionsDefinition,
)

from mesh_assets.partitions import FIRST_TRADING_DAY
from mesh_assets.trading_calendar import TIMEZONE

COMPOSITES_PARTITION_SET = "gips_composites"

#: Composites are added by ``gips_composite_sensor`` (and ``mesh gips report``) from the reference data.
composites = DynamicPartitionsDefinition(name=COMPOSITES_PARTITION_SET)
#: Calendar years; ``end_offset=1`` makes the current year (year to date) a partition.
years = TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 1 *", start=str(FIRST_TRADING_DAY.year), fmt="%Y", timezone=TIMEZONE, end_offset=1
)
composite_years = MultiPartitionsDefinition({"composite": composites, "year": years})


def composite_year_key(composite_id: str, year: int) -> MultiPartitionKey:
    """The partition key of one composite-year."""
    return MultiPartitionKey({"composite": composite_id, "year": str(year)})


def split_key(key: MultiPartitionKey | str) -> tuple[str, int]:
    """``(composite id, year)`` of a partition key."""
    if not isinstance(key, MultiPartitionKey):
        key = composite_years.get_partition_key_from_str(key)
    dimensions = key.keys_by_dimension
    return dimensions["composite"], int(dimensions["year"])


def years_back(count: int) -> MultiPartitionMapping:
    """Same composite, this year and the ``count - 1`` years before it (years before 2021 do not exist)."""
    import warnings

    from dagster import BetaWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BetaWarning)  # MultiPartitionMapping is beta in Dagster 1.13
        return MultiPartitionMapping({
            "composite": DimensionPartitionMapping("composite", IdentityPartitionMapping()),
            "year": DimensionPartitionMapping("year", TimeWindowPartitionMapping(
                start_offset=-(count - 1), allow_nonexistent_upstream_partitions=True)),
        })
