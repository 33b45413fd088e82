"""The trading days a check looks at: its partition range, or everything for unpartitioned runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dagster import AssetKey

ALL_HISTORY = ("1900-01-01", "2999-12-31")


@dataclass(frozen=True)
class CheckWindow:
    """First and last trading day (ISO dates, inclusive) a check covers, and its days when known."""

    start: str
    end: str
    days: tuple[str, ...] = field(default=())

    def sql(self, column: str) -> str:
        """SQL predicate: ``column`` within the window."""
        return f"{column} between date '{self.start}' and date '{self.end}'"

    def as_metadata(self) -> dict[str, str]:
        """The window, for check metadata."""
        return {"first_day": self.start, "last_day": self.end}

    def chunks(self, max_days: int) -> list[CheckWindow]:
        """The window cut into consecutive windows of at most ``max_days`` of its days (itself when its days are
        unknown or fit)."""
        if not self.days or len(self.days) <= max_days:
            return [self]
        parts = [self.days[i:i + max_days] for i in range(0, len(self.days), max_days)]
        return [CheckWindow(part[0], part[-1], part) for part in parts]

    def days_without(self, found: Iterable[str]) -> list[str]:
        """The window's days (partition keys) that are not in ``found``."""
        seen = set(found)
        return [d for d in self.days if d not in seen]


def check_window(context: Any) -> CheckWindow:
    """The partition range of a partitioned check's run (with its keys), or all history."""
    if getattr(context, "has_partition_key_range", False):
        keys = context.partition_key_range
        return CheckWindow(keys.start, keys.end, tuple(context.partition_keys))
    if getattr(context, "has_partition_key", False):
        return CheckWindow(context.partition_key, context.partition_key, (context.partition_key,))
    return CheckWindow(*ALL_HISTORY)


def by_day(rows: Sequence[Mapping[str, Any]], column: str) -> dict[str, list[Mapping[str, Any]]]:
    """``rows`` grouped by the ISO date in ``column`` (in the rows' order)."""
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        grouped.setdefault(str(row[column]), []).append(row)
    return grouped


def gold(domain: str, table: str) -> AssetKey:
    """Key of a gold asset."""
    return AssetKey(["gold", domain, table])


def silver(domain: str, table: str) -> AssetKey:
    """Key of a silver asset."""
    return AssetKey(["silver", domain, table])
