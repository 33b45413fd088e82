"""One year of the firm-wide GIPS book: reads once per table, computes every composite, writes once per table."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from mesh_assets.gips import tables

if TYPE_CHECKING:
    from mesh_assets.gips.inputs import FirmWideReads
    from mesh_assets.gips.storage import GipsStore
    from mesh_assets.lib.gips.composite_year import CompositeYear
    from resources.iceberg import IcebergCatalogResource
    from resources.reports import ReportStoreResource
    from resources.warehouse import WarehouseResource

#: Years of composite monthly returns the 3-year risk needs before the year itself.
RISK_HISTORY_YEARS = 2


@dataclass
class BookState:
    """Reference data read once, and every composite-year computed so far in this step."""

    reads: FirmWideReads
    store: GipsStore
    composites: pd.DataFrame
    portfolios: pd.DataFrame
    benchmarks: dict[str, dict[str, Any]]
    data_through: dt.date | None
    computed: dict[tuple[str, int], CompositeYear] = field(default_factory=dict)
    #: Each year's commits, by GIPS table identifier (snapshot ids for the composite-years' materializations).
    writes: dict[int, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def open(cls, iceberg: IcebergCatalogResource, warehouse: WarehouseResource) -> BookState:
        """Read the reference data once for the whole step."""
        from mesh_assets.gips.inputs import FirmWideReads
        from mesh_assets.gips.storage import GipsStore

        reads = FirmWideReads(warehouse)
        benchmarks = {r["benchmark_id"]: r for r in reads.benchmarks().to_dict(orient="records")}
        return cls(reads, GipsStore(iceberg), reads.composites(), reads.all_portfolios(), benchmarks,
                   reads.data_through())

    def composites_of(self, year: int) -> list[dict[str, Any]]:
        """Composites whose first GIPS year (inception year) is ``year`` or earlier."""
        rows = self.composites.to_dict(orient="records")
        return [c for c in rows if int(str(c["inception_date"])[:4]) <= year]

    def earlier(self, spec: tables.TableSpec, attribute: str, keys: list[tuple[str, int]]) -> pd.DataFrame:
        """Frames of ``keys`` from this step's results, or from the GIPS table for those computed before it."""
        missing = [k for k in keys if k not in self.computed]
        frames = [self._from_memory(attribute, k) for k in keys if k in self.computed]
        if missing:
            stored = self.store.read_existing(spec, missing)
            frames.append(stored)
        frames = [f for f in frames if len(f)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def _from_memory(self, attribute: str, key: tuple[str, int]) -> pd.DataFrame:
        figures = self.computed[key]
        if attribute == "statistics":
            return pd.DataFrame([figures.statistics]) if figures.statistics else pd.DataFrame()
        return getattr(figures, attribute).assign(composite_id=key[0], year=key[1])


def compute_year(state: BookState, year: int, config: Any, run_id: str, verdicts: dict[str, Any]) -> list[Any]:
    """Every composite of ``year``: figures in memory, one commit per GIPS table; verdicts tallied by check."""
    from mesh_assets.lib.gips import benchmark_monthly_returns, portfolio_monthly_returns
    from mesh_assets.lib.gips.composite_year import composite_year

    reads = state.reads
    composites = state.composites_of(year)
    ids = {c["composite_id"] for c in composites}
    portfolios = state.portfolios[state.portfolios["composite_id"].isin(ids)]
    daily = reads.all_daily_returns(year)
    daily = daily[daily["portfolio_id"].isin(set(portfolios["portfolio_id"]))]
    sessions = reads.sessions(dt.date(year, 1, 1), dt.date(year, 12, 31))
    monthly_all = portfolio_monthly_returns(daily, sessions, dict(zip(portfolios["portfolio_id"],
                                                                      portfolios["fee_schedule"], strict=True)))
    composite_of = monthly_all["portfolio_id"].map(dict(zip(portfolios["portfolio_id"], portfolios["composite_id"],
                                                            strict=True)))
    first, last = dt.date(year - 1, 12, 1), dt.date(year, 12, 31)
    levels = reads.all_benchmark_levels(first, last)
    bench_sessions = reads.sessions(first, last)
    firm_assets = reads.firm_assets_by_day(year)
    earlier_keys = [(c["composite_id"], y) for c in composites for y in range(year - RISK_HISTORY_YEARS, year)
                    if y >= int(str(c["inception_date"])[:4])]
    earlier = state.earlier(tables.COMPOSITE_MONTHLY_RETURNS, "composite_monthly", earlier_keys)
    figures = []
    for composite in composites:
        cid = composite["composite_id"]
        members = portfolios[portfolios["composite_id"] == cid].drop(columns=["composite_id"]).reset_index(drop=True)
        benchmark = benchmark_monthly_returns(levels[levels["benchmark_id"] == composite["benchmark_id"]]
                                              .drop(columns=["benchmark_id"]), bench_sessions)
        history = (earlier[earlier["composite_id"] == cid].drop(columns=["composite_id"]) if len(earlier)
                   else pd.DataFrame())
        result = composite_year(
            composite=composite, year=year, monthly=monthly_all[composite_of == cid].reset_index(drop=True),
            portfolios=members, benchmark=benchmark, earlier_composite_monthly=history, firm_assets_on=firm_assets,
            data_through=state.data_through, weighting_method=config.weighting_method,
            dispersion_measure=config.dispersion_measure, plausible_monthly_return=config.plausible_monthly_return)
        state.computed[(cid, year)] = result
        figures.append(result)
        for name, verdict in result.verdicts.items():
            tally = verdicts.setdefault(name, {"evaluated": 0, "failed": 0, "first_failure": None})
            tally["evaluated"] += 1
            if not verdict.passed:
                tally["failed"] += 1
                tally["first_failure"] = tally["first_failure"] or f"{cid}|{year}: {verdict.description}"
    state.writes[year] = _write(state, figures, run_id)
    return figures


def _write(state: BookState, figures: list[CompositeYear], run_id: str) -> dict[str, Any]:
    """The year's partitions of the four GIPS tables, one commit each; the commits by table identifier."""
    from mesh_assets.gips.assets import _empty_statistics

    by_key = {(f.composite_id, f.year): f for f in figures}
    statistics = {k: (pd.DataFrame([f.statistics]).drop(columns=["year"]) if f.statistics else _empty_statistics())
                  for k, f in by_key.items()}
    frames = [(tables.PORTFOLIO_MONTHLY_RETURNS, {k: f.monthly for k, f in by_key.items()}),
              (tables.COMPOSITE_MEMBERSHIP, {k: f.membership for k, f in by_key.items()}),
              (tables.COMPOSITE_MONTHLY_RETURNS, {k: f.composite_monthly for k, f in by_key.items()}),
              (tables.COMPOSITE_ANNUAL_STATISTICS, statistics)]
    return {spec.identifier: state.store.write_many(spec, rows, run_id) for spec, rows in frames}


def write_reports(state: BookState, year: int, figures: list[CompositeYear],
                  reports: ReportStoreResource) -> dict[str, Any]:
    """Each composite's report for ``year`` (those with statistics), presenting up to ten years."""
    from mesh_assets.gips.assets import render_files
    from mesh_assets.lib.gips import parse_fee_schedule
    from mesh_assets.lib.gips.composite_year import policy_of
    from mesh_assets.lib.gips.fees import standard_fee_schedule
    from mesh_assets.lib.gips.report.document import PRESENTED_YEARS, build_report

    written = {}
    composites = {c["composite_id"]: c for c in state.composites_of(year)}
    for one in figures:
        if one.statistics is None:
            continue
        cid = one.composite_id
        composite = dict(composites[cid])
        inception_year = int(composite["inception_date"][:4])
        presented = list(range(max(inception_year, year - PRESENTED_YEARS + 1), year + 1))
        keys = [(cid, y) for y in presented]
        statistics = state.earlier(tables.COMPOSITE_ANNUAL_STATISTICS, "statistics", keys)
        monthly = state.earlier(tables.COMPOSITE_MONTHLY_RETURNS, "composite_monthly", keys)
        monthly = monthly.sort_values(["year", "month"]).reset_index(drop=True)
        if presented[0] == inception_year:
            composite["inception_date"] = str(monthly["month_first_session"].min())
        fees = state.portfolios.loc[state.portfolios["composite_id"] == cid, "fee_schedule"].tolist()
        report = build_report(
            report_year=year, composite=composite, benchmark=state.benchmarks[composite["benchmark_id"]],
            statistics=statistics.sort_values("year").to_dict(orient="records"), composite_monthly=monthly,
            fee_schedule=parse_fee_schedule(standard_fee_schedule(fees), context=f"composite {cid}"),
            policy=policy_of(composite), weighting_method=str(monthly["weighting_method"].iat[-1]),
            dispersion_measure=str(statistics["dispersion_measure"].iat[-1]),
            inputs={"warehouse": state.reads.fingerprints, "book": {"year": year}})
        for name, (content, content_type) in render_files(report).items():
            written[f"{cid}/{name}"] = reports.write(f"gips/{cid}/{year}/{name}", content, content_type)
    return written
