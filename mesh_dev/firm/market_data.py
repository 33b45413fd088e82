"""Vendor market data: Bloomberg closing prices (with late deliveries) and FactSet benchmark levels.

Prices follow a discrete geometric Brownian motion driven by one market factor plus idiosyncratic
noise; the benchmarks follow the same market factor, so benchmark and portfolio returns correlate.
Paths are built with ``cumprod`` of ``1 + r`` (no vectorised ``exp``, whose SIMD results can differ
between CPUs), then rounded: prices and levels to 6 dp, benchmark returns to 8 dp.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from mesh_dev.firm.history_window import HistoryWindow
from mesh_dev.firm.reference import ReferenceData

MARKET_DRIFT = 0.0003
MARKET_VOL = 0.010
BENCHMARK_START_LEVEL = 1000.0


@dataclass(frozen=True)
class MarketData:
    """Closing prices and benchmark levels over the history window.

    ``closes`` is ``[day, security]`` in dollars (6 dp), ``closes_micro`` the same in integer
    micro-dollars; ``late_prices`` lists ``(day, security)`` closes delivered one trading day late.
    """

    closes: np.ndarray
    closes_micro: np.ndarray
    benchmark_levels: np.ndarray
    benchmark_returns: np.ndarray
    late_prices: tuple[tuple[int, int], ...]


def build_market_data(
    n_days: int, n_securities: int, n_benchmarks: int, late_count: int, rng: np.random.Generator
) -> MarketData:
    """Simulate ``n_days`` of closes and benchmark levels and pick ``late_count`` late deliveries."""
    market = rng.normal(MARKET_DRIFT, MARKET_VOL, size=n_days)
    market[0] = 0.0

    beta = rng.uniform(0.6, 1.4, size=n_securities)
    idio_vol = rng.uniform(0.008, 0.025, size=n_securities)
    alpha = rng.normal(0.0, 0.0002, size=n_securities)
    start = np.round(10.0 ** rng.uniform(1.0, 2.6, size=n_securities), 2)
    returns = market[:, None] * beta[None, :] + alpha[None, :] + rng.standard_normal((n_days, n_securities)) * idio_vol
    returns[0, :] = 0.0
    np.clip(returns, -0.25, 0.25, out=returns)
    closes = np.round(start[None, :] * np.cumprod(1.0 + returns, axis=0), 6)
    closes = np.maximum(closes, 0.01)

    bm_beta = rng.uniform(0.9, 1.1, size=n_benchmarks)
    bm_returns = market[:, None] * bm_beta[None, :] + rng.standard_normal((n_days, n_benchmarks)) * 0.002
    bm_returns[0, :] = 0.0
    levels = np.round(BENCHMARK_START_LEVEL * np.cumprod(1.0 + bm_returns, axis=0), 6)
    daily = np.zeros_like(levels)
    daily[1:] = np.round(levels[1:] / levels[:-1] - 1.0, 8)
    daily += 0.0  # no negative zeros in the files

    if n_days < 2 and late_count:
        raise ValueError("late prices need at least two trading days")
    picks = np.sort(rng.choice((n_days - 1) * n_securities, size=late_count, replace=False))
    late = tuple((int(p) // n_securities, int(p) % n_securities) for p in picks)
    return MarketData(
        closes=closes,
        closes_micro=np.rint(closes * 1_000_000).astype(np.int64),
        benchmark_levels=levels,
        benchmark_returns=daily,
        late_prices=late,
    )


PRICE_HEADER = ("security_id", "figi", "price_date", "px_last", "currency")
BENCHMARK_HEADER = ("benchmark_id", "level_date", "level", "daily_return")


def price_deliveries(
    market: MarketData, reference: ReferenceData, window: HistoryWindow
) -> Iterator[tuple[str, list[str]]]:
    """One Bloomberg price file per trading day, lazily: (relative path, CSV lines without header).

    A day's file holds that day's closes in security order, less the late ones, followed by the
    previous day's late closes (``price_date`` = the earlier day). No field needs CSV quoting.
    """
    late_by_day: dict[int, list[int]] = {}
    for day, security in market.late_prices:
        late_by_day.setdefault(day, []).append(security)
    heads = [f"{s.security_id},{s.figi}," for s in reference.securities]
    tails = [f",{s.currency}" for s in reference.securities]
    for day in range(len(window.days)):
        date = window.iso(day)
        closes = market.closes[day].tolist()
        lines = [f"{head}{date},{px:.6f}{tail}" for head, px, tail in zip(heads, closes, tails, strict=True)]
        for i in sorted(late_by_day.get(day, ()), reverse=True):
            del lines[i]
        if day > 0:
            previous = window.iso(day - 1)
            prev_closes = market.closes[day - 1]
            for i in late_by_day.get(day - 1, ()):
                lines.append(f"{heads[i]}{previous},{float(prev_closes[i]):.6f}{tails[i]}")
        yield f"bloomberg/prices/{date}.csv", lines


def benchmark_deliveries(
    market: MarketData, reference: ReferenceData, window: HistoryWindow
) -> Iterator[tuple[str, list[str]]]:
    """One FactSet benchmark file per trading day, lazily: (relative path, CSV lines without header)."""
    for day in range(len(window.days)):
        date = window.iso(day)
        levels = market.benchmark_levels[day].tolist()
        returns = market.benchmark_returns[day].tolist()
        lines = [
            f"{b.benchmark_id},{date},{levels[i]:.6f},{returns[i]:.8f}" for i, b in enumerate(reference.benchmarks)
        ]
        yield f"factset/benchmarks/{date}.csv", lines


def late_price_records(market: MarketData, reference: ReferenceData, window: HistoryWindow) -> list[dict]:
    """The manifest's ``late_prices`` entries."""
    return [
        {
            "security_id": reference.securities[security].security_id,
            "price_date": window.iso(day),
            "delivery_date": window.iso(day + 1),
        }
        for day, security in market.late_prices
    ]
