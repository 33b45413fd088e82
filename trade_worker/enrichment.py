"""Enrich one trade event: notional, deviation from the latest close, position and cost basis after it, alerts.

Book changes by Debezium op: ``c``/``r`` add the trade's signed quantity (and its cost); ``d`` (a cancel)
reverses the ``before`` image; ``u`` (a correction) reverses ``before`` and applies ``after``. A change whose
log sequence number was already applied to the trade (a redelivery) leaves the book alone and raises nothing.

Alerts (see :mod:`trade_worker.alerts`) on the trade as it stands (c/r/u):
``price_deviation`` when ``|price / close - 1|`` is strictly greater than the limit (2%: a deviation of
exactly 2% is not an alert; the comparison allows a relative tolerance of 1e-9 for float rounding);
``stale_price`` when there is no close or the close is older than the previous NYSE session before the trade
date. On every op: ``limit_breach`` when the position notional after the event (``|quantity| x trade price``)
exceeds the concentration limit x NAV.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from trade_worker.alerts import LIMIT_BREACH, PRICE_DEVIATION, STALE_PRICE, Alert
from trade_worker.price_lookup import GuardedPriceLookup
from trade_worker.reference_book import Close, ReferenceBook
from trade_worker.trade_event import TradeEvent, TradeImage

#: Relative tolerance of the threshold comparisons (float rounding: 102 / 100 - 1 = 0.020000000000000018).
TOLERANCE = 1e-9
#: Decimals the reported deviation is rounded to (so 2% reads 0.02, not 0.020000000000000018).
DEVIATION_DECIMALS = 12


@dataclass(frozen=True)
class EnrichmentSettings:
    """Thresholds of the alerts."""

    deviation_limit: float = 0.02


@lru_cache(maxsize=4096)
def previous_session(trade_date: dt.date) -> dt.date | None:
    """The last NYSE session strictly before ``trade_date`` (``None`` outside the generated calendar)."""
    from mesh_assets.lib.trading_calendar import previous_trading_day

    try:
        return previous_trading_day(trade_date)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class EnrichedTrade:
    """The hot-table row of one event (a dict keyed by column name) and the alerts it raised."""

    row: dict[str, Any]
    alerts: list[Alert]


@dataclass
class TradeEnricher:
    """Enriches events in order against a :class:`ReferenceBook`, updating it as it goes."""

    book: ReferenceBook
    price_lookup: GuardedPriceLookup | None = None
    settings: EnrichmentSettings = field(default_factory=EnrichmentSettings)
    worker_id: str = ""
    #: most trades whose last applied log sequence number is remembered (redelivery detection)
    max_tracked_trades: int = 500_000
    _applied_lsn: dict[str, int] = field(default_factory=dict)

    def remember_applied(self, applied: Iterable[tuple[str, int]]) -> None:
        """Seed the redelivery memory with (trade id, lsn) already applied before a restart."""
        for trade_id, lsn in applied:
            if lsn > self._applied_lsn.get(trade_id, -1):
                self._applied_lsn[trade_id] = lsn
        self._trim()

    def _trim(self) -> None:
        excess = len(self._applied_lsn) - self.max_tracked_trades
        if excess > 0:
            for trade_id in list(self._applied_lsn)[: excess + self.max_tracked_trades // 10]:
                del self._applied_lsn[trade_id]

    def _close(self, security_id: str) -> tuple[Close | None, str]:
        close = self.book.close(security_id)
        if close is not None:
            return close, "book"
        if self.price_lookup is None:
            return None, f"no close for {security_id} in the reference book"
        close, how = self.price_lookup.find(security_id)
        if close is not None:
            self.book.set_close(security_id, close)
        return close, how

    def _apply(self, event: TradeEvent, image: TradeImage) -> tuple[float, float, float, float, list[list[Any]]]:
        """Change the book for ``event``; (quantity, cost basis, quantity change, cost change, changes made)."""
        book = self.book
        changes: list[list[Any]] = []
        if event.before is not None:  # u and d reverse what the before image did
            before = event.before
            dq = -before.signed_quantity
            book.apply(before.portfolio_id, before.security_id, before.trade_date, dq, dq * before.price)
            changes.append([before.security_id, before.trade_date, dq, dq * before.price])
        if event.after is not None:  # c, r and u apply the after image
            after = event.after
            dq = after.signed_quantity
            book.apply(after.portfolio_id, after.security_id, after.trade_date, dq, dq * after.price)
            changes.append([after.security_id, after.trade_date, dq, dq * after.price])
        quantity, cost = book.position(image.portfolio_id, image.security_id)
        own = [c for c in changes if c[0] == image.security_id and c[1] == image.trade_date]
        return quantity, cost, sum(c[2] for c in own), sum(c[3] for c in own), changes

    def enrich(self, event: TradeEvent, now_ms: float) -> EnrichedTrade:
        """The row and alerts of ``event`` enriched at ``now_ms`` (epoch ms); the book and redelivery memory
        are updated."""
        image = event.image
        close, how = self._close(image.security_id)
        price = image.price
        deviation = None if close is None else round(price / close.price - 1, DEVIATION_DECIMALS)

        last_lsn = self._applied_lsn.get(image.trade_id)
        redelivered = last_lsn is not None and event.lsn <= last_lsn
        if redelivered:
            quantity, cost = self.book.position(image.portfolio_id, image.security_id)
            quantity_change = cost_change = 0.0
            changes: list[list[Any]] = []
        else:
            quantity, cost, quantity_change, cost_change, changes = self._apply(event, image)
            self._applied_lsn.pop(image.trade_id, None)
            self._applied_lsn[image.trade_id] = event.lsn
            if len(self._applied_lsn) > self.max_tracked_trades:
                self._trim()

        position_notional = abs(quantity * price)
        limit = self.book.limit(image.portfolio_id)
        alerts: list[Alert] = []
        if redelivered:
            reasons = f"redelivered change: lsn {event.lsn} of trade {image.trade_id} was already applied"
        else:
            if event.op != "d":
                alerts.extend(self._price_alerts(image, close, how, deviation))
            if limit is not None and position_notional > limit * (1 + TOLERANCE):
                nav = self.book.nav(image.portfolio_id)
                alerts.append(Alert(
                    LIMIT_BREACH,
                    f"position of {image.portfolio_id} in {image.security_id} after trade {image.trade_id} "
                    f"(op {event.op}) is {position_notional:,.2f} ({quantity:,.4g} x {price:,.6g}), over its limit "
                    f"{limit:,.2f} ({self.book.concentration_limit:.0%} of NAV {nav:,.2f})",
                    round(position_notional, 6), round(limit, 6)))
            reasons = "; ".join(a.reason for a in alerts)

        row = {
            "source_topic": event.topic, "source_partition": event.partition, "source_offset": event.offset,
            "source_timestamp_ms": event.timestamp_ms, "event_id": event.event_id, "op": event.op,
            "ts_ms": event.ts_ms, "lsn": event.lsn,
            "trade_id": image.trade_id, "version": image.version, "portfolio_id": image.portfolio_id,
            "security_id": image.security_id, "side": image.side, "quantity": image.quantity, "price": price,
            "currency": image.currency, "trade_date": image.trade_date, "notional": image.notional,
            "close_price": close.price if close is not None else None,
            "close_date": close.close_date if close is not None else None, "deviation": deviation,
            "position_quantity": quantity, "cost_basis": cost, "position_notional": position_notional,
            "limit_notional": limit, "quantity_change": quantity_change, "cost_change": cost_change,
            "book_changes": changes,
            "alerts": ",".join(a.kind for a in alerts), "alert_reasons": reasons,
            "worker_id": self.worker_id, "enriched_at_ms": int(now_ms),
            "latency_ms": round(now_ms - event.timestamp_ms, 3),
        }
        return EnrichedTrade(row, alerts)

    def _price_alerts(self, image: TradeImage, close: Close | None, how: str,
                      deviation: float | None) -> list[Alert]:
        alerts = []
        previous = previous_session(image.trade_date)
        if close is None:
            alerts.append(Alert(STALE_PRICE, f"trade {image.trade_id}: no close for {image.security_id} ({how}); "
                                             f"its price {image.price:,.6g} cannot be checked", None,
                                previous.isoformat() if previous else None))
        elif previous is None or close.close_date < previous:
            wanted = (f"the previous NYSE session {previous.isoformat()}" if previous
                      else "a session the NYSE calendar covers")
            alerts.append(Alert(STALE_PRICE, f"trade {image.trade_id}: the latest close of {image.security_id} is of "
                                             f"{close.close_date.isoformat()}, older than {wanted} before trade date "
                                             f"{image.trade_date.isoformat()}", close.close_date.isoformat(),
                                previous.isoformat() if previous else None))
        limit = self.settings.deviation_limit
        if close is not None and abs(image.price - close.price) > limit * close.price * (1 + TOLERANCE):
            alerts.append(Alert(PRICE_DEVIATION, f"trade {image.trade_id} price {image.price:,.6g} is "
                                                 f"{deviation:+.2%} from the {close.close_date.isoformat()} close "
                                                 f"{close.price:,.6g} of {image.security_id} (limit ±{limit:.0%})",
                                deviation, limit))
        return alerts
