"""What the GIPS assets read from the warehouse (gold and silver), with a fingerprint of each read.

Warehouse tables (DuckDB locally, Athena in aws) have no snapshot id a reader can pin, so every read
records its row count and the SHA-256 of its rows: the report embeds them, and the same inputs give
the same fingerprint.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from resources.warehouse import WarehouseResource

_SAFE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def safe_id(value: str, what: str) -> str:
    """``value`` if it is a plain identifier (used inside SQL literals); ValueError naming it otherwise."""
    if not _SAFE_ID.match(value):
        raise ValueError(f"{what} {value!r} is not a plain identifier (letters, digits, '_', '.', '-')")
    return value


@dataclass
class WarehouseReads:
    """Runs the GIPS queries and remembers what each returned (rows and SHA-256) for the report."""

    warehouse: WarehouseResource
    fingerprints: dict[str, dict[str, Any]] = field(default_factory=dict)

    def frame(self, name: str, sql: str, columns: tuple[str, ...]) -> pd.DataFrame:
        """The result of ``sql`` as a frame with ``columns`` (in order), fingerprinted under ``name``."""
        from mesh_assets.lib.lakehouse.partition_versions import content_sha256

        table = self.warehouse.query(sql)
        table = table.rename_columns(list(columns))
        self.fingerprints[name] = {"rows": table.num_rows, "sha256": content_sha256(table)}
        return table.to_pandas()

    def composite(self, composite_id: str) -> dict[str, Any]:
        """The composite's reference row; ValueError naming it when unknown."""
        record = self.composite_or_none(composite_id)
        if record is None:
            raise ValueError(f"composite {composite_id} is not in silver.composites: no GIPS figures can be computed")
        return record

    def composite_or_none(self, composite_id: str) -> dict[str, Any] | None:
        """The composite's reference row, or None when the firm has no such composite."""
        if not _SAFE_ID.match(composite_id):
            return None
        rows = self.frame("silver.composites", f"""
            select composite_id, composite_name, strategy, benchmark_id, currency, inception_date, creation_date,
                   description, min_portfolio_size, significant_cash_flow_pct
            from silver.composites where composite_id = '{composite_id}'""", (
            "composite_id", "composite_name", "strategy", "benchmark_id", "currency", "inception_date",
            "creation_date", "description", "min_portfolio_size", "significant_cash_flow_pct"))
        if rows.empty:
            return None
        record = rows.iloc[0].to_dict()
        record["inception_date"] = pd.Timestamp(record["inception_date"]).date().isoformat()
        record["creation_date"] = pd.Timestamp(record["creation_date"]).date().isoformat()
        return record

    def benchmark(self, benchmark_id: str) -> dict[str, Any]:
        """The benchmark's reference row."""
        bid = safe_id(benchmark_id, "benchmark")
        rows = self.frame("silver.benchmarks", f"""
            select benchmark_id, benchmark_name, provider, currency from silver.benchmarks
            where benchmark_id = '{bid}'""", ("benchmark_id", "benchmark_name", "provider", "currency"))
        if rows.empty:
            raise ValueError(f"benchmark {benchmark_id} is not in silver.benchmarks")
        return rows.iloc[0].to_dict()

    def portfolios(self, composite_id: str) -> pd.DataFrame:
        """The composite's portfolios with fee schedules and management dates."""
        cid = safe_id(composite_id, "composite")
        return self.frame("silver.portfolios", f"""
            select portfolio_id, discretionary, inception_date, termination_date, fee_schedule
            from silver.portfolios where composite_id = '{cid}' order by portfolio_id""",
            ("portfolio_id", "discretionary", "inception_date", "termination_date", "fee_schedule"))

    def daily_returns(self, composite_id: str, year: int) -> pd.DataFrame:
        """Daily returns of the composite's portfolios in ``year``."""
        return self._daily_returns(composite_id, year, year, "gold.daily_returns")

    def daily_returns_between(self, composite_id: str, first_year: int, last_year: int) -> pd.DataFrame:
        """Daily returns of the composite's portfolios from ``first_year`` to ``last_year`` (one query)."""
        return self._daily_returns(composite_id, first_year, last_year,
                                   f"gold.daily_returns.{first_year}-{last_year}")

    def _daily_returns(self, composite_id: str, first_year: int, last_year: int, name: str) -> pd.DataFrame:
        cid = safe_id(composite_id, "composite")
        return self.frame(name, f"""
            select d.portfolio_id, d.as_of_date, d.begin_value, d.end_value, d.external_flow, d.daily_return,
                   d.return_status
            from gold.daily_returns as d
            inner join silver.portfolios as p on p.portfolio_id = d.portfolio_id
            where p.composite_id = '{cid}'
              and d.as_of_date between date '{first_year}-01-01' and date '{last_year}-12-31'
            order by d.portfolio_id, d.as_of_date""", (
            "portfolio_id", "as_of_date", "begin_value", "end_value", "external_flow", "daily_return",
            "return_status"))

    def sessions(self, first: dt.date, last: dt.date) -> list[dt.date]:
        """NYSE sessions between ``first`` and ``last`` (the calendar seed)."""
        rows = self.frame("silver.nyse_trading_days", f"""
            select trading_day from silver.nyse_trading_days
            where trading_day between date '{first.isoformat()}' and date '{last.isoformat()}'
            order by trading_day""", ("trading_day",))
        return [pd.Timestamp(d).date() for d in rows["trading_day"]]

    def benchmark_levels(self, benchmark_id: str, first: dt.date, last: dt.date) -> pd.DataFrame:
        """The benchmark's daily levels between ``first`` and ``last``."""
        bid = safe_id(benchmark_id, "benchmark")
        return self.frame("silver.benchmark_levels", f"""
            select level_date, level from silver.benchmark_levels
            where benchmark_id = '{bid}' and level_date between date '{first.isoformat()}' and date '{last.isoformat()}'
            order by level_date""", ("level_date", "level"))

    def data_through(self) -> dt.date | None:
        """The last day gold.daily_returns holds (months ending later are still in progress)."""
        rows = self.frame("gold.daily_returns.max_day", "select max(as_of_date) from gold.daily_returns",
                          ("as_of_date",))
        value = rows["as_of_date"].iat[0]
        return None if pd.isna(value) else pd.Timestamp(value).date()

    def firm_assets(self, day: str) -> float:
        """Total firm assets (every portfolio, discretionary or not) at the close of ``day``."""
        as_of = dt.date.fromisoformat(day)
        rows = self.frame("gold.portfolio_daily_values", f"""
            select count(*), coalesce(sum(end_value), 0) from gold.portfolio_daily_values
            where as_of_date = date '{as_of.isoformat()}'""", ("portfolios", "firm_assets"))
        if int(rows["portfolios"].iat[0]) == 0:
            raise ValueError(f"gold.portfolio_daily_values has no row for {day}: firm assets are unknown")
        return float(rows["firm_assets"].iat[0])


