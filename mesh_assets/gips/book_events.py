"""What the firm-wide book records of each composite-year it computed, so the UI shows them materialized.

``gips/annual_book`` writes the same GIPS tables and report files as the six per-composite-year assets. For
each composite-year of its step it records a materialization of each of those assets at that composite × year
partition (row counts, the snapshot id of the table's commit, the report files), and the composite-year's
check verdicts as check evaluations of that partition, all attributed to the book's run.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckSeverity,
    AssetKey,
    AssetMaterialization,
    MetadataValue,
)

from mesh_assets.gips import tables
from mesh_assets.gips.partitions import composite_year_key
from mesh_assets.shared.check_results import check_metadata

if TYPE_CHECKING:
    from mesh_assets.lib.gips.composite_year import CompositeYear

ANNUAL_BOOK = AssetKey(["gips", "annual_book"])
#: The per-composite-year asset each GIPS table belongs to.
TABLE_ASSETS = {
    tables.PORTFOLIO_MONTHLY_RETURNS.identifier: AssetKey(["gips", "portfolio_monthly_returns"]),
    tables.COMPOSITE_MEMBERSHIP.identifier: AssetKey(["gips", "composite_membership"]),
    tables.COMPOSITE_MONTHLY_RETURNS.identifier: AssetKey(["gips", "composite_monthly_returns"]),
    tables.COMPOSITE_ANNUAL_STATISTICS.identifier: AssetKey(["gips", "composite_annual_statistics"]),
}
#: The asset whose step evaluates each GIPS check in the per-composite-year job.
CHECK_ASSETS = {
    "monthly_returns_plausible": AssetKey(["gips", "portfolio_monthly_returns"]),
    "member_months_have_returns": AssetKey(["gips", "composite_membership"]),
    "composite_assets_reconcile": AssetKey(["gips", "composite_monthly_returns"]),
    "benchmark_series_complete": AssetKey(["gips", "composite_monthly_returns"]),
    "firm_assets_cover_composite": AssetKey(["gips", "composite_annual_statistics"]),
}
DEFINITION = AssetKey(["gips", "composite_definition"])
REPORT = AssetKey(["gips", "annual_report"])


def composite_year_events(
    figures: CompositeYear, composite: Mapping[str, Any], writes: Mapping[str, Any], files: Mapping[str, Any],
) -> Iterator[AssetMaterialization | AssetCheckEvaluation]:
    """Materializations of the six per-composite-year assets and the check evaluations of one composite-year.

    ``writes``: the year's commits by table identifier; ``files``: the report files written for this
    composite-year by name (empty when the year has no statistics, so no report).
    """
    from mesh_assets.gips.definition import DEFINITION_FIELDS

    key = composite_year_key(figures.composite_id, figures.year)
    common = {"computed_by": MetadataValue.asset(ANNUAL_BOOK)}
    yield AssetMaterialization(asset_key=DEFINITION, partition=key, metadata={
        **common, "composite_id": figures.composite_id, "year": figures.year,
        "definition": MetadataValue.json({k: composite[k] for k in DEFINITION_FIELDS})})
    frames = {tables.PORTFOLIO_MONTHLY_RETURNS.identifier: figures.monthly,
              tables.COMPOSITE_MEMBERSHIP.identifier: figures.membership,
              tables.COMPOSITE_MONTHLY_RETURNS.identifier: figures.composite_monthly}
    for table, asset_key in TABLE_ASSETS.items():
        outcome = writes[table]
        rows = len(frames[table]) if table in frames else int(figures.statistics is not None)
        yield AssetMaterialization(asset_key=asset_key, partition=key, metadata={
            **common, "dagster/row_count": rows, "table": table, "snapshot_id": str(outcome.snapshot_id),
            "committed": outcome.committed})
    for name, verdict in figures.verdicts.items():
        yield AssetCheckEvaluation(
            asset_key=CHECK_ASSETS[name], check_name=name, passed=bool(verdict.passed), partition=key, blocking=True,
            severity=AssetCheckSeverity.WARN if verdict.warn_only else AssetCheckSeverity.ERROR,
            description=verdict.description, metadata=check_metadata(verdict))
    if files:
        yield AssetMaterialization(asset_key=REPORT, partition=key, metadata={
            **common, "files": MetadataValue.json(dict(files)),
            "report_pdf": MetadataValue.url(files["gips_report.pdf"]["uri"]),
            "json_sha256": files["gips_report.json"]["sha256"]})
