"""The firm's history: the last N NYSE trading days ending at (or just before) the end date."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from mesh_assets.lib._nyse_closures import FIRST_DAY
from mesh_assets.lib.trading_calendar import is_trading_day, trading_days

MS_PER_DAY = 86_400_000
EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class HistoryWindow:
    """The trading days of the firm's history, in order, and the session after the last one."""

    days: tuple[dt.date, ...]
    next_session: dt.date
    iso_days: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "iso_days", tuple(day.isoformat() for day in (*self.days, self.next_session)))

    @property
    def start(self) -> dt.date:
        """The first trading day."""
        return self.days[0]

    @property
    def end(self) -> dt.date:
        """The last trading day."""
        return self.days[-1]

    def iso(self, index: int) -> str:
        """ISO date of trading day ``index`` (``len(days)`` gives the session after the last day)."""
        return self.iso_days[index]

    def day_ms(self, index: int) -> int:
        """Epoch milliseconds of midnight UTC of trading day ``index``."""
        return day_ms(self.days[index])


def day_ms(day: dt.date) -> int:
    """Epoch milliseconds of midnight UTC of ``day``."""
    return (day - EPOCH).days * MS_PER_DAY


def build_window(end_date: dt.date, sessions: int) -> HistoryWindow:
    """The last ``sessions`` NYSE trading days ending at ``end_date`` (or the last session before it)."""
    first_covered = dt.date.fromisoformat(FIRST_DAY)
    start = max(first_covered, end_date - dt.timedelta(days=sessions * 3 // 2 + 30))
    days = trading_days(start, end_date)
    if len(days) < sessions:
        raise ValueError(
            f"only {len(days)} NYSE trading days between {start.isoformat()} and {end_date.isoformat()}; "
            f"{sessions} needed"
        )
    following = end_date + dt.timedelta(days=1)
    while not is_trading_day(following):
        following += dt.timedelta(days=1)
    return HistoryWindow(days=tuple(days[-sessions:]), next_session=following)
