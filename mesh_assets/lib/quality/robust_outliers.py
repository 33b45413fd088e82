"""Robust outlier detection: median absolute deviation (MAD) z-scores, immune to the outliers themselves."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: Scales the MAD to the standard deviation of a normal distribution.
MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class Outlier:
    """One observation whose robust z-score exceeds the threshold."""

    index: int
    value: float
    robust_z: float


def robust_z_scores(values: Sequence[float]) -> list[float]:
    """``|x - median| / (1.4826 * MAD)`` for each value; 0 everywhere when the MAD is 0."""
    import numpy as np

    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return []
    median = float(np.median(data))
    mad = float(np.median(np.abs(data - median)))
    if mad == 0.0:
        return [0.0] * data.size
    return (np.abs(data - median) / (MAD_TO_SIGMA * mad)).tolist()


def mad_outliers(values: Sequence[float], threshold: float, min_observations: int = 10) -> list[Outlier]:
    """Values whose robust z-score is above ``threshold`` (none when there are too few observations)."""
    if len(values) < min_observations:
        return []
    return [Outlier(i, float(values[i]), z) for i, z in enumerate(robust_z_scores(values)) if z > threshold]
