"""Benchmark monthly returns from daily index levels: the level at each month's last session."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd

from mesh_assets.lib.gips.monthly_returns import month_sessions


def benchmark_monthly_returns(levels: pd.DataFrame, sessions: Iterable[dt.date]) -> pd.DataFrame:
    """``benchmark_return = L(last session of month) / L(last session of previous month) - 1`` per month.

    ``levels`` has ``level_date, level``. A month whose closing level (or the previous month's) is missing
    gets a NaN return and ``complete = False``: the benchmark-series check reports it, nothing is guessed.
    """
    calendar = month_sessions(sessions)
    by_day = pd.Series(levels["level"].to_numpy(dtype=float), index=pd.to_datetime(levels["level_date"]))
    by_day = by_day[~by_day.index.duplicated(keep="last")]
    closing = by_day.reindex(calendar["month_last_session"]).to_numpy()
    previous = np.concatenate([[np.nan], closing[:-1]])
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = closing / previous - 1.0
    return pd.DataFrame({
        "month": calendar["month"].astype(str),
        "level_start": previous,
        "level_end": closing,
        "benchmark_return": returns,
        "complete": np.isfinite(returns),
    })
