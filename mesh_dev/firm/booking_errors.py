"""How the true book reaches the Aladdin database: mostly right first time, sometimes not.

Each booked transaction becomes a source-database transaction inserting its rows. A few trades are
first booked wrong (price off by 3–8% or a wrong quantity) and corrected later the same or next day
(an update, version + 1, whose after-image is the truth); a few are booked wrong and cancelled
(a delete, then a tombstone) and re-booked under a new trade id with the true details; a few cash
flows are booked with a wrong amount and corrected. Trades with a real price discrepancy are left
alone, so the discrepancy survives. Everything booked on the first trading day is read by the
initial Debezium snapshot (op ``r``); its fixes arrive the next day.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mesh_dev.firm.change_events import CASH_FLOWS, TRADES, Change, ChangeTx, RowKey
from mesh_dev.firm.history_window import HistoryWindow
from mesh_dev.firm.randomness import DrawStream
from mesh_dev.firm.reference import ReferenceData
from mesh_dev.firm.scales import FirmScale
from mesh_dev.firm.trading import FlowFact, TradeFact, TradingBook
from mesh_dev.firm.vocabulary import CURRENCY

SAME_DAY_FIX_MS = (20 * 60_000, 90 * 60_000)
NEXT_DAY_FIX_START_MS = 13 * 3_600_000 + 30 * 60_000  # 13:30 UTC, before the next close
NEXT_DAY_FIX_SPREAD_MS = 2 * 3_600_000
REBOOK_DELAY_MS = (1_000, 20_000)
WRONG_PRICE_RANGE = (0.03, 0.08)


@dataclass(frozen=True)
class BookingLog:
    """The source-database transactions, and the rows behind each deliberate edge case."""

    transactions: tuple[ChangeTx, ...]
    corrected_trades: tuple[RowKey, ...]
    cancelled_trades: tuple[RowKey, ...]
    rebooked_trades: tuple[RowKey, ...]
    corrected_cash_flows: tuple[RowKey, ...]
    large_cash_flows: tuple[RowKey, ...]
    price_discrepancy_trades: tuple[RowKey, ...]


def trade_image(
    fact: TradeFact,
    reference: ReferenceData,
    window: HistoryWindow,
    version: int = 1,
    security: int | None = None,
    quantity: int | None = None,
    price_micro: int | None = None,
) -> dict:
    """The trades-table row image of ``fact`` (optionally with a wrong security/quantity/price)."""
    return {
        "portfolio_id": reference.portfolios[fact.portfolio].portfolio_id,
        "security_id": reference.securities[fact.security if security is None else security].security_id,
        "side": fact.side,
        "quantity": fact.quantity if quantity is None else quantity,
        "price": (fact.price_micro if price_micro is None else price_micro) / 1_000_000,
        "currency": CURRENCY,
        "trade_date": window.iso(fact.day),
        "settle_date": window.iso(fact.day + 1),
        "version": version,
    }


def flow_image(
    fact: FlowFact, reference: ReferenceData, window: HistoryWindow, version: int = 1, amount_cents: int | None = None
) -> dict:
    """The cash_flows-table row image of ``fact`` (optionally with a wrong amount)."""
    cents = fact.amount_cents if amount_cents is None else amount_cents
    return {
        "portfolio_id": reference.portfolios[fact.portfolio].portfolio_id,
        "flow_date": window.iso(fact.day),
        "amount": cents / 100,
        "currency": CURRENCY,
        "flow_type": "SUBSCRIPTION" if cents > 0 else "REDEMPTION",
        "version": version,
    }


def book_changes(
    book: TradingBook,
    reference: ReferenceData,
    closes_micro: np.ndarray,
    window: HistoryWindow,
    scale: FirmScale,
    rng: np.random.Generator,
) -> BookingLog:
    """Turn the true book into source-database transactions with corrections and cancels."""
    return _Booker(book, reference, closes_micro, window, scale, rng).run()


class _Booker:
    def __init__(
        self,
        book: TradingBook,
        reference: ReferenceData,
        closes_micro: np.ndarray,
        window: HistoryWindow,
        scale: FirmScale,
        rng: np.random.Generator,
    ) -> None:
        self.book = book
        self.reference = reference
        self.closes_micro = closes_micro
        self.window = window
        self.draws = DrawStream(rng)
        trades, flows = book.trades(), book.flows()
        eligible = [i for i, t in enumerate(trades) if not t.discrepancy]
        n_corrected = max(scale.min_corrected_trades, math.ceil(scale.corrected_trade_share * len(trades)))
        n_cancelled = max(scale.min_cancelled_trades, math.ceil(scale.cancelled_trade_share * len(trades)))
        picked = rng.choice(eligible, size=n_corrected + n_cancelled, replace=False).tolist()
        self.trades_to_correct = set(picked[:n_corrected])
        self.trades_to_cancel = set(picked[n_corrected:])
        n_flow_fixes = max(scale.min_corrected_flows, math.ceil(scale.corrected_flow_share * len(flows)))
        self.flows_to_correct = set(rng.choice(len(flows), size=n_flow_fixes, replace=False).tolist())
        self.transactions: list[ChangeTx] = []
        self.corrected_trades: list[RowKey] = []
        self.cancelled_trades: list[RowKey] = []
        self.rebooked_trades: list[RowKey] = []
        self.corrected_flows: list[RowKey] = []
        self.large_flows: list[RowKey] = []
        self.discrepancies: list[RowKey] = []

    def _tx(self, ts_ms: int, snapshot: bool, changes: list[Change]) -> None:
        self.transactions.append(ChangeTx(ts_ms, len(self.transactions), snapshot, changes))

    def _fix_time(self, ts_ms: int, day: int) -> int:
        last = len(self.window.days) - 1
        if day == last or (day > 0 and self.draws.chance(0.5)):
            return ts_ms + self.draws.integer(*SAME_DAY_FIX_MS)
        return self.window.day_ms(day + 1) + NEXT_DAY_FIX_START_MS + self.draws.integer(0, NEXT_DAY_FIX_SPREAD_MS)

    def run(self) -> BookingLog:
        trade_index = flow_index = 0
        for tx in self.book.transactions:
            snapshot = tx.day == 0
            op = "r" if snapshot else "c"
            changes: list[Change] = []
            for fact in tx.facts:
                if isinstance(fact, TradeFact):
                    changes.append(self._trade(fact, trade_index, op, tx.ts_ms))
                    trade_index += 1
                else:
                    changes.append(self._flow(fact, flow_index, op, tx.ts_ms))
                    flow_index += 1
            self._tx(tx.ts_ms, snapshot, changes)
        return BookingLog(
            transactions=tuple(self.transactions),
            corrected_trades=tuple(self.corrected_trades),
            cancelled_trades=tuple(self.cancelled_trades),
            rebooked_trades=tuple(self.rebooked_trades),
            corrected_cash_flows=tuple(self.corrected_flows),
            large_cash_flows=tuple(self.large_flows),
            price_discrepancy_trades=tuple(self.discrepancies),
        )

    def _trade(self, fact: TradeFact, index: int, op: str, ts_ms: int) -> Change:
        portfolio_id = self.reference.portfolios[fact.portfolio].portfolio_id
        row = RowKey(TRADES, portfolio_id)
        truth = trade_image(fact, self.reference, self.window)
        if fact.discrepancy:
            self.discrepancies.append(row)
        if index in self.trades_to_correct:
            wrong = self._wrong_for_correction(fact)
            fixed = {**truth, "version": 2}
            self._tx(self._fix_time(ts_ms, fact.day), False, [Change(row, "u", wrong, fixed)])
            self.corrected_trades.append(row)
            return Change(row, op, None, wrong)
        if index in self.trades_to_cancel:
            wrong = self._wrong_for_cancel(fact)
            cancel_ts = self._fix_time(ts_ms, fact.day)
            self._tx(cancel_ts, False, [Change(row, "d", wrong, None), Change(row, "d", None, None, tombstone=True)])
            rebooked = RowKey(TRADES, portfolio_id)
            self._tx(cancel_ts + self.draws.integer(*REBOOK_DELAY_MS), False, [Change(rebooked, "c", None, truth)])
            self.cancelled_trades.append(row)
            self.rebooked_trades.append(rebooked)
            return Change(row, op, None, wrong)
        return Change(row, op, None, truth)

    def _wrong_for_correction(self, fact: TradeFact) -> dict:
        if self.draws.chance(0.5):
            factor = 1.0 + self.draws.uniform(*WRONG_PRICE_RANGE) * (1 if self.draws.chance(0.5) else -1)
            return trade_image(fact, self.reference, self.window, price_micro=round(fact.price_micro * factor))
        return trade_image(fact, self.reference, self.window, quantity=self._wrong_quantity(fact.quantity))

    def _wrong_for_cancel(self, fact: TradeFact) -> dict:
        if self.draws.chance(0.5):
            return trade_image(fact, self.reference, self.window, quantity=fact.quantity * 10)
        n_securities = len(self.reference.securities)
        other = (fact.security + self.draws.integer(1, n_securities)) % n_securities
        price = int(self.closes_micro[fact.day, other])
        return trade_image(fact, self.reference, self.window, security=other, price_micro=price)

    def _wrong_quantity(self, quantity: int) -> int:
        delta = max(1, round(quantity * self.draws.uniform(0.05, 0.5)))
        if quantity - delta >= 1 and self.draws.chance(0.5):
            return quantity - delta
        return quantity + delta

    def _flow(self, fact: FlowFact, index: int, op: str, ts_ms: int) -> Change:
        row = RowKey(CASH_FLOWS, self.reference.portfolios[fact.portfolio].portfolio_id)
        truth = flow_image(fact, self.reference, self.window)
        if fact.large:
            self.large_flows.append(row)
        if index not in self.flows_to_correct:
            return Change(row, op, None, truth)
        if self.draws.chance(0.3):
            wrong_cents = fact.amount_cents * 10
        else:
            factor = 1.0 + self.draws.uniform(*WRONG_PRICE_RANGE) * (1 if self.draws.chance(0.5) else -1)
            wrong_cents = round(fact.amount_cents * factor)
        wrong = flow_image(fact, self.reference, self.window, amount_cents=wrong_cents)
        fixed = {**truth, "version": 2}
        self._tx(self._fix_time(ts_ms, fact.day), False, [Change(row, "u", wrong, fixed)])
        self.corrected_flows.append(row)
        return Change(row, op, None, wrong)