@dataclass
class FirmWideReads(WarehouseReads):
    """The GIPS reads of every composite at once (one query per table and year), for the firm-wide book."""

    def composites(self) -> pd.DataFrame:
        """Every composite's reference row (dates as ISO strings)."""
        rows = self.frame("silver.composites", """
            select composite_id, composite_name, strategy, benchmark_id, currency, inception_date, creation_date,
                   description, min_portfolio_size, significant_cash_flow_pct
            from silver.composites order by composite_id""", (
            "composite_id", "composite_name", "strategy", "benchmark_id", "currency", "inception_date",
            "creation_date", "description", "min_portfolio_size", "significant_cash_flow_pct"))
        for column in ("inception_date", "creation_date"):
            rows[column] = [pd.Timestamp(d).date().isoformat() for d in rows[column]]
        return rows

    def benchmarks(self) -> pd.DataFrame:
        """Every benchmark's reference row."""
        return self.frame("silver.benchmarks", "select benchmark_id, benchmark_name, provider, currency "
                          "from silver.benchmarks order by benchmark_id",
                          ("benchmark_id", "benchmark_name", "provider", "currency"))

    def all_portfolios(self) -> pd.DataFrame:
        """Every portfolio that belongs to a composite, with its composite, fee schedule and dates."""
        return self.frame("silver.portfolios", """
            select portfolio_id, composite_id, discretionary, inception_date, termination_date, fee_schedule
            from silver.portfolios where composite_id is not null order by portfolio_id""",
            ("portfolio_id", "composite_id", "discretionary", "inception_date", "termination_date", "fee_schedule"))

    def all_daily_returns(self, year: int) -> pd.DataFrame:
        """Daily returns of every composite portfolio in ``year``."""
        return self.frame(f"gold.daily_returns.{year}", f"""
            select d.portfolio_id, d.as_of_date, d.begin_value, d.end_value, d.external_flow, d.daily_return,
                   d.return_status
            from gold.daily_returns as d
            inner join silver.portfolios as p on p.portfolio_id = d.portfolio_id
            where p.composite_id is not null
              and d.as_of_date between date '{year}-01-01' and date '{year}-12-31'
            order by d.portfolio_id, d.as_of_date""", (
            "portfolio_id", "as_of_date", "begin_value", "end_value", "external_flow", "daily_return",
            "return_status"))

    def all_benchmark_levels(self, first: dt.date, last: dt.date) -> pd.DataFrame:
        """Every benchmark's daily levels between ``first`` and ``last``."""
        return self.frame(f"silver.benchmark_levels.{first.year}-{last.year}", f"""
            select benchmark_id, level_date, level from silver.benchmark_levels
            where level_date between date '{first.isoformat()}' and date '{last.isoformat()}'
            order by benchmark_id, level_date""", ("benchmark_id", "level_date", "level"))

    def firm_assets_by_day(self, year: int) -> dict[str, float]:
        """Total firm assets (every portfolio) at the close of each day of ``year`` (ISO day -> amount)."""
        rows = self.frame(f"gold.portfolio_daily_values.{year}", f"""
            select as_of_date, sum(end_value) from gold.portfolio_daily_values
            where as_of_date between date '{year}-01-01' and date '{year}-12-31' group by 1 order by 1""",
            ("as_of_date", "firm_assets"))
        return {pd.Timestamp(d).date().isoformat(): float(v) for d, v in zip(rows["as_of_date"],
                                                                             rows["firm_assets"], strict=True)}
