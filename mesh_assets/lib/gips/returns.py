"""Portfolio returns under the 2020 GIPS Standards for Firms: Modified Dietz, true TWR, linking, annualizing.

Scalar functions over plain numbers (numpy float64 inside, Python floats out). Every function takes an
optional keyword ``context`` (e.g. ``"portfolio P-0007, 2026-09"``) that prefixes its error messages.
Nothing here imports Dagster.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mesh_assets.lib.gips.validation import (
    invalid,
    require_finite,
    require_finite_array,
    require_flows,
    require_non_empty,
    require_non_negative,
    require_period_days,
)


def modified_dietz(
    begin_value: float,
    end_value: float,
    flows: Sequence[tuple[float, float]],
    period_days: float,
    *,
    context: str | None = None,
) -> float:
    """Modified Dietz return for one period, with external cash flows day-weighted.

    ``R = (EMV - BMV - Σ CF_i) / (BMV + Σ w_i · CF_i)``, with ``w_i = (period_days - day_i) / period_days``.

    ``flows`` are ``(day, amount)`` pairs: contributions positive, withdrawals negative; ``day`` is the
    number of days from the start of the period at which the flow happened, so a flow on day 0 counts in
    full (``w = 1``) and a flow on day ``period_days`` not at all (``w = 0``). ``begin_value`` may be 0
    (a portfolio funded during the period); the end value is not sign-checked.

    The denominator is the average invested capital; ``ValueError`` when it is not positive, when
    ``period_days <= 0``, when a day is outside ``[0, period_days]``, when a number is NaN or infinite,
    or when ``begin_value`` is negative.
    """
    days_in_period = require_period_days(period_days, context=context)
    bmv = require_non_negative(begin_value, "begin value", context=context)
    emv = require_finite(end_value, "end value", context=context)
    days, amounts = require_flows(flows, days_in_period, context=context)
    weights = (days_in_period - days) / days_in_period
    denominator = bmv + float(np.sum(weights * amounts))
    if not denominator > 0.0:
        raise invalid(
            "Modified Dietz denominator (average invested capital, BMV + Σ w_i·CF_i) is not positive "
            f"({denominator}); the return is undefined",
            context,
        )
    return float((emv - bmv - float(np.sum(amounts))) / denominator)


def time_weighted_return(
    subperiods: Sequence[tuple[float, float, float]],
    *,
    context: str | None = None,
) -> float:
    """True time-weighted return: the portfolio revalued at every external cash flow.

    Each subperiod is ``(begin_value, flow_at_start, end_value)``, the flow arriving at the start of the
    subperiod (just after the valuation that closed the previous one). Subperiod return
    ``r_k = EMV_k / (BMV_k + CF_k) - 1``, linked geometrically: ``TWR = Π (1 + r_k) - 1``.

    ``ValueError`` when ``subperiods`` is empty, a number is NaN or infinite, a begin value is negative,
    or ``begin_value + flow_at_start <= 0`` (the message gives the 0-based subperiod index).
    """
    require_non_empty(subperiods, "subperiods", context=context)
    growth = np.empty(len(subperiods), dtype=np.float64)
    for k, subperiod in enumerate(subperiods):
        try:
            begin, flow, end = subperiod
        except (TypeError, ValueError):
            raise invalid(
                f"subperiod {k} is not a (begin_value, flow_at_start, end_value) triple ({subperiod!r})", context
            ) from None
        bmv = require_non_negative(begin, f"subperiod {k} begin value", context=context)
        cf = require_finite(flow, f"subperiod {k} flow", context=context)
        emv = require_finite(end, f"subperiod {k} end value", context=context)
        invested = bmv + cf
        if invested <= 0.0:
            raise invalid(
                f"subperiod {k}: begin value + flow at start is not positive ({bmv} + {cf} = {invested}); "
                "the subperiod return is undefined",
                context,
            )
        growth[k] = emv / invested
    return float(np.prod(growth) - 1.0)


def link_returns(returns: Sequence[float], *, context: str | None = None) -> float:
    """Geometric linking of periodic returns: ``R = Π (1 + r_i) - 1``; an empty sequence links to 0.0.

    ``ValueError`` when a return is NaN or infinite, or ``r_i <= -1`` (a loss of 100% or more).
    """
    r = require_finite_array(returns, "returns", context=context)
    at_or_below = np.flatnonzero(r <= -1.0)
    if at_or_below.size:
        i = int(at_or_below[0])
        raise invalid(f"returns[{i}] is {r[i]}, at or below -100%; it cannot be linked", context)
    return float(np.prod(1.0 + r) - 1.0)


def annualize(cumulative_return: float, years: float, *, context: str | None = None) -> float:
    """Annualized return from a cumulative one: ``R_ann = (1 + R) ^ (1 / years) - 1``.

    GIPS forbids annualizing a return for a period of less than one year, so ``years < 1`` raises
    ``ValueError``; so does a NaN or infinite input, or a cumulative return below -100%.
    """
    total = require_finite(cumulative_return, "cumulative return", context=context)
    span = require_finite(years, "years", context=context)
    if span < 1.0:
        raise invalid(
            f"cannot annualize a return over {span} years: GIPS forbids annualizing periods of less than one year",
            context,
        )
    if total < -1.0:
        raise invalid(f"cumulative return {total} is below -100%", context)
    return float(np.power(1.0 + total, 1.0 / span) - 1.0)
