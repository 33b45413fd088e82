"""The trade stream's in-memory reference book: closes, positions and cost basis, NAV and limits.

Warmed from the end-of-day batch's gold/silver tables (a :class:`ReferenceSnapshot` as of the latest gold
date ``as_of``) and kept current by the stream: every CDC event changes the position and cost basis of its
(portfolio, security) by a signed quantity and a signed cost. The cost basis is the net cost of the position
(``sum(signed quantity x price)``, what the book paid net of sale proceeds): exact to reverse, so a cancel
or a correction undoes precisely what the original trade did.

The changes are also kept per trade date. When the batch publishes a newer gold date, :meth:`load` replaces
the baseline and keeps only the streamed changes dated after it (gold now holds the others), so a refresh
never counts a trade twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Close:
    """A Bloomberg close: price and the session it is of."""

    price: float
    close_date: dt.date


@dataclass(frozen=True)
class ReferenceSnapshot:
    """What the end-of-day batch published, as loaded from the warehouse.

    ``positions`` maps (portfolio, security) to (quantity, cost basis) at the close of ``as_of``;
    ``navs`` maps portfolio to its latest NAV; ``version`` identifies the batch output it was read from.
    """

    closes: Mapping[str, Close]
    positions: Mapping[tuple[str, str], tuple[float, float]]
    navs: Mapping[str, float]
    as_of: dt.date | None
    version: str = ""


#: A streamed change of one (portfolio, security, trade date): (quantity change, cost change).
Change = tuple[str, str, dt.date, float, float]


@dataclass
class ReferenceBook:
    """Closes, positions, cost basis and NAV held in memory; one writer (the stream's hot thread)."""

    concentration_limit: float = 0.10
    closes: dict[str, Close] = field(default_factory=dict)
    navs: dict[str, float] = field(default_factory=dict)
    as_of: dt.date | None = None
    version: str = ""
    #: current (quantity, cost basis) per (portfolio, security): baseline + streamed changes
    _positions: dict[tuple[str, str], list[float]] = field(default_factory=dict)
    #: streamed changes per (portfolio, security, trade date), kept across refreshes while newer than ``as_of``
    _changes: dict[tuple[str, str, dt.date], list[float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0 < self.concentration_limit <= 1:
            raise ValueError(f"concentration limit {self.concentration_limit!r} must be in (0, 1]")

    def load(self, snapshot: ReferenceSnapshot) -> None:
        """Replace the baseline with ``snapshot``; keep the streamed changes dated after its ``as_of``."""
        if snapshot.as_of is not None:
            self._changes = {k: v for k, v in self._changes.items() if k[2] > snapshot.as_of}
        self.closes = dict(snapshot.closes)
        self.navs = dict(snapshot.navs)
        self.as_of = snapshot.as_of
        self.version = snapshot.version
        positions = {key: [q, c] for key, (q, c) in snapshot.positions.items()}
        for (portfolio, security, _), (dq, dc) in self._changes.items():
            current = positions.setdefault((portfolio, security), [0.0, 0.0])
            current[0] += dq
            current[1] += dc
        self._positions = positions

    def replay(self, changes: Iterable[Change]) -> int:
        """Apply changes already streamed before a restart (read back from the hot table); return how many."""
        count = 0
        for portfolio, security, trade_date, dq, dc in changes:
            if self.as_of is None or trade_date > self.as_of:
                self.apply(portfolio, security, trade_date, dq, dc)
                count += 1
        return count

    def close(self, security_id: str) -> Close | None:
        """The latest close held for ``security_id`` (``None`` if none)."""
        return self.closes.get(security_id)

    def set_close(self, security_id: str, close: Close) -> None:
        """Remember a close found outside the warm-up (a warehouse lookup)."""
        self.closes[security_id] = close

    def position(self, portfolio_id: str, security_id: str) -> tuple[float, float]:
        """(quantity, cost basis) of the position now."""
        current = self._positions.get((portfolio_id, security_id))
        return (current[0], current[1]) if current is not None else (0.0, 0.0)

    def apply(self, portfolio_id: str, security_id: str, trade_date: dt.date, quantity_change: float,
              cost_change: float) -> tuple[float, float]:
        """Change a position by a signed quantity and cost; return its new (quantity, cost basis)."""
        current = self._positions.get((portfolio_id, security_id))
        if current is None:
            current = self._positions[(portfolio_id, security_id)] = [0.0, 0.0]
        current[0] += quantity_change
        current[1] += cost_change
        change = self._changes.get((portfolio_id, security_id, trade_date))
        if change is None:
            self._changes[(portfolio_id, security_id, trade_date)] = [quantity_change, cost_change]
        else:
            change[0] += quantity_change
            change[1] += cost_change
        return current[0], current[1]

    def nav(self, portfolio_id: str) -> float | None:
        """The portfolio's latest NAV (``None`` if unknown)."""
        return self.navs.get(portfolio_id)

    def limit(self, portfolio_id: str) -> float | None:
        """Position limit of the portfolio: concentration limit x NAV (``None`` without a NAV)."""
        nav = self.navs.get(portfolio_id)
        return None if nav is None else self.concentration_limit * nav

    @property
    def position_count(self) -> int:
        """Positions held (baseline and streamed)."""
        return len(self._positions)
