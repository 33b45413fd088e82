"""Risk alerts the trade stream raises, and their ``risk.alerts`` message.

Kinds: ``price_deviation`` (trade price more than 2% from the latest close), ``stale_price`` (no close, or a
close older than the previous NYSE session before the trade date), ``limit_breach`` (position notional after
the trade above the concentration limit x NAV) and ``invalid_trade`` (a record that breaks the contract).
Every alert says why in words; its id ``<event id>:<kind>`` is deterministic so consumers drop replays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

PRICE_DEVIATION = "price_deviation"
STALE_PRICE = "stale_price"
LIMIT_BREACH = "limit_breach"
INVALID_TRADE = "invalid_trade"
#: Every kind, in the order the stats report them.
ALERT_KINDS = (PRICE_DEVIATION, LIMIT_BREACH, STALE_PRICE, INVALID_TRADE)


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert on one event: kind, reason, the figure that triggered it and its threshold."""

    kind: str
    reason: str
    value: Any = None
    threshold: Any = None


def alert_message(alert: Alert, event_id: str, source_offset: int, trade_id: str | None, portfolio_id: str | None,
                  security_id: str | None, produced_ms: int) -> dict[str, Any]:
    """The JSON body published to ``risk.alerts`` (key: the portfolio id)."""
    return {
        "alert_id": f"{event_id}:{alert.kind}", "kind": alert.kind, "reason": alert.reason, "trade_id": trade_id,
        "portfolio_id": portfolio_id, "security_id": security_id, "value": alert.value,
        "threshold": alert.threshold, "event_id": event_id, "source_offset": source_offset,
        "produced_ms": produced_ms,
    }
