"""The trading days a check looks at: its partition range, or everything for unpartitioned runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from dagster import AssetKey

ALL_HISTORY = ("1900-01-01", "2999-12-31")


@dataclass(frozen=True)
class CheckWindow:
    """First and last trading day (ISO dates, inclusive) a check covers."""

    start: str
    end: str

    def sql(self, column: str) -> str:
        """SQL predicate: ``column`` within the window."""
        return f"{column} between date '{self.start}' and date '{self.end}'"

    def as_metadata(self) -> dict[str, str]:
        """The window, for check metadata."""
        return {"first_day": self.start, "last_day": self.end}


def check_window(context: Any) -> CheckWindow:
    """The partition range of a partitioned check's run, or all history."""
    if getattr(context, "has_partition_key_range", False):
        keys = context.partition_key_range
        return CheckWindow(keys.start, keys.end)
    if getattr(context, "has_partition_key", False):
        return CheckWindow(context.partition_key, context.partition_key)
    return CheckWindow(*ALL_HISTORY)


def gold(domain: str, table: str) -> AssetKey:
    """Key of a gold asset."""
    return AssetKey(["gold", domain, table])


def silver(domain: str, table: str) -> AssetKey:
    """Key of a silver asset."""
    return AssetKey(["silver", domain, table])
