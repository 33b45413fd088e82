"""The close of a security missing from the in-memory book, asked of the warehouse behind a circuit breaker.

A lookup that fails (warehouse locked by a dbt run, file missing, Athena down) counts against the
``price_lookup`` breaker; once it is open, lookups fail fast without touching the warehouse until the reset
timeout lets one probe through. A security the warehouse has no close for is remembered for ``miss_ttl_s``
so a burst of trades in an unknown security asks once, not once per trade.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trade_worker.reference_book import Close

if TYPE_CHECKING:
    import pybreaker

#: Fetches the latest close of one security from the warehouse (``None`` if it has none); raises on failure.
CloseFetcher = Callable[[str], Close | None]


@dataclass
class GuardedPriceLookup:
    """Warehouse close lookups through the ``price_lookup`` breaker, with a short memory of misses."""

    fetch: CloseFetcher
    breaker: pybreaker.CircuitBreaker
    miss_ttl_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    lookups: int = 0
    failures: int = 0
    rejected: int = 0
    _misses: dict[str, float] = field(default_factory=dict)

    def find(self, security_id: str) -> tuple[Close | None, str]:
        """(close, how it was found or why not). Never raises; never waits while the breaker is open."""
        import pybreaker

        missed_at = self._misses.get(security_id)
        if missed_at is not None and self.clock() - missed_at < self.miss_ttl_s:
            return None, f"the warehouse has no close for {security_id}"
        self.lookups += 1
        try:
            close = self.breaker.call(self.fetch, security_id)
        except pybreaker.CircuitBreakerError:
            self.rejected += 1
            return None, f"price lookup of {security_id} not attempted: the warehouse breaker is open"
        except Exception as exc:  # the breaker counted it; the trade goes on with a stale-price alert
            self.failures += 1
            return None, f"price lookup of {security_id} failed ({type(exc).__name__}: {str(exc)[:160]})"
        if close is None:
            self._misses[security_id] = self.clock()
            return None, f"the warehouse has no close for {security_id}"
        self._misses.pop(security_id, None)
        return close, "warehouse lookup"
