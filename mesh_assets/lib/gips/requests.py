"""Whether a composite-year can have GIPS figures at all: a user's request, checked before any work.

A bad request (a composite the firm does not have, a year before the composite's inception or after
the data) is the user's mistake, not a crash: it gets one sentence naming the composite and the year,
and must not be retried.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any


def gips_year_problem(
    composite_id: str, year: int, composite: Mapping[str, Any] | None, data_through: dt.date | None
) -> str | None:
    """The one-sentence reason ``composite_id`` has no GIPS year ``year``, or None when it can have one.

    ``composite`` is the composite's reference row (None when the firm has no such composite);
    ``data_through`` the last day with daily returns (None when there are none).
    """
    if composite is None:
        return (f"Composite {composite_id} is not one of the firm's composites (silver.composites), so there is "
                f"no GIPS year {year} for it.")
    inception = dt.date.fromisoformat(str(composite["inception_date"])[:10])
    if year < inception.year:
        return (f"Composite {composite_id} has no GIPS year {year}: its first portfolio was funded on "
                f"{inception.isoformat()}, so its first GIPS year is {inception.year}.")
    if data_through is None or year > data_through.year:
        through = data_through.isoformat() if data_through else "no day yet"
        return (f"Composite {composite_id} has no GIPS year {year} yet: the firm's daily returns run through "
                f"{through}.")
    return None
