"""The investment book: what every portfolio really traded and which cash flows it really had.

This is the economic truth the Aladdin CDC capture must reproduce once corrections and cancels are
applied. Money is kept in integer micro-dollars (prices have 6 dp, amounts 2 dp) so cash never
drifts; holdings are whole shares. On its inception day a portfolio receives a subscription and buys
about ``holdings_per_portfolio`` securities equal-weight with 98% of it; afterwards it rebalances now
and then (a sell and a buy in one transaction) and has occasional external flows: subscriptions are
followed by buys, redemptions are preceded by the sells that fund them, so cash and holdings never
go negative. A terminating portfolio sells everything and redeems all its cash (less half a cent,
so float sums downstream never dip below zero).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mesh_dev.firm.history_window import HistoryWindow
from mesh_dev.firm.randomness import DrawStream
from mesh_dev.firm.reference import ReferenceData
from mesh_dev.firm.scales import FirmScale

BOOKING_START_MS = 20 * 3_600_000  # 20:00 UTC, after the NYSE close
BOOKING_SPREAD_MS = 2 * 3_600_000
EXECUTION_NOISE = 0.003
DISCREPANCY_RANGE = (0.025, 0.06)
INVESTED_SHARE = 0.98
ORDINARY_FLOW_RANGE = (0.01, 0.08)
LARGE_FLOW_RANGE = (0.30, 0.45)  # above every composite's significant-cash-flow threshold (<= 20%)
SUBSCRIPTION_RANGE = (5e6, 2e8)
CASH_BUFFER_SHARE = 0.01
RESIDUAL_CASH_MICRO = 5_000
MICRO_PER_CENT = 10_000

INCEPTION, LARGE_FLOW, FLOW, REBALANCE, TERMINATION = range(5)


@dataclass(slots=True)
class TradeFact:
    """One true trade: portfolio and security are indices into the reference data."""

    portfolio: int
    security: int
    side: str
    quantity: int
    price_micro: int
    day: int
    discrepancy: bool = False


@dataclass(slots=True)
class FlowFact:
    """One true external cash flow, signed (+ subscription, - redemption), in cents."""

    portfolio: int
    day: int
    amount_cents: int
    large: bool = False


@dataclass(slots=True)
class BookedTx:
    """Facts booked together in one source-database transaction at ``ts_ms``."""

    ts_ms: int
    day: int
    portfolio: int
    facts: list[TradeFact | FlowFact]


@dataclass(frozen=True)
class TradingBook:
    """Every booked transaction, in booking order."""

    transactions: tuple[BookedTx, ...]

    def trades(self) -> list[TradeFact]:
        """All true trades in booking order."""
        return [f for tx in self.transactions for f in tx.facts if isinstance(f, TradeFact)]

    def flows(self) -> list[FlowFact]:
        """All true cash flows in booking order."""
        return [f for tx in self.transactions for f in tx.facts if isinstance(f, FlowFact)]


def simulate_trading(
    reference: ReferenceData,
    closes_micro: np.ndarray,
    window: HistoryWindow,
    scale: FirmScale,
    rng: np.random.Generator,
) -> TradingBook:
    """Run every portfolio over the window and return the book of true trades and flows."""
    schedule = _schedule(reference, scale, len(window.days), rng)
    simulator = _Simulator(len(reference.portfolios), closes_micro.shape[1], scale, DrawStream(rng))
    for day, events in enumerate(schedule):
        if events:
            simulator.run_day(day, window.day_ms(day), closes_micro[day].tolist(), events)
    book = TradingBook(tuple(simulator.transactions))
    discrepancies = sum(1 for t in book.trades() if t.discrepancy)
    if discrepancies < scale.price_discrepancies:
        raise RuntimeError(f"only {discrepancies} price-discrepancy trades were booked")
    return book


def _schedule(
    reference: ReferenceData, scale: FirmScale, n_days: int, rng: np.random.Generator
) -> list[list[tuple[int, int, int]]]:
    """Per trading day, the (portfolio, event kind, argument) events, in portfolio then kind order.

    The argument is the flow sign for flows and 1 for a rebalance with a price discrepancy.
    """
    portfolios = reference.portfolios
    n_portfolios = len(portfolios)
    inception = np.array([p.inception_index for p in portfolios])
    ends = np.array([n_days if p.termination_index is None else p.termination_index for p in portfolios])
    days = np.arange(n_days)
    active = (days[None, :] > inception[:, None]) & (days[None, :] < ends[:, None])
    rebalance = active & (rng.random((n_portfolios, n_days)) < scale.rebalance_probability)
    flows = active & (rng.random((n_portfolios, n_days)) < scale.flow_probability)
    flow_sign = np.where(rng.random((n_portfolios, n_days)) < 0.5, 1, -1)

    candidates = np.flatnonzero(active.ravel())
    special = rng.choice(candidates, size=scale.large_cash_flows + scale.price_discrepancies, replace=False)
    large_cells = special[: scale.large_cash_flows].tolist()
    discrepancy_cells = special[scale.large_cash_flows :].tolist()

    events: list[list[tuple[int, int, int]]] = [[] for _ in range(n_days)]
    for p, portfolio in enumerate(portfolios):
        events[portfolio.inception_index].append((p, INCEPTION, 0))
        if portfolio.termination_index is not None:
            events[portfolio.termination_index].append((p, TERMINATION, 0))
    for order, cell in enumerate(large_cells):
        p, day = divmod(cell, n_days)
        flows[p, day] = False
        events[day].append((p, LARGE_FLOW, 1 if order % 2 == 0 else -1))
    discrepancy = np.zeros_like(rebalance)
    for cell in discrepancy_cells:
        p, day = divmod(cell, n_days)
        rebalance[p, day] = True
        discrepancy[p, day] = True
    for p, day in zip(*np.nonzero(flows), strict=True):
        events[day].append((int(p), FLOW, int(flow_sign[p, day])))
    for p, day in zip(*np.nonzero(rebalance), strict=True):
        events[day].append((int(p), REBALANCE, int(discrepancy[p, day])))
    for day_events in events:
        day_events.sort()
    return events


class _Simulator:
    """Portfolio state (cash in micro-dollars, whole-share holdings) and the booking of trades/flows."""

    def __init__(self, n_portfolios: int, n_securities: int, scale: FirmScale, draws: DrawStream) -> None:
        self.n_securities = n_securities
        self.target_holdings = scale.holdings_per_portfolio
        self.draws = draws
        self.cash = [0] * n_portfolios
        self.holdings: list[dict[int, int]] = [{} for _ in range(n_portfolios)]
        self.transactions: list[BookedTx] = []
        self.day = 0
        self.closes: list[int] = []
        self.clock = 0

    # -- day loop ---------------------------------------------------------------------------------

    def run_day(self, day: int, midnight_ms: int, closes: list[int], events: list[tuple[int, int, int]]) -> None:
        """Book all of one trading day's events."""
        self.day = day
        self.closes = closes
        current = -1
        for portfolio, kind, argument in events:
            if portfolio != current:
                current = portfolio
                self.clock = midnight_ms + BOOKING_START_MS + self.draws.integer(0, BOOKING_SPREAD_MS)
            if kind == INCEPTION:
                self._incept(portfolio)
            elif kind == LARGE_FLOW:
                self._external_flow(portfolio, argument, large=True)
            elif kind == FLOW:
                self._external_flow(portfolio, argument, large=False)
            elif kind == REBALANCE:
                self._rebalance(portfolio, discrepancy=bool(argument))
            else:
                self._terminate(portfolio)

    # -- booking primitives -----------------------------------------------------------------------

    def _book(self, portfolio: int, facts: list[TradeFact | FlowFact]) -> None:
        if facts:
            self.clock += self.draws.integer(500, 30_000)
            self.transactions.append(BookedTx(self.clock, self.day, portfolio, facts))

    def _price(self, security: int, deviation: float | None = None) -> int:
        if deviation is None:
            deviation = self.draws.uniform(-EXECUTION_NOISE, EXECUTION_NOISE)
        return max(1, round(self.closes[security] * (1.0 + deviation)))

    def _buy(self, portfolio: int, security: int, budget_micro: int) -> TradeFact | None:
        price = self._price(security)
        quantity = budget_micro // price
        if quantity <= 0:
            return None
        self.cash[portfolio] -= quantity * price
        held = self.holdings[portfolio]
        held[security] = held.get(security, 0) + quantity
        return TradeFact(portfolio, security, "BUY", quantity, price, self.day)

    def _sell(self, portfolio: int, security: int, quantity: int, deviation: float | None = None) -> TradeFact:
        price = self._price(security, deviation)
        held = self.holdings[portfolio]
        held[security] -= quantity
        if held[security] == 0:
            del held[security]
        self.cash[portfolio] += quantity * price
        return TradeFact(portfolio, security, "SELL", quantity, price, self.day, deviation is not None)

    def _flow(self, portfolio: int, amount_cents: int, large: bool) -> FlowFact:
        self.cash[portfolio] += amount_cents * MICRO_PER_CENT
        return FlowFact(portfolio, self.day, amount_cents, large)

    def _new_securities(self, portfolio: int, count: int) -> list[int]:
        held = self.holdings[portfolio]
        count = min(count, self.n_securities - len(held))
        picked: list[int] = []
        while len(picked) < count:
            security = self.draws.integer(0, self.n_securities)
            if security not in held and security not in picked:
                picked.append(security)
        return picked

    def _value(self, portfolio: int) -> int:
        closes = self.closes
        return self.cash[portfolio] + sum(q * closes[s] for s, q in self.holdings[portfolio].items())

    # -- events -----------------------------------------------------------------------------------

    def _incept(self, portfolio: int) -> None:
        low, high = SUBSCRIPTION_RANGE
        dollars = math.exp(self.draws.uniform(math.log(low), math.log(high)))
        amount_cents = round(dollars / 1000) * 1000 * 100
        self._book(portfolio, [self._flow(portfolio, amount_cents, large=False)])
        count = max(3, round(self.target_holdings * self.draws.uniform(0.8, 1.2)))
        securities = self._new_securities(portfolio, count)
        budget = int(amount_cents * MICRO_PER_CENT * INVESTED_SHARE) // len(securities)
        buys = [self._buy(portfolio, s, budget) for s in securities]
        self._book(portfolio, [b for b in buys if b is not None])

    def _rebalance(self, portfolio: int, discrepancy: bool) -> None:
        held = self.holdings[portfolio]
        if not held:
            return
        security = self.draws.choice(list(held))
        quantity = held[security]
        if not (len(held) > 0.8 * self.target_holdings and self.draws.chance(0.25)):
            quantity = min(quantity, max(1, int(quantity * self.draws.uniform(0.2, 0.6))))
        deviation = None
        if discrepancy:
            deviation = self.draws.uniform(*DISCREPANCY_RANGE) * (1 if self.draws.chance(0.5) else -1)
        sell = self._sell(portfolio, security, quantity, deviation)
        others = [s for s in held if s != security]
        if not others or (len(held) < 1.2 * self.target_holdings and self.draws.chance(0.5)):
            target = self._new_securities(portfolio, 1)[0]
        else:
            target = self.draws.choice(others)
        proceeds = sell.quantity * sell.price_micro
        buy = self._buy(portfolio, target, int(proceeds * self.draws.uniform(0.97, 1.0)))
        self._book(portfolio, [sell] if buy is None else [sell, buy])

    def _external_flow(self, portfolio: int, sign: int, large: bool) -> None:
        value = self._value(portfolio)
        share = self.draws.uniform(*(LARGE_FLOW_RANGE if large else ORDINARY_FLOW_RANGE))
        amount_micro = int(value * share)
        amount_cents = amount_micro // MICRO_PER_CENT
        if amount_cents <= 0:
            return
        if sign > 0:
            self._book(portfolio, [self._flow(portfolio, amount_cents, large)])
            held = list(self.holdings[portfolio])
            count = min(3, len(held))
            targets = []
            while len(targets) < count:
                pick = self.draws.choice(held)
                if pick not in targets:
                    targets.append(pick)
            targets = targets or self._new_securities(portfolio, 3)
            budget = int(amount_cents * MICRO_PER_CENT * INVESTED_SHARE) // len(targets)
            buys = [self._buy(portfolio, s, budget) for s in targets]
            self._book(portfolio, [b for b in buys if b is not None])
            return
        cash = self.cash[portfolio]
        holdings_value = value - cash
        need = amount_cents * MICRO_PER_CENT + int(holdings_value * CASH_BUFFER_SHARE) - cash
        sells = []
        if need > 0 and holdings_value > 0:
            fraction = min(1.0, need / holdings_value * 1.02)
            for security, quantity in list(self.holdings[portfolio].items()):
                sells.append(self._sell(portfolio, security, min(quantity, math.ceil(quantity * fraction))))
        self._book(portfolio, sells)
        available_cents = (self.cash[portfolio] - RESIDUAL_CASH_MICRO) // MICRO_PER_CENT
        amount_cents = min(amount_cents, available_cents)
        if amount_cents > 0:
            self._book(portfolio, [self._flow(portfolio, -amount_cents, large)])

    def _terminate(self, portfolio: int) -> None:
        sells = [self._sell(portfolio, s, q) for s, q in list(self.holdings[portfolio].items())]
        self._book(portfolio, sells)
        amount_cents = (self.cash[portfolio] - RESIDUAL_CASH_MICRO) // MICRO_PER_CENT
        if amount_cents > 0:
            self._book(portfolio, [self._flow(portfolio, -amount_cents, large=True)])
