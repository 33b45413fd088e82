"""The GIPS Iceberg tables (namespace ``gips``), one identity partition per composite and year."""

from __future__ import annotations

from mesh_assets.lib.lakehouse.tables import TableSpec

#: Partition column of every GIPS table: ``<composite id>|<year>``, the Dagster partition key.
PARTITION_COLUMN = "composite_year"
_KEY = ((PARTITION_COLUMN, "string"), ("composite_id", "string"), ("year", "int32"))

PORTFOLIO_MONTHLY_RETURNS = TableSpec("gips", "portfolio_monthly_returns", (
    *_KEY, ("portfolio_id", "string"), ("month", "string"), ("month_first_session", "date"),
    ("month_last_session", "date"), ("first_day", "date"), ("last_day", "date"), ("sessions", "int32"),
    ("return_days", "int32"), ("missing_return_days", "int32"), ("begin_value", "double"), ("end_value", "double"),
    ("net_flows", "double"), ("weighted_flows", "double"), ("max_flow_ratio", "double"), ("gross_return", "double"),
    ("fee_rate", "double"), ("net_return", "double"), ("complete", "bool"),
), partition_column=PARTITION_COLUMN)

COMPOSITE_MEMBERSHIP = TableSpec("gips", "composite_membership", (
    *_KEY, ("portfolio_id", "string"), ("month", "string"), ("status", "string"), ("is_member", "bool"),
    ("event", "string"), ("begin_value", "double"), ("end_value", "double"), ("max_flow_ratio", "double"),
), partition_column=PARTITION_COLUMN)

COMPOSITE_MONTHLY_RETURNS = TableSpec("gips", "composite_monthly_returns", (
    *_KEY, ("month", "string"), ("month_first_session", "date"), ("month_last_session", "date"),
    ("members", "int32"), ("incomplete_members", "int32"), ("gross_return", "double"), ("net_return", "double"),
    ("benchmark_id", "string"), ("benchmark_return", "double"), ("composite_begin_assets", "double"),
    ("composite_end_assets", "double"), ("weighting_method", "string"),
), partition_column=PARTITION_COLUMN)

COMPOSITE_ANNUAL_STATISTICS = TableSpec("gips", "composite_annual_statistics", (
    *_KEY, ("period_start", "string"), ("period_end", "string"), ("partial_period", "bool"), ("months", "int32"),
    ("gross_return", "double"), ("net_return", "double"), ("benchmark_return", "double"), ("portfolios", "int32"),
    ("composite_assets", "double"), ("firm_assets", "double"), ("percent_of_firm_assets", "double"),
    ("dispersion", "double"), ("dispersion_measure", "string"), ("dispersion_portfolios", "int32"),
    ("dispersion_note", "string"), ("composite_3yr_std", "double"), ("benchmark_3yr_std", "double"),
    ("std_note", "string"),
), partition_column=PARTITION_COLUMN)


def partition_value(composite_id: str, year: int) -> str:
    """The partition column's value for a composite and year."""
    return f"{composite_id}|{year}"
