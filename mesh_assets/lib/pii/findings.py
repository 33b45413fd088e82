"""What the PII scan reports: the kinds it looks for, what may be allowed, and its findings (no raw values)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class PiiKind(StrEnum):
    """The kinds of personal data the scan looks for."""

    EMAIL = "email"
    PHONE = "phone"
    US_SSN = "us_ssn"
    UK_NINO = "uk_nino"
    CARD_NUMBER = "card_number"
    IBAN = "iban"


@dataclass(frozen=True)
class PiiAllowList:
    """What may look like PII and still be published.

    ``columns``: column names never scanned. ``column_kinds``: kinds allowed in one column only (a
    ``desk_phone`` column may hold phone numbers and is still scanned for the other kinds).
    ``values``: exact values allowed anywhere (compared case-insensitively, spaces ignored), e.g. the
    firm's published support address. ``patterns``: regular expressions a detected value must match
    in full to be allowed (e.g. ``r".*@mesh-capital\\.example"``).
    """

    columns: frozenset[str] = frozenset()
    column_kinds: Mapping[str, frozenset[PiiKind]] = field(default_factory=dict)
    values: frozenset[str] = frozenset()
    patterns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for pattern in self.patterns:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise ValueError(f"PII allow-list pattern {pattern!r} is not a valid regular expression") from exc

    def allows_column(self, column: str) -> bool:
        """The whole column is exempt from the scan."""
        return column in self.columns

    def allows(self, column: str, kind: PiiKind, value: str) -> bool:
        """This detected ``value`` of ``kind`` in ``column`` is allowed."""
        if kind in self.column_kinds.get(column, frozenset()):
            return True
        if _normalise(value) in {_normalise(v) for v in self.values}:
            return True
        return any(re.fullmatch(p, value, flags=re.IGNORECASE) for p in self.patterns)


def _normalise(value: str) -> str:
    return re.sub(r"\s+", "", value).casefold()


@dataclass(frozen=True)
class PiiHit:
    """One cell holding PII: where, what kind, and the value masked (never the raw value)."""

    column: str
    row: int
    kind: PiiKind
    masked: str

    def as_metadata(self) -> dict[str, Any]:
        """Plain-dict form for check metadata."""
        return {"column": self.column, "row": self.row, "kind": str(self.kind), "masked": self.masked}


@dataclass(frozen=True)
class PiiFindings:
    """Outcome of a scan: hit counts per column and kind, a few masked samples, what was skipped."""

    rows_scanned: int
    columns_scanned: tuple[str, ...]
    columns_allowed: tuple[str, ...]
    columns_not_text: tuple[str, ...]
    hits_by_column: Mapping[str, Mapping[str, int]]
    samples: tuple[PiiHit, ...]
    allowed_values: int = 0

    @property
    def total_hits(self) -> int:
        """Number of (cell, kind) hits over all columns."""
        return sum(n for kinds in self.hits_by_column.values() for n in kinds.values())

    @property
    def has_pii(self) -> bool:
        """At least one cell holds PII that is not allow-listed."""
        return self.total_hits > 0
