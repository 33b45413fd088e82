"""Shared input checks for the GIPS return engine: each raises ``ValueError`` naming the problem.

Every helper takes an optional ``context`` (e.g. ``"portfolio P-0007, 2026-09"``); when given, the
message starts with it, so a failure in a batch says which portfolio and period it came from:
``"portfolio P-0007, 2026-09: begin value is negative (-5.0)"``.

Pure Python and numpy; nothing here imports Dagster.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence, Sized

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]


def invalid(problem: str, context: str | None = None) -> ValueError:
    """The ``ValueError`` for ``problem``, prefixed with ``context`` when one is given (raise it)."""
    return ValueError(f"{context}: {problem}" if context else problem)


def require_finite(value: float, name: str, *, context: str | None = None) -> float:
    """``value`` as a float; ``ValueError`` when it is not a number, NaN or infinite."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise invalid(f"{name} is not a number ({value!r})", context) from None
    if not math.isfinite(number):
        raise invalid(f"{name} is not a finite number ({number})", context)
    return number


def require_finite_array(values: Sequence[float], name: str, *, context: str | None = None) -> FloatArray:
    """``values`` as a 1-D float64 array; ``ValueError`` naming the first entry that is not finite.

    ``name`` is the plural noun for the entries (``"returns"``); an entry is named ``"returns[2]"``.
    """
    return np.array(
        [require_finite(v, f"{name}[{i}]", context=context) for i, v in enumerate(values)], dtype=np.float64
    )


def require_non_empty(values: Sized, name: str, *, context: str | None = None) -> None:
    """``ValueError`` when ``values`` is empty."""
    if len(values) == 0:
        raise invalid(f"{name} is empty", context)


def require_equal_lengths(sequences: Mapping[str, Sized], *, context: str | None = None) -> int:
    """The common length of the named sequences; ``ValueError`` listing each length when they differ."""
    lengths = {name: len(seq) for name, seq in sequences.items()}
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{n} {name}" for name, n in lengths.items())
        raise invalid(f"mismatched lengths: {listed}", context)
    return next(iter(lengths.values()), 0)


def require_non_negative(value: float, name: str, *, context: str | None = None) -> float:
    """``value`` as a finite float; ``ValueError`` when it is negative (a begin value must not be)."""
    number = require_finite(value, name, context=context)
    if number < 0.0:
        raise invalid(f"{name} is negative ({number})", context)
    return number


def require_non_negative_array(values: Sequence[float], name: str, *, context: str | None = None) -> FloatArray:
    """``values`` as a finite float64 array; ``ValueError`` naming the first negative entry."""
    array = require_finite_array(values, name, context=context)
    negative = np.flatnonzero(array < 0.0)
    if negative.size:
        i = int(negative[0])
        raise invalid(f"{name}[{i}] is negative ({array[i]})", context)
    return array


def require_period_days(period_days: float, *, context: str | None = None) -> float:
    """The period length in days as a float; ``ValueError`` unless it is finite and positive."""
    days = require_finite(period_days, "period_days", context=context)
    if days <= 0.0:
        raise invalid(f"period_days must be positive (got {days})", context)
    return days


def require_flows(
    flows: Sequence[tuple[float, float]],
    period_days: float,
    *,
    name: str = "flows",
    context: str | None = None,
) -> tuple[FloatArray, FloatArray]:
    """``(days, amounts)`` arrays from ``(day, amount)`` pairs, each day within ``[0, period_days]``.

    ``ValueError`` naming the flow (``"flows[1]"``) when an entry is not a pair, a day or an amount is
    not finite, or a day falls outside the period.
    """
    days: list[float] = []
    amounts: list[float] = []
    for i, flow in enumerate(flows):
        try:
            day, amount = flow
        except (TypeError, ValueError):
            raise invalid(f"{name}[{i}] is not a (day, amount) pair ({flow!r})", context) from None
        day = require_finite(day, f"{name}[{i}] day", context=context)
        amount = require_finite(amount, f"{name}[{i}] amount", context=context)
        if not 0.0 <= day <= period_days:
            raise invalid(f"{name}[{i}] day {day} is outside the period [0, {period_days}]", context)
        days.append(day)
        amounts.append(amount)
    return np.array(days, dtype=np.float64), np.array(amounts, dtype=np.float64)


def require_weights(
    returns: Sequence[float],
    weights: Sequence[float],
    *,
    context: str | None = None,
) -> tuple[FloatArray, FloatArray]:
    """``(returns, normalised weights)`` as arrays; the weights sum to 1.

    ``ValueError`` when either is empty, the lengths differ, an entry is not finite, a weight is
    negative, or the weights sum to zero.
    """
    require_non_empty(returns, "returns", context=context)
    require_equal_lengths({"returns": returns, "weights": weights}, context=context)
    r = require_finite_array(returns, "returns", context=context)
    w = require_non_negative_array(weights, "weights", context=context)
    total = float(np.sum(w))
    if total <= 0.0:
        raise invalid(f"total weight is zero (weights {w.tolist()})", context)
    return r, w / total
