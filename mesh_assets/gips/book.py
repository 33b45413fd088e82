"""The firm-wide GIPS book: every composite of a year, computed in one step through the vectorised engine.

``gips/annual_book`` is partitioned by GIPS year only (one-dimensional, with a single-run backfill policy):
a backfill over all years is ONE run whose step sees every year and computes them in order; a year is
one portfolio-monthly-returns call over every portfolio of the firm, then each composite's membership,
composite returns, statistics and checks from memory, one Iceberg commit per GIPS table, and each
composite's report files. It writes the same tables and files as the per-composite-year assets (same engine
functions, same figures), which stay the small path compliance launches for one composite-year, and records each
composite-year it computed as a materialization of those assets' partition, with the composite-year's check
verdicts (``mesh_assets.gips.book_events``): the UI shows them materialized by the book's run.
"""

import warnings
from typing import Any

from dagster import (
    AllPartitionMapping,
    AssetCheckResult,
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    BetaWarning,
    MaterializeResult,
    MetadataValue,
    asset,
)

from mesh_assets.gips.assets import (
    BENCHMARK_LEVELS,
    BENCHMARKS,
    COMPOSITES,
    DAILY_RETURNS,
    DAILY_VALUES,
    POOL,
    PORTFOLIOS,
    TRADING_DAYS,
    CompositeReturnConfig,
)
from mesh_assets.gips.partitions import years
from mesh_assets.lib.ownership import COMPLIANCE
from resources.iceberg import IcebergCatalogResource
from resources.reports import ReportStoreResource
from resources.warehouse import WarehouseResource

ANNUAL_BOOK = AssetKey(["gips", "annual_book"])
CHECK = "every_composite_year_passes_gips_checks"


class BookConfig(CompositeReturnConfig):
    """The same choices the per-composite-year assets take (defaults identical)."""

    dispersion_measure: str = "asset_weighted"
    plausible_monthly_return: float = 0.30


# A single-run backfill is what makes every year one run; Dagster still labels the parameter beta.
# Silence that label here only, not other warnings and not process-wide.
with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=BetaWarning)
    _book_asset = asset(
        key=ANNUAL_BOOK, group_name="gips", partitions_def=years, kinds={"iceberg", "pdf", "python"},
        owners=[COMPLIANCE], pool=POOL, backfill_policy=BackfillPolicy.single_run(),
        deps=[AssetDep(DAILY_RETURNS, partition_mapping=AllPartitionMapping()),
              AssetDep(DAILY_VALUES, partition_mapping=AllPartitionMapping()), PORTFOLIOS, COMPOSITES, BENCHMARKS,
              TRADING_DAYS, BENCHMARK_LEVELS],
        check_specs=[AssetCheckSpec(CHECK, asset=ANNUAL_BOOK, blocking=True,
                                    description="the five GIPS checks pass for every composite-year of the book")],
        description="The firm's GIPS book for the year(s): every composite-year's figures (the gips tables) and "
                    "report files, computed in one step; a backfill over all years is one run. Each "
                    "composite-year it computes is recorded as a materialization of the per-composite-year "
                    "assets' partition.",
    )


@_book_asset
def annual_book(
    context: AssetExecutionContext, config: BookConfig, iceberg: IcebergCatalogResource,
    warehouse: WarehouseResource, reports: ReportStoreResource,
) -> MaterializeResult:
    """Every composite-year of the partition's years, in ascending order, then their reports."""
    from mesh_assets.gips.book_events import composite_year_events
    from mesh_assets.gips.book_year import BookState, compute_year, write_reports

    state = BookState.open(iceberg, warehouse)
    requested = sorted(int(k) for k in context.partition_keys)
    verdicts: dict[str, dict[str, Any]] = {}
    counts: dict[str, int] = {}
    for year in requested:
        figures = compute_year(state, year, config, context.run.run_id, verdicts)
        files = write_reports(state, year, figures, reports)
        counts[str(year)] = len(files)
        # each composite-year's six assets (and its checks) show as materialized by this run, partition by partition
        composites = {c["composite_id"]: c for c in state.composites_of(year)}
        for one in figures:
            prefix = f"{one.composite_id}/"
            own = {name.removeprefix(prefix): entry for name, entry in files.items() if name.startswith(prefix)}
            for event in composite_year_events(one, composites[one.composite_id], state.writes[year], own):
                context.log_event(event)
        context.log.info(f"GIPS book {year}: {len(figures)} composite-years, {len(files)} reports")
    failed = {name: v for name, v in verdicts.items() if v["failed"]}
    return MaterializeResult(
        metadata={
            "years": MetadataValue.json(requested),
            "reports_per_year": MetadataValue.json(counts),
            "composite_years": len(state.computed),
            "inputs": MetadataValue.json(state.reads.fingerprints),
        },
        check_results=[AssetCheckResult(
            check_name=CHECK, passed=not failed,
            description=("all five GIPS checks passed for every composite-year" if not failed else
                         f"{sum(v['failed'] for v in failed.values())} failed verdict(s): {sorted(failed)}"),
            metadata={"verdicts": MetadataValue.json(verdicts), "years": MetadataValue.json(requested)},
        )],
    )
