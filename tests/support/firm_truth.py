"""The synthetic firm's economic truth, recomputed from the generator (independently of the pipeline)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass


@dataclass(frozen=True)
class FirmTruth:
    """True holdings, cash and market value per portfolio at the close of the last trading day."""

    last_day: dt.date
    holdings: dict[tuple[str, str], int]
    cash: dict[str, float]
    value: dict[str, float]


def firm_truth(scale: str, seed: int, end_date: dt.date) -> FirmTruth:
    """Re-run the generator's stages that decide what really happened, and value the book at the last close."""
    from mesh_dev.firm.history_window import build_window
    from mesh_dev.firm.market_data import build_market_data
    from mesh_dev.firm.randomness import stage_rng
    from mesh_dev.firm.reference import build_reference
    from mesh_dev.firm.scales import get_scale
    from mesh_dev.firm.trading import MICRO_PER_CENT, simulate_trading

    firm_scale = get_scale(scale)
    window = build_window(end_date, firm_scale.trading_days)
    reference = build_reference(firm_scale, window, stage_rng(seed, "reference"))
    market = build_market_data(len(window.days), firm_scale.securities, firm_scale.benchmarks,
                               firm_scale.late_prices, stage_rng(seed, "market_data"))
    book = simulate_trading(reference, market.closes_micro, window, firm_scale, stage_rng(seed, "trading"))
    holdings: dict[tuple[str, str], int] = defaultdict(int)
    cash_micro: dict[str, int] = defaultdict(int)
    for trade in book.trades():
        portfolio = reference.portfolios[trade.portfolio].portfolio_id
        security = reference.securities[trade.security].security_id
        signed = trade.quantity if trade.side == "BUY" else -trade.quantity
        holdings[(portfolio, security)] += signed
        cash_micro[portfolio] -= signed * trade.price_micro
    for flow in book.flows():
        cash_micro[reference.portfolios[flow.portfolio].portfolio_id] += flow.amount_cents * MICRO_PER_CENT
    last = len(window.days) - 1
    closes = market.closes_micro[last]
    index = {s.security_id: i for i, s in enumerate(reference.securities)}
    value: dict[str, float] = defaultdict(float)
    for (portfolio, security), quantity in holdings.items():
        value[portfolio] += quantity * int(closes[index[security]]) / 1e6
    cash = {p: c / 1e6 for p, c in cash_micro.items()}
    for portfolio, amount in cash.items():
        value[portfolio] += amount
    return FirmTruth(window.days[last], {k: v for k, v in holdings.items() if v}, cash, dict(value))
