"""Seeded random numbers: one independent generator per generation stage, and a fast scalar stream.

Every stage draws from its own child of ``SeedSequence(seed)``, keyed by a fixed stage number, so
adding draws to one stage never shifts the numbers another stage sees.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np

T = TypeVar("T")

STAGES: dict[str, int] = {
    "reference": 1,
    "market_data": 2,
    "trading": 3,
    "booking_errors": 4,
    "cdc_capture": 5,
    "malformed_records": 6,
    "salesforce": 7,
}


def stage_rng(seed: int, stage: str) -> np.random.Generator:
    """The random generator for ``stage`` of the firm generated from ``seed``."""
    return np.random.default_rng(np.random.SeedSequence(entropy=seed, spawn_key=(STAGES[stage],)))


class DrawStream:
    """Scalar draws served from pre-generated blocks of uniforms (numpy per-call overhead is too slow
    for the per-trade loop)."""

    def __init__(self, rng: np.random.Generator, block: int = 1 << 16) -> None:
        self._rng = rng
        self._block = block
        self._buffer: list[float] = []
        self._next = 0

    def random(self) -> float:
        """A uniform float in [0, 1)."""
        if self._next >= len(self._buffer):
            self._buffer = self._rng.random(self._block).tolist()
            self._next = 0
        value = self._buffer[self._next]
        self._next += 1
        return value

    def uniform(self, low: float, high: float) -> float:
        """A uniform float in [low, high)."""
        return low + (high - low) * self.random()

    def integer(self, low: int, high: int) -> int:
        """A uniform integer in [low, high)."""
        return low + min(int(self.random() * (high - low)), high - low - 1)

    def choice(self, items: Sequence[T]) -> T:
        """One element of ``items``, uniformly."""
        return items[self.integer(0, len(items))]

    def chance(self, probability: float) -> bool:
        """True with the given probability."""
        return self.random() < probability
