"""The GIPS assets (group ``gips``), partitioned by composite × year, materialized on demand by compliance.

composite_definition -> portfolio_monthly_returns -> composite_membership -> composite_monthly_returns
-> composite_annual_statistics -> annual_report. Each step reads its inputs from the warehouse (gold/silver)
or from the GIPS Iceberg tables its upstream wrote, so every figure is reproducible from recorded inputs; the math is in
``mesh_assets.lib.gips`` (no Dagster there).
"""

import datetime as dt
from typing import TYPE_CHECKING, Any

from dagster import (
    AllPartitionMapping,
    AssetCheckSpec,
    AssetDep,
    AssetExecutionContext,
    AssetKey,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from mesh_assets.gips import tables
from mesh_assets.gips.definition import COMPOSITE_DEFINITION, composite_definition, requested
from mesh_assets.gips.partitions import composite_years
from mesh_assets.lib.ownership import COMPLIANCE, PERFORMANCE
from mesh_assets.shared.check_results import to_check_result
from resources.iceberg import IcebergCatalogResource
from resources.reports import ReportStoreResource
from resources.warehouse import WarehouseResource

if TYPE_CHECKING:
    import pandas as pd

GROUP = "gips"
POOL = "warehouse"
DAILY_RETURNS = AssetKey(["gold", "performance", "daily_returns"])
DAILY_VALUES = AssetKey(["gold", "performance", "portfolio_daily_values"])
PORTFOLIOS = AssetKey(["silver", "reference", "portfolios"])
COMPOSITES = AssetKey(["silver", "reference", "composites"])
BENCHMARKS = AssetKey(["silver", "reference", "benchmarks"])
TRADING_DAYS = AssetKey(["silver", "reference", "nyse_trading_days"])
BENCHMARK_LEVELS = AssetKey(["silver", "market", "benchmark_levels"])
PORTFOLIO_MONTHLY = AssetKey(["gips", "portfolio_monthly_returns"])
MEMBERSHIP = AssetKey(["gips", "composite_membership"])
COMPOSITE_MONTHLY = AssetKey(["gips", "composite_monthly_returns"])
ANNUAL_STATISTICS = AssetKey(["gips", "composite_annual_statistics"])
ANNUAL_REPORT = AssetKey(["gips", "annual_report"])


class MonthlyReturnsConfig(Config):
    """The plausibility bound of the monthly-return check (compliance may tighten or widen it)."""

    plausible_monthly_return: float = Field(
        default=0.30, gt=0, description="largest plausible |monthly return| of a portfolio (fraction)")


class CompositeReturnConfig(Config):
    """How the composite's monthly return weights its members (recorded in every row and the report)."""

    weighting_method: str = Field(
        default="beginning_value_plus_weighted_flows",
        description="beginning_value (GIPS a) | beginning_value_plus_weighted_flows (b) | aggregate (c)")


class DispersionConfig(Config):
    """The internal dispersion measure (recorded in the statistics and the report)."""

    dispersion_measure: str = Field(default="asset_weighted", description="asset_weighted | equal_weighted")


def _reads(warehouse: WarehouseResource):
    from mesh_assets.gips.inputs import WarehouseReads

    return WarehouseReads(warehouse)


def _store(iceberg: IcebergCatalogResource, track: bool = False):
    from mesh_assets.gips.storage import GipsStore

    return GipsStore(iceberg, read_versions={} if track else None)


def _written(version, frame: "pd.DataFrame", inputs: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    metadata = {
        "dagster/row_count": len(frame),
        "snapshot_id": str(version.snapshot_id),
        "content_sha256": version.content_sha256,
        "committed": version.committed,
        "table": version.table,
        **extra,
    }
    if inputs:
        metadata["inputs"] = MetadataValue.json(inputs)
    return metadata


def _policy(composite: dict):
    from mesh_assets.lib.gips import MembershipPolicy

    return MembershipPolicy(min_portfolio_size=float(composite["min_portfolio_size"]),
                            significant_cash_flow_pct=float(composite["significant_cash_flow_pct"]))


def _inception_year(composite: dict) -> int:
    return dt.date.fromisoformat(composite["inception_date"]).year


@asset(
    key=PORTFOLIO_MONTHLY, group_name=GROUP, partitions_def=composite_years, kinds={"iceberg", "python"},
    owners=[PERFORMANCE], pool=POOL,
    deps=[COMPOSITE_DEFINITION, AssetDep(DAILY_RETURNS, partition_mapping=AllPartitionMapping()), PORTFOLIOS,
          TRADING_DAYS],
    check_specs=[AssetCheckSpec("monthly_returns_plausible", asset=PORTFOLIO_MONTHLY, blocking=True,
                                description="gross and net monthly returns are finite and within the plausible "
                                            "bound (default ±30%)")],
    description="Monthly gross and net-of-fee returns of the composite's portfolios: daily true TWR linked by "
                "calendar month; net deducts each portfolio's tiered fee (1/12 of the annual rate per month).",
)
def portfolio_monthly_returns(
    context: AssetExecutionContext, config: MonthlyReturnsConfig, iceberg: IcebergCatalogResource,
    warehouse: WarehouseResource,
) -> MaterializeResult:
    """One row per portfolio and month of the composite-year."""
    from mesh_assets.lib.gips import portfolio_monthly_returns as compute
    from mesh_assets.lib.gips.quality import plausible_monthly_returns

    reads = _reads(warehouse)
    composite_id, year, _ = requested(context, reads)
    portfolios = reads.portfolios(composite_id)
    daily = reads.daily_returns(composite_id, year)
    sessions = reads.sessions(dt.date(year, 1, 1), dt.date(year, 12, 31))
    monthly = compute(daily, sessions, dict(zip(portfolios["portfolio_id"], portfolios["fee_schedule"], strict=True)))
    version = _store(iceberg).write(tables.PORTFOLIO_MONTHLY_RETURNS, monthly, composite_id, year, context.run.run_id)
    return MaterializeResult(
        metadata=_written(version, monthly, reads.fingerprints, portfolios=int(monthly["portfolio_id"].nunique()),
                          months=int(monthly["month"].nunique()), daily_rows=len(daily)),
        check_results=[to_check_result(plausible_monthly_returns(monthly, config.plausible_monthly_return),
                                       "monthly_returns_plausible")],
    )


@asset(
    key=MEMBERSHIP, group_name=GROUP, partitions_def=composite_years, kinds={"iceberg", "python"},
    owners=[PERFORMANCE], pool=POOL, deps=[PORTFOLIO_MONTHLY, PORTFOLIOS, COMPOSITES],
    check_specs=[AssetCheckSpec("member_months_have_returns", asset=MEMBERSHIP, blocking=True,
                                description="every member month has a return for every session; no month missing")],
    description="Membership of each portfolio in each month with its status (member, before its first full month, "
                "after its last, below minimum size, significant cash flow, non-discretionary) and join/leave events.",
)
def composite_membership(
    context: AssetExecutionContext, iceberg: IcebergCatalogResource, warehouse: WarehouseResource
) -> MaterializeResult:
    """Membership history of the composite-year, under the composite's policy."""
    from mesh_assets.lib.gips import composite_membership as compute
    from mesh_assets.lib.gips.quality import member_months_have_returns

    reads = _reads(warehouse)
    composite_id, year, composite = requested(context, reads)
    policy = _policy(composite)
    portfolios = reads.portfolios(composite_id)
    monthly = _store(iceberg).read(tables.PORTFOLIO_MONTHLY_RETURNS, composite_id, [year])
    membership = compute(monthly, portfolios, policy, data_through=reads.data_through())
    version = _store(iceberg).write(tables.COMPOSITE_MEMBERSHIP, membership, composite_id, year, context.run.run_id)
    members = membership[membership["is_member"]]
    return MaterializeResult(
        metadata=_written(version, membership, reads.fingerprints, policy=MetadataValue.json(policy.as_dict()),
                          member_months=len(members), statuses=MetadataValue.json(
                              membership["status"].value_counts().sort_index().to_dict())),
        check_results=[to_check_result(member_months_have_returns(monthly, membership),
                                       "member_months_have_returns")],
    )


@asset(
    key=COMPOSITE_MONTHLY, group_name=GROUP, partitions_def=composite_years, kinds={"iceberg", "python"},
    owners=[PERFORMANCE], pool=POOL, deps=[PORTFOLIO_MONTHLY, MEMBERSHIP, BENCHMARK_LEVELS, TRADING_DAYS],
    check_specs=[
        AssetCheckSpec("composite_assets_reconcile", asset=COMPOSITE_MONTHLY, blocking=True,
                       description="composite begin/end assets equal the sum of member portfolios each month"),
        AssetCheckSpec("benchmark_series_complete", asset=COMPOSITE_MONTHLY, blocking=True,
                       description="every composite month has a benchmark return"),
    ],
    description="The composite's monthly gross and net returns (asset-weighted members), its assets and the "
                "benchmark's monthly return.",
)
def composite_monthly_returns(
    context: AssetExecutionContext, config: CompositeReturnConfig, iceberg: IcebergCatalogResource,
    warehouse: WarehouseResource,
) -> MaterializeResult:
    """One row per month in which the composite has members."""
    from mesh_assets.lib.gips import benchmark_monthly_returns
    from mesh_assets.lib.gips import composite_monthly_returns as compute
    from mesh_assets.lib.gips.quality import benchmark_series_complete, composite_assets_reconcile

    reads = _reads(warehouse)
    composite_id, year, composite = requested(context, reads)
    store = _store(iceberg)
    monthly = store.read(tables.PORTFOLIO_MONTHLY_RETURNS, composite_id, [year])
    membership = store.read(tables.COMPOSITE_MEMBERSHIP, composite_id, [year])
    first, last = dt.date(year - 1, 12, 1), dt.date(year, 12, 31)
    benchmark = benchmark_monthly_returns(reads.benchmark_levels(composite["benchmark_id"], first, last),
                                          reads.sessions(first, last))
    result = compute(monthly, membership, benchmark, config.weighting_method)
    result.insert(result.columns.get_loc("benchmark_return"), "benchmark_id", composite["benchmark_id"])
    version = store.write(tables.COMPOSITE_MONTHLY_RETURNS, result, composite_id, year, context.run.run_id)
    return MaterializeResult(
        metadata=_written(version, result, reads.fingerprints, weighting_method=config.weighting_method,
                          member_months=int(result["members"].sum()) if len(result) else 0),
        check_results=[
            to_check_result(composite_assets_reconcile(result, monthly, membership), "composite_assets_reconcile"),
            to_check_result(benchmark_series_complete(result), "benchmark_series_complete"),
        ],
    )


@asset(
    key=ANNUAL_STATISTICS, group_name=GROUP, partitions_def=composite_years, kinds={"iceberg", "python"},
    owners=[PERFORMANCE], pool=POOL,
    deps=[COMPOSITE_MONTHLY, PORTFOLIO_MONTHLY, MEMBERSHIP,
          AssetDep(DAILY_VALUES, partition_mapping=AllPartitionMapping())],
    check_specs=[AssetCheckSpec("firm_assets_cover_composite", asset=ANNUAL_STATISTICS, blocking=True,
                                description="total firm assets are at least the composite's assets")],
    description="The year's GIPS statistics: gross, net and benchmark returns, number of portfolios, composite "
                "and firm assets, internal dispersion and the 3-year ex-post standard deviations.",
)
def composite_annual_statistics(
    context: AssetExecutionContext, config: DispersionConfig, iceberg: IcebergCatalogResource,
    warehouse: WarehouseResource,
) -> MaterializeResult:
    """One row: the composite-year's line of the GIPS statistics table."""
    from mesh_assets.lib.gips import annual_statistics
    from mesh_assets.lib.gips.quality import firm_assets_cover_composite

    reads = _reads(warehouse)
    composite_id, year, composite = requested(context, reads)
    store = _store(iceberg)
    in_year = store.read(tables.COMPOSITE_MONTHLY_RETURNS, composite_id, [year])
    monthly = store.read(tables.PORTFOLIO_MONTHLY_RETURNS, composite_id, [year])
    membership = store.read(tables.COMPOSITE_MEMBERSHIP, composite_id, [year])
    if in_year.empty:  # before the composite's first full month (or after its last): an empty year
        version = store.write(tables.COMPOSITE_ANNUAL_STATISTICS, _empty_statistics(), composite_id, year,
                              context.run.run_id)
        reason = f"composite {composite_id} has no member in any month of {year}: no statistics for the year"
        context.log.info(reason)
        return MaterializeResult(
            metadata=_written(version, in_year, reads.fingerprints, note=reason),
            check_results=[to_check_result(firm_assets_cover_composite(in_year.assign(
                period_end=[], composite_assets=[], firm_assets=[])), "firm_assets_cover_composite")],
        )
    # the 3-year risk needs the two years before: stored ones read, the others computed in this step
    earlier = _earlier(store, warehouse, composite, str(in_year["weighting_method"].iat[-1]),
                       config.dispersion_measure)
    history_years = list(range(max(_inception_year(composite), year - 2), year))
    history = _history(earlier.frame(tables.COMPOSITE_MONTHLY_RETURNS, history_years), in_year)
    period_end = str(in_year["month_last_session"].max())
    stats = annual_statistics(year, history, monthly, membership, reads.firm_assets(period_end),
                              config.dispersion_measure, composite_id=composite_id)
    import pandas as pd

    row = pd.DataFrame([stats.as_dict()]).drop(columns=["year"])
    version = store.write(tables.COMPOSITE_ANNUAL_STATISTICS, row, composite_id, year, context.run.run_id)
    from mesh_assets.lib.gips.report.document import clean

    return MaterializeResult(
        metadata=_written(version, row, reads.fingerprints, statistics=MetadataValue.json(clean(stats.as_dict())),
                          **_computed_note(earlier)),
        check_results=[to_check_result(firm_assets_cover_composite(pd.DataFrame([stats.as_dict()])),
                                       "firm_assets_cover_composite")],
    )


@asset(
    key=ANNUAL_REPORT, group_name=GROUP, partitions_def=composite_years, kinds={"pdf", "html"},
    owners=[COMPLIANCE], pool=POOL,
    deps=[ANNUAL_STATISTICS, COMPOSITE_MONTHLY, COMPOSITES, BENCHMARKS, PORTFOLIOS],
    description="The GIPS composite report a compliance officer hands to a prospect: statistics of up to ten "
                "years, a composite-vs-benchmark chart and the required disclosures, as PDF, HTML, CSV and JSON. "
                "Materialize one composite-year from here, or run `mesh gips report --composite C --year Y`.",
)
def annual_report(
    context: AssetExecutionContext, iceberg: IcebergCatalogResource, warehouse: WarehouseResource,
    reports: ReportStoreResource,
) -> MaterializeResult:
    """Write the report files; the JSON and CSV are byte-identical for the same inputs."""
    from mesh_assets.lib.gips import parse_fee_schedule
    from mesh_assets.lib.gips.fees import standard_fee_schedule
    from mesh_assets.lib.gips.membership import MembershipPolicy
    from mesh_assets.lib.gips.report.document import PRESENTED_YEARS, build_report

    reads = _reads(warehouse)
    composite_id, year, composite = requested(context, reads)
    benchmark = reads.benchmark(composite["benchmark_id"])
    portfolios = reads.portfolios(composite_id)
    store = _store(iceberg, track=True)
    presented = list(range(max(_inception_year(composite), year - PRESENTED_YEARS + 1), year + 1))
    statistics = store.read(tables.COMPOSITE_ANNUAL_STATISTICS, composite_id, [year])
    composite_monthly = store.read(tables.COMPOSITE_MONTHLY_RETURNS, composite_id, [year])
    if year not in set(statistics["year"]):
        raise Failure(description=f"Composite {composite_id} has no GIPS report for {year}: it had no member in any "
                                  f"month of {year} (a composite's record starts with its first full month).",
                      allow_retries=False, metadata={"composite_id": composite_id, "year": year, "user_error": True})
    # the years presented before this one: stored ones read, the others computed in this step (not written)
    earlier = _earlier(store, warehouse, composite, str(composite_monthly["weighting_method"].iat[-1]),
                       str(statistics["dispersion_measure"].iat[-1]))
    statistics = _history(earlier.frame(tables.COMPOSITE_ANNUAL_STATISTICS, presented[:-1]), statistics)
    composite_monthly = _history(earlier.frame(tables.COMPOSITE_MONTHLY_RETURNS, presented[:-1]), composite_monthly)
    if presented[0] == _inception_year(composite):  # the presented history starts at the composite's start
        composite = {**composite, "inception_date": str(composite_monthly["month_first_session"].min())}
    schedule = standard_fee_schedule(portfolios["fee_schedule"].tolist())
    methods = sorted(set(composite_monthly["weighting_method"]))
    measures = sorted(set(statistics["dispersion_measure"]))
    if len(methods) != 1 or len(measures) != 1:
        raise ValueError(f"composite {composite_id}: the presented years mix weighting methods {methods} or "
                         f"dispersion measures {measures}; rematerialize them with one configuration")
    policy: MembershipPolicy = _policy(composite)
    report = build_report(
        report_year=year, composite=composite, benchmark=benchmark,
        statistics=statistics.to_dict(orient="records"), composite_monthly=composite_monthly,
        fee_schedule=parse_fee_schedule(schedule, context=f"composite {composite_id}"), policy=policy,
        weighting_method=methods[0], dispersion_measure=measures[0],
        inputs={"gips": store.read_versions, "warehouse": reads.fingerprints,
                **({"computed_in_run": earlier.provenance()} if earlier.computed else {})},
    )
    files = render_files(report)
    prefix = f"gips/{composite_id}/{year}"
    written = {name: reports.write(f"{prefix}/{name}", content, content_type)
               for name, (content, content_type) in files.items()}
    return MaterializeResult(metadata={
        "years_presented": MetadataValue.json([int(y) for y in statistics["year"]]),
        "report_pdf": MetadataValue.url(written["gips_report.pdf"]["uri"]),
        "report_html": MetadataValue.url(written["gips_report.html"]["uri"]),
        "files": MetadataValue.json(written),
        "json_sha256": written["gips_report.json"]["sha256"],
        "inputs": MetadataValue.json(report["inputs"]),
        "dagster/row_count": len(statistics),
    })


def _earlier(store, warehouse: WarehouseResource, composite: dict, weighting_method: str, dispersion_measure: str):
    """The composite's earlier years: read where stored, computed (with these methods) where not."""
    from mesh_assets.gips.earlier_years import EarlierYears

    return EarlierYears(store, _reads(warehouse), dict(composite), weighting_method, dispersion_measure)


def _history(earlier: "pd.DataFrame", current: "pd.DataFrame") -> "pd.DataFrame":
    """Earlier years' rows then the year's own, in the order ``GipsStore.read`` gives for all of them."""
    import pandas as pd

    frames = [f for f in (earlier, current) if len(f)]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else (frames or [current])[0]
    return frame.sort_values([c for c in ("year", "month") if c in frame.columns], kind="stable").reset_index(
        drop=True)


def _computed_note(earlier) -> dict[str, Any]:
    """Metadata naming the earlier years computed in the step (not stored), when there were any."""
    if not earlier.computed:
        return {}
    return {"earlier_years_computed": MetadataValue.json(earlier.provenance())}


def _empty_statistics() -> "pd.DataFrame":
    import pandas as pd

    return pd.DataFrame({name: [] for name in tables.COMPOSITE_ANNUAL_STATISTICS.column_names[3:]})


def render_files(report: dict) -> dict[str, tuple[bytes, str]]:
    """The report's files: JSON, CSV, HTML and PDF (name -> (bytes, content type))."""
    from mesh_assets.lib.gips.report.html import render_html
    from mesh_assets.lib.gips.report.pdf import render_pdf
    from mesh_assets.lib.gips.report.serialize import report_json, statistics_csv

    return {
        "gips_report.json": (report_json(report), "application/json"),
        "gips_statistics.csv": (statistics_csv(report), "text/csv"),
        "gips_report.html": (render_html(report).encode(), "text/html"),
        "gips_report.pdf": (render_pdf(report), "application/pdf"),
    }


GIPS_ASSETS = [composite_definition, portfolio_monthly_returns, composite_membership, composite_monthly_returns,
               composite_annual_statistics, annual_report]
