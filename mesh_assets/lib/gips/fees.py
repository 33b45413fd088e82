"""Tiered management-fee schedules and the monthly fee they charge (net-of-fee returns)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FeeTier:
    """Annual fee of ``bps`` basis points on the assets up to ``up_to`` (``None``: no upper bound)."""

    up_to: float | None
    bps: float


def parse_fee_schedule(text: str, *, context: str | None = None) -> tuple[FeeTier, ...]:
    """The tiers of a schedule written as JSON, e.g. ``[{"up_to": 50000000, "bps": 75}, {"up_to": null, "bps": 50}]``.

    Tiers must rise in ``up_to`` and only the last may be unbounded; ValueError names ``context`` otherwise.
    """
    where = f" ({context})" if context else ""
    try:
        raw = json.loads(text)
        tiers = tuple(FeeTier(None if t["up_to"] is None else float(t["up_to"]), float(t["bps"])) for t in raw)
    except (TypeError, KeyError, ValueError) as error:
        raise ValueError(f"fee schedule is not a JSON list of {{up_to, bps}} tiers{where}: {text!r}") from error
    if not tiers or tiers[-1].up_to is not None:
        raise ValueError(f"fee schedule must end with an unbounded tier (up_to null){where}: {text!r}")
    bounds = [t.up_to for t in tiers[:-1]]
    numbers = [t.bps for t in tiers] + [b for b in bounds if b is not None]
    if not all(math.isfinite(n) for n in numbers):
        raise ValueError(f"fee schedule holds a non-finite fee or limit{where}: {text!r}")
    if any(b is None for b in bounds) or bounds != sorted(bounds) or any(t.bps < 0 for t in tiers):
        raise ValueError(f"fee schedule tiers must rise with non-negative fees{where}: {text!r}")
    return tiers


def annual_fee_rate(tiers: Sequence[FeeTier], assets: np.ndarray) -> np.ndarray:
    """Blended annual fee rate (a fraction) on ``assets``: each tier's bps on the slice of assets in it.

    ``rate = sum_k bps_k / 10_000 * max(0, min(A, upper_k) - lower_k) / A`` (the first tier's rate when A <= 0).
    """
    values = np.asarray(assets, dtype=float)
    charged = np.zeros_like(values)
    lower = 0.0
    for tier in tiers:
        upper = np.inf if tier.up_to is None else tier.up_to
        charged += tier.bps / 10_000 * np.clip(np.minimum(values, upper) - lower, 0.0, None)
        lower = upper
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(values > 0, charged / values, tiers[0].bps / 10_000)


def monthly_fee_rate(tiers: Sequence[FeeTier], begin_values: np.ndarray) -> np.ndarray:
    """The month's fee as a fraction of assets: one twelfth of the blended annual rate on the month's begin value."""
    return annual_fee_rate(tiers, begin_values) / 12.0


def net_of_fee(gross_returns: np.ndarray, fee_rates: np.ndarray) -> np.ndarray:
    """Net return of a month whose fee is deducted at its end: ``(1 + gross) * (1 - fee) - 1``."""
    return (1.0 + np.asarray(gross_returns, dtype=float)) * (1.0 - np.asarray(fee_rates, dtype=float)) - 1.0


def standard_fee_schedule(schedules: Sequence[str]) -> str:
    """The schedule (JSON text) most of a composite's portfolios pay, ties broken by text order: the one a
    GIPS report discloses."""
    from collections import Counter

    counts = Counter(schedules)
    if not counts:
        raise ValueError("the composite has no portfolios, so no fee schedule to disclose")
    best = max(counts.values())
    return min(text for text, count in counts.items() if count == best)


def describe_schedule(tiers: Sequence[FeeTier]) -> str:
    """Plain-English schedule, e.g. ``0.75% on the first USD 50m; 0.50% above``."""
    parts = []
    lower = 0.0
    for tier in tiers:
        pct = f"{tier.bps / 100:.2f}%"
        if tier.up_to is None:
            parts.append(f"{pct} above USD {_millions(lower)}" if lower else f"{pct} on all assets")
        else:
            parts.append(f"{pct} on the first USD {_millions(tier.up_to)}" if not lower
                         else f"{pct} on the next USD {_millions(tier.up_to - lower)}")
            lower = tier.up_to
    return "; ".join(parts)


def _millions(amount: float) -> str:
    """``12.5m``, ``10m``, ``0.25m``: millions with the decimals the amount needs (up to 4)."""
    return f"{amount / 1e6:,.4f}".rstrip("0").rstrip(".") + "m"
