"""Composite returns under the 2020 GIPS Standards for Firms: asset-weighted and aggregate methods.

GIPS allows three ways to asset-weight a composite's return for a period:

a. beginning values: weight each portfolio's return by its beginning market value;
b. beginning values plus external cash flows: weight by ``BMV_i + Σ_j w_ij · CF_ij`` (the Modified
   Dietz denominator, the portfolio's average invested capital);
c. the aggregate method: treat the composite as one portfolio and compute its return from pooled
   values and flows.

Methods a and b are :func:`composite_return` (the caller chooses the weights); method c is
:func:`aggregate_composite_return`. Nothing here imports Dagster.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mesh_assets.lib.gips.returns import modified_dietz
from mesh_assets.lib.gips.validation import (
    invalid,
    require_equal_lengths,
    require_finite_array,
    require_flows,
    require_non_empty,
    require_non_negative_array,
    require_period_days,
    require_weights,
)


def composite_return(
    returns: Sequence[float],
    weights: Sequence[float],
    *,
    context: str | None = None,
) -> float:
    """Asset-weighted composite return: ``R_c = Σ w_i · R_i / Σ w_i`` (weights normalised here).

    Pass as ``weights`` either the portfolios' beginning values (method a, ``w_i = BMV_i``) or their
    beginning values plus day-weighted external cash flows (method b,
    ``w_i = BMV_i + Σ_j (D - d_ij) / D · CF_ij``); both are in money and need not sum to 1.

    ``ValueError`` when the inputs are empty or of different lengths, a number is NaN or infinite, a
    weight is negative, or the weights sum to zero.
    """
    r, w = require_weights(returns, weights, context=context)
    return float(np.sum(w * r))


def aggregate_composite_return(
    begin_values: Sequence[float],
    end_values: Sequence[float],
    flows: Sequence[Sequence[tuple[float, float]]],
    period_days: float,
    *,
    context: str | None = None,
) -> float:
    """Composite return by the aggregate method (c): the composite as one portfolio under Modified Dietz.

    ``R_c = (Σ EMV_i - Σ BMV_i - Σ_i Σ_j CF_ij) / (Σ BMV_i + Σ_i Σ_j w_ij · CF_ij)``, with
    ``w_ij = (period_days - day_ij) / period_days``.

    ``begin_values``, ``end_values`` and ``flows`` are parallel, one entry per portfolio; each
    portfolio's flows are ``(day, amount)`` pairs. ``ValueError`` when the inputs are empty or of
    different lengths, a begin value is negative, a number is NaN or infinite, a day is outside
    ``[0, period_days]``, or the pooled denominator is not positive (see
    :func:`~mesh_assets.lib.gips.returns.modified_dietz`).
    """
    require_non_empty(begin_values, "begin_values", context=context)
    require_equal_lengths({"begin_values": begin_values, "end_values": end_values, "flows": flows}, context=context)
    days_in_period = require_period_days(period_days, context=context)
    bmv = require_non_negative_array(begin_values, "begin_values", context=context)
    emv = require_finite_array(end_values, "end_values", context=context)
    pooled: list[tuple[float, float]] = []
    for i, portfolio_flows in enumerate(flows):
        if isinstance(portfolio_flows, str | bytes):
            raise invalid(f"flows[{i}] is not a sequence of (day, amount) pairs ({portfolio_flows!r})", context)
        days, amounts = require_flows(portfolio_flows, days_in_period, name=f"flows[{i}]", context=context)
        pooled.extend(zip(days.tolist(), amounts.tolist(), strict=True))
    return modified_dietz(float(np.sum(bmv)), float(np.sum(emv)), pooled, days_in_period, context=context)
