"""The reference data as the CSV files the firm delivers: clients, composites, portfolios, securities, benchmarks."""

from __future__ import annotations

from mesh_dev.firm.history_window import HistoryWindow
from mesh_dev.firm.reference import ReferenceData


def csv_bool(value: bool) -> str:
    """Booleans as the CSV files spell them."""
    return "true" if value else "false"


def reference_tables(reference: ReferenceData, window: HistoryWindow) -> dict[str, tuple[list[str], list[list]]]:
    """The reference CSV files: relative path -> (header, rows)."""

    def day(index: int | None) -> str:
        """ISO date of a trading-day index; empty for None."""
        return "" if index is None else window.iso(index)

    return {
        "reference/clients.csv": (
            ["client_id", "client_name", "tenant_id", "aws_account_id", "salesforce_account_id", "region"],
            [
                [c.client_id, c.client_name, c.tenant_id, c.aws_account_id, c.salesforce_account_id, c.region]
                for c in reference.clients
            ],
        ),
        "reference/composites.csv": (
            [
                "composite_id",
                "composite_name",
                "strategy",
                "benchmark_id",
                "currency",
                "inception_date",
                "creation_date",
                "description",
                "min_portfolio_size",
                "significant_cash_flow_pct",
            ],
            [
                [
                    c.composite_id,
                    c.composite_name,
                    c.strategy,
                    c.benchmark_id,
                    c.currency,
                    day(c.inception_index),
                    day(c.creation_index),
                    c.description,
                    c.min_portfolio_size,
                    f"{c.significant_cash_flow_pct:.1f}",
                ]
                for c in reference.composites
            ],
        ),
        "reference/portfolios.csv": (
            [
                "portfolio_id",
                "portfolio_name",
                "client_id",
                "strategy",
                "benchmark_id",
                "composite_id",
                "base_currency",
                "fee_schedule",
                "discretionary",
                "inception_date",
                "termination_date",
            ],
            [
                [
                    p.portfolio_id,
                    p.portfolio_name,
                    p.client_id,
                    p.strategy,
                    p.benchmark_id,
                    p.composite_id,
                    p.base_currency,
                    p.fee_schedule,
                    csv_bool(p.discretionary),
                    day(p.inception_index),
                    day(p.termination_index),
                ]
                for p in reference.portfolios
            ],
        ),
        "reference/securities.csv": (
            ["security_id", "figi", "ticker", "security_name", "asset_class", "sector", "currency", "country"],
            [
                [s.security_id, s.figi, s.ticker, s.security_name, s.asset_class, s.sector, s.currency, s.country]
                for s in reference.securities
            ],
        ),
        "reference/benchmarks.csv": (
            ["benchmark_id", "benchmark_name", "provider", "currency"],
            [[b.benchmark_id, b.benchmark_name, b.provider, b.currency] for b in reference.benchmarks],
        ),
    }
