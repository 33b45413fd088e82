"""The earlier years a composite-year's figures need, so that one composite-year launched alone succeeds.

A year's statistics need the composite's monthly returns of the two years before it (the 3-year risk), and its
report presents up to ten years of statistics. Each earlier year is read from the GIPS tables when its
partition is there (written by an earlier run of the composite-year assets, or by the firm-wide book
``gips/annual_book``); the others are computed here, in memory, through the same engine calls the per-partition
assets make, with every intermediate frame passed through its table's schema exactly as an Iceberg write and read
would (so the figures, and the report built from them, are the ones an in-order materialization gives). The
warehouse inputs of the computed years are read once for their whole span; nothing computed here is written:
those composite-years stay unmaterialized until they are launched (or the book runs).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from mesh_assets.gips import tables

if TYPE_CHECKING:
    from mesh_assets.gips.inputs import WarehouseReads
    from mesh_assets.gips.storage import GipsStore
    from mesh_assets.lib.lakehouse.tables import TableSpec

#: Years of composite monthly returns the 3-year risk needs before a year.
RISK_HISTORY_YEARS = 2
#: The GIPS tables a year's statistics and report read of the years before it.
HISTORY_TABLES = (tables.COMPOSITE_MONTHLY_RETURNS, tables.COMPOSITE_ANNUAL_STATISTICS)


@dataclass
class EarlierYears:
    """Earlier composite-years of one composite: stored ones read from the GIPS tables, the rest computed."""

    store: GipsStore
    reads: WarehouseReads
    composite: dict[str, Any]
    weighting_method: str
    dispersion_measure: str
    computed: dict[int, dict[str, pd.DataFrame]] = field(default_factory=dict)

    @property
    def composite_id(self) -> str:
        """The composite these years belong to."""
        return str(self.composite["composite_id"])

    def frame(self, spec: TableSpec, years: list[int]) -> pd.DataFrame:
        """Rows of ``spec`` for ``years`` (as ``GipsStore.read`` returns them), computing the years not stored."""
        stored = self.store.existing_years(spec, self.composite_id, years)
        missing = [y for y in years if y not in stored]
        if missing:
            self._compute_through(max(missing))
        frames = []
        if stored:
            frames.append(self.store.read(spec, self.composite_id, stored))
        frames += [self.computed[y][spec.identifier] for y in missing]
        frames = [f for f in frames if len(f)]
        if not frames:
            return _empty_like(spec)
        return _sorted(pd.concat(frames, ignore_index=True))

    def _compute_through(self, last_year: int) -> None:
        """Compute every year from the composite's inception (or the last computed) through ``last_year``."""
        inception_year = int(str(self.composite["inception_date"])[:4])
        first_year = max(self.computed, default=inception_year - 1) + 1
        if first_year > last_year:
            return
        inputs = _SpanInputs.read(self.reads, self.composite_id, first_year, last_year)
        for year in range(first_year, last_year + 1):
            self.computed[year] = self._compute_year(year, inputs)

    def _compute_year(self, year: int, inputs: _SpanInputs) -> dict[str, pd.DataFrame]:
        """The four GIPS tables' rows of one year, as the per-partition assets would store them."""
        from mesh_assets.lib.gips import (
            annual_statistics,
            benchmark_monthly_returns,
            composite_membership,
            composite_monthly_returns,
            portfolio_monthly_returns,
        )
        from mesh_assets.lib.gips.composite_year import policy_of

        cid, store = self.composite_id, self.store
        fees = dict(zip(inputs.portfolios["portfolio_id"], inputs.portfolios["fee_schedule"], strict=True))
        monthly = store.as_stored(tables.PORTFOLIO_MONTHLY_RETURNS, portfolio_monthly_returns(
            inputs.daily_of(year), inputs.sessions_between(dt.date(year, 1, 1), dt.date(year, 12, 31)), fees),
            cid, year)
        membership = store.as_stored(tables.COMPOSITE_MEMBERSHIP, composite_membership(
            monthly, inputs.portfolios, policy_of(self.composite), data_through=inputs.data_through), cid, year)
        first, last = dt.date(year - 1, 12, 1), dt.date(year, 12, 31)
        benchmark = benchmark_monthly_returns(inputs.levels_between(first, last), inputs.sessions_between(first, last))
        result = composite_monthly_returns(monthly, membership, benchmark, self.weighting_method)
        result.insert(result.columns.get_loc("benchmark_return"), "benchmark_id", self.composite["benchmark_id"])
        composite_monthly = store.as_stored(tables.COMPOSITE_MONTHLY_RETURNS, result, cid, year)
        figures = {tables.PORTFOLIO_MONTHLY_RETURNS.identifier: monthly,
                   tables.COMPOSITE_MEMBERSHIP.identifier: membership,
                   tables.COMPOSITE_MONTHLY_RETURNS.identifier: composite_monthly}
        if composite_monthly.empty:
            figures[tables.COMPOSITE_ANNUAL_STATISTICS.identifier] = _empty_like(tables.COMPOSITE_ANNUAL_STATISTICS)
            return figures
        history_years = list(range(max(int(str(self.composite["inception_date"])[:4]), year - RISK_HISTORY_YEARS),
                                   year))
        earlier = [self.computed[y][tables.COMPOSITE_MONTHLY_RETURNS.identifier] for y in history_years]
        history = _sorted(pd.concat([f for f in [*earlier, composite_monthly] if len(f)], ignore_index=True))
        period_end = str(composite_monthly["month_last_session"].max())
        stats = annual_statistics(year, history, monthly, membership, self.reads.firm_assets(period_end),
                                  self.dispersion_measure, composite_id=cid)
        row = pd.DataFrame([stats.as_dict()]).drop(columns=["year"])
        figures[tables.COMPOSITE_ANNUAL_STATISTICS.identifier] = store.as_stored(
            tables.COMPOSITE_ANNUAL_STATISTICS, row, cid, year)
        return figures

    def provenance(self) -> dict[str, Any]:
        """What the report records of the years computed here (none stored): the years and the reads behind them."""
        return {"years": sorted(self.computed), "warehouse": self.reads.fingerprints} if self.computed else {}


