"""Ex-post risk under the 2020 GIPS Standards for Firms: the annualized three-year standard deviation.

Nothing here imports Dagster.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mesh_assets.lib.gips.validation import invalid, require_finite_array

#: GIPS: the three-year annualized ex-post standard deviation uses the latest 36 monthly returns.
EX_POST_MONTHS = 36


def ex_post_standard_deviation(
    monthly_returns: Sequence[float],
    ddof: int = 1,
    *,
    context: str | None = None,
) -> float:
    """Three-year annualized ex-post standard deviation of monthly returns.

    ``σ_ann = sqrt(12) · sqrt(Σ (r_t - r̄)² / (36 - ddof))`` over the latest 36 months, ``r̄`` their mean.

    ``monthly_returns`` is in time order, oldest first; only its last 36 entries are used. ``ddof=1``
    (the default) is the sample standard deviation, ``ddof=0`` the population one. ``ValueError`` when
    fewer than 36 returns are given, any return (used or not) is NaN or infinite, or ``ddof`` is not an
    integer in ``[0, 36)``.
    """
    if isinstance(ddof, bool) or not isinstance(ddof, int | np.integer) or not 0 <= ddof < EX_POST_MONTHS:
        raise invalid(f"ddof must be an integer in [0, {EX_POST_MONTHS}) (got {ddof!r})", context)
    given = len(monthly_returns)
    if given < EX_POST_MONTHS:
        were = "was" if given == 1 else "were"
        raise invalid(
            f"the ex-post standard deviation needs {EX_POST_MONTHS} monthly returns; {given} {were} given", context
        )
    r = require_finite_array(monthly_returns, "monthly_returns", context=context)
    latest = r[-EX_POST_MONTHS:]
    return float(np.std(latest, ddof=int(ddof)) * np.sqrt(12.0))
