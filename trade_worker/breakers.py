"""The trade stream's circuit breakers (``pybreaker``): the warehouse price lookup and the Kafka producer.

``price_lookup`` guards the warehouse query for a security missing from the in-memory closes: after
``fail_max`` failures it opens and lookups fail fast (the trade gets a ``stale_price`` alert, nobody waits);
after ``reset_timeout_s`` the next lookup is the half-open probe. ``producer`` guards delivery of the
outputs (send and flush): while it is open the worker stops consuming (back-pressure) and the writer probes
again after the reset timeout. States are exported as ``closed`` / ``open`` / ``half-open``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pybreaker

PRICE_LOOKUP = "price_lookup"
PRODUCER = "producer"


@dataclass(frozen=True)
class BreakerSettings:
    """Failures before a breaker opens, and how long it stays open before the half-open probe."""

    fail_max: int = 5
    reset_timeout_s: float = 10.0


def new_breaker(name: str, settings: BreakerSettings) -> pybreaker.CircuitBreaker:
    """A pybreaker circuit breaker named ``name``."""
    import pybreaker

    # the failure that trips the breaker is re-raised as itself (callers tell failures from rejections)
    return pybreaker.CircuitBreaker(fail_max=settings.fail_max, reset_timeout=settings.reset_timeout_s, name=name,
                                    throw_new_error_on_trip=False)


@dataclass
class Breakers:
    """The worker's two breakers."""

    price_lookup: pybreaker.CircuitBreaker
    producer: pybreaker.CircuitBreaker

    @classmethod
    def create(cls, price_lookup: BreakerSettings | None = None, producer: BreakerSettings | None = None) -> Breakers:
        """Both breakers, closed."""
        return cls(new_breaker(PRICE_LOOKUP, price_lookup or BreakerSettings()),
                   new_breaker(PRODUCER, producer or BreakerSettings()))

    def states(self) -> dict[str, str]:
        """``{"price_lookup": state, "producer": state}`` with states closed / open / half-open (no lock taken)."""
        return {PRICE_LOOKUP: self.price_lookup.current_state, PRODUCER: self.producer.current_state}
