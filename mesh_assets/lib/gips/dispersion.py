"""Internal dispersion of a composite's portfolio returns for a year (2020 GIPS Standards for Firms).

GIPS asks for a measure of internal dispersion of the annual returns of the portfolios that were in
the composite for the full year; whether to present it when there are few portfolios is a presentation
decision left to the caller. Nothing here imports Dagster.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mesh_assets.lib.gips.validation import require_finite_array, require_non_empty, require_weights


def asset_weighted_dispersion(
    returns: Sequence[float],
    weights: Sequence[float],
    *,
    context: str | None = None,
) -> float:
    """Asset-weighted standard deviation of portfolio returns around the asset-weighted composite return.

    ``σ_aw = sqrt(Σ w_i · (R_i - R_aw)²)`` with ``R_aw = Σ w_i · R_i`` and ``w_i`` the weights normalised
    to sum to 1 (typically beginning-of-year values).

    ``ValueError`` when the inputs are empty or of different lengths, a number is NaN or infinite, a
    weight is negative, or the weights sum to zero.
    """
    r, w = require_weights(returns, weights, context=context)
    composite = float(np.sum(w * r))
    return float(np.sqrt(np.sum(w * (r - composite) ** 2)))


def equal_weighted_dispersion(returns: Sequence[float], *, context: str | None = None) -> float:
    """Equal-weighted (population) standard deviation of portfolio returns.

    ``σ = sqrt(Σ (R_i - R̄)² / n)`` with ``R̄ = Σ R_i / n``: divided by ``n``, not ``n - 1``.

    ``ValueError`` when ``returns`` is empty or a return is NaN or infinite.
    """
    require_non_empty(returns, "returns", context=context)
    r = require_finite_array(returns, "returns", context=context)
    return float(np.std(r, ddof=0))
