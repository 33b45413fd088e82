"""GIPS partitions: composite × year, both registered from the reference data as composites appear.

Years are dynamic, not a calendar range fixed in code: the firm's history (and so its first GIPS year)
is data, which the definitions cannot read at import. ``gips_composite_sensor`` (and ``mesh gips
report``) registers every composite and every year from the earliest composite's inception year to the
current year, so the UI offers only years in which some composite exists. A composite incepted later
than the first year still shows the earlier years in the grid; a request for one fails at once with
one sentence naming the composite and the year (``mesh_assets.lib.gips.requests``), without a retry.
"""

from __future__ import annotations

from dagster import DynamicPartitionsDefinition, MultiPartitionKey, MultiPartitionsDefinition

COMPOSITES_PARTITION_SET = "gips_composites"
YEARS_PARTITION_SET = "gips_years"

#: Composites are added by ``gips_composite_sensor`` (and ``mesh gips report``) from the reference data.
composites = DynamicPartitionsDefinition(name=COMPOSITES_PARTITION_SET)
#: GIPS years (``YYYY``), added in ascending order from the earliest composite inception year.
years = DynamicPartitionsDefinition(name=YEARS_PARTITION_SET)
composite_years = MultiPartitionsDefinition({"composite": composites, "year": years})


def composite_year_key(composite_id: str, year: int) -> MultiPartitionKey:
    """The partition key of one composite-year."""
    return MultiPartitionKey({"composite": composite_id, "year": str(year)})


def split_key(key: MultiPartitionKey | str) -> tuple[str, int]:
    """``(composite id, year)`` of a partition key (``"COMP-01|2026"`` or a MultiPartitionKey)."""
    if isinstance(key, MultiPartitionKey):
        dimensions = key.keys_by_dimension
        return dimensions["composite"], int(dimensions["year"])
    # Dagster orders a multi key's dimensions by name: composite|year. Parsed by hand so that a key whose
    # composite or year is not registered still names both (the asset then says why it cannot run).
    composite_id, _, year = str(key).partition("|")
    return composite_id, int(year)


def years_to_register(inception_years: list[int], current_year: int, known: list[str]) -> list[str]:
    """Years missing from ``known``: from the earliest inception year to ``current_year``, ascending."""
    if not inception_years:
        return []
    have = set(known)
    return [str(y) for y in range(min(inception_years), current_year + 1) if str(y) not in have]
