"""How big a synthetic firm is: the named scales ``small``, ``medium`` and ``large``."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FirmScale:
    """Sizes and edge-case quotas for one synthetic firm.

    The first block is the firm's shape; the second block says how often things happen; the third
    block is the minimum number of each deliberate data-quality edge case the firm must contain.
    """

    name: str
    portfolios: int
    clients: int
    composites: int
    securities: int
    benchmarks: int
    trading_days: int
    holdings_per_portfolio: int
    kafka_partitions: int
    # how often things happen (per active portfolio per trading day, or share of records)
    rebalance_probability: float = 0.05
    flow_probability: float = 0.01
    non_discretionary_share: float = 0.1
    corrected_trade_share: float = 0.03
    cancelled_trade_share: float = 0.015
    corrected_flow_share: float = 0.03
    out_of_order_share: float = 0.01
    # minimum counts of each edge case
    late_prices: int = 4
    large_cash_flows: int = 3
    price_discrepancies: int = 4
    composite_entries: int = 2
    composite_exits: int = 1
    min_corrected_trades: int = 3
    min_cancelled_trades: int = 2
    min_corrected_flows: int = 2
    min_out_of_order_per_topic: int = 2
    malformed_per_kind: int = 2


SCALES: dict[str, FirmScale] = {
    "small": FirmScale(
        name="small",
        portfolios=12,
        clients=6,
        composites=3,
        securities=40,
        benchmarks=3,
        trading_days=60,
        holdings_per_portfolio=8,
        kafka_partitions=6,
    ),
    "medium": FirmScale(
        name="medium",
        portfolios=100,
        clients=30,
        composites=8,
        securities=300,
        benchmarks=5,
        trading_days=504,
        holdings_per_portfolio=20,
        kafka_partitions=12,
        rebalance_probability=0.03,
        late_prices=12,
        large_cash_flows=10,
        price_discrepancies=10,
        composite_entries=8,
        composite_exits=5,
        malformed_per_kind=3,
    ),
    "large": FirmScale(
        name="large",
        portfolios=1000,
        clients=250,
        composites=50,
        securities=2000,
        benchmarks=10,
        trading_days=1260,
        holdings_per_portfolio=30,
        kafka_partitions=24,
        rebalance_probability=0.02,
        flow_probability=0.006,
        late_prices=40,
        large_cash_flows=40,
        price_discrepancies=30,
        composite_entries=60,
        composite_exits=40,
        malformed_per_kind=5,
    ),
}


def get_scale(name: str) -> FirmScale:
    """The scale called ``name``; UserError (a ValueError) listing the known scales otherwise."""
    from mesh_assets.lib.user_errors import UserError

    try:
        return SCALES[name]
    except KeyError:
        raise UserError(f"unknown firm scale {name!r}; choose one of {', '.join(SCALES)}") from None