@dataclass
class _SpanInputs:
    """The warehouse inputs of a span of years, read once."""

    portfolios: pd.DataFrame
    daily: pd.DataFrame
    sessions: list[dt.date]
    levels: pd.DataFrame
    data_through: dt.date | None

    @classmethod
    def read(cls, reads: WarehouseReads, composite_id: str, first_year: int, last_year: int) -> _SpanInputs:
        """One query per input for ``first_year`` .. ``last_year`` (benchmark levels from the December before)."""
        first, last = dt.date(first_year - 1, 12, 1), dt.date(last_year, 12, 31)
        composite = reads.composite(composite_id)
        return cls(reads.portfolios(composite_id), reads.daily_returns_between(composite_id, first_year, last_year),
                   reads.sessions(first, last), reads.benchmark_levels(composite["benchmark_id"], first, last),
                   reads.data_through())

    def daily_of(self, year: int) -> pd.DataFrame:
        """The year's daily returns, in the order the one-year query returns them."""
        days = pd.to_datetime(self.daily["as_of_date"])
        return self.daily[days.dt.year == year].reset_index(drop=True)

    def sessions_between(self, first: dt.date, last: dt.date) -> list[dt.date]:
        """The sessions from ``first`` to ``last``."""
        return [d for d in self.sessions if first <= d <= last]

    def levels_between(self, first: dt.date, last: dt.date) -> pd.DataFrame:
        """The benchmark levels from ``first`` to ``last``."""
        days = pd.to_datetime(self.levels["level_date"]).dt.date
        return self.levels[(days >= first) & (days <= last)].reset_index(drop=True)


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows in the order ``GipsStore.read`` returns them."""
    keys = [c for c in ("year", "portfolio_id", "month") if c in frame.columns]
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def _empty_like(spec: TableSpec) -> pd.DataFrame:
    """No rows, with the columns ``GipsStore.read`` returns for ``spec``."""
    return spec.schema.empty_table().to_pandas().drop(columns=[tables.PARTITION_COLUMN, "composite_id"])
