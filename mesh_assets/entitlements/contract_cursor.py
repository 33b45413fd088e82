"""Where the contract sensor stands in Salesforce's change stream: a high-water mark plus an overlap window.

Salesforce stamps every change with ``SystemModstamp`` (millisecond resolution), but a change can become
visible to a query after later-stamped ones (its transaction committed late), and several versions can share
one millisecond. A cursor that only asks for ``SystemModstamp > high-water`` would skip both. So each poll
re-reads an overlap window below the high-water mark (:func:`query_since`), and the cursor remembers which
``(Id, SystemModstamp)`` versions of that window it has already handed out: :func:`advance` returns only the
versions it has not seen, ordered by ``SystemModstamp, Id``. Nothing is skipped inside the window, nothing is
returned twice.

Pure Python, no Dagster import; the sensor stores :meth:`ContractCursor.to_json` as its cursor string.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_FORMAT_VERSION = 1


class CursorFormatError(ValueError):
    """A stored cursor string that is not a contract cursor."""


def parse_modstamp(stamp: str) -> dt.datetime:
    """A SystemModstamp (``2026-03-14T09:21:33.123+0000``, ``...Z`` or ``...+00:00``) as an aware UTC datetime."""
    text = str(stamp).strip().replace("Z", "+00:00")
    if len(text) > 5 and text[-5] in "+-" and text[-4:].isdigit():
        text = f"{text[:-2]}:{text[-2:]}"
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"not a SystemModstamp: {stamp!r}") from exc
    if moment.tzinfo is None:
        raise ValueError(f"SystemModstamp {stamp!r} has no time zone")
    return moment.astimezone(dt.UTC)


def format_modstamp(moment: dt.datetime) -> str:
    """Salesforce's format at millisecond resolution: ``2026-03-14T09:21:33.123+0000``."""
    utc = moment.astimezone(dt.UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}+0000"


def _version(record: dict[str, Any]) -> tuple[str, str]:
    """``(Id, canonical SystemModstamp)`` of a record; the error names the record when either is missing."""
    record_id, stamp = record.get("Id"), record.get("SystemModstamp")
    if not record_id or not stamp:
        raise ValueError(f"Salesforce record {record_id or record!r} has no Id or no SystemModstamp")
    return str(record_id), format_modstamp(parse_modstamp(stamp))


@dataclass(frozen=True)
class ContractCursor:
    """The highest SystemModstamp seen and the ``(Id, SystemModstamp)`` versions seen within the overlap window."""

    high_water: str | None = None
    seen: frozenset[tuple[str, str]] = frozenset()

    def to_json(self) -> str:
        """The cursor as a compact, deterministic JSON string (the Dagster sensor cursor)."""
        body = {"v": _FORMAT_VERSION, "high_water": self.high_water, "seen": sorted([i, s] for i, s in self.seen)}
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | None) -> ContractCursor:
        """The cursor stored by :meth:`to_json`; None or an empty string is the initial cursor (read everything)."""
        if not text:
            return cls()
        try:
            body = json.loads(text)
            if "v" not in body:
                raise KeyError("v")
            if body["v"] != _FORMAT_VERSION:
                raise CursorFormatError(f"contract cursor format {body.get('v')!r}, expected {_FORMAT_VERSION}")
            high_water = body["high_water"]
            seen = frozenset((str(i), format_modstamp(parse_modstamp(s))) for i, s in body["seen"])
            if high_water is not None:
                high_water = format_modstamp(parse_modstamp(high_water))
        except CursorFormatError:
            raise
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise CursorFormatError(f"not a contract cursor: {text[:200]!r} ({exc})") from exc
        return cls(high_water=high_water, seen=seen)


def query_since(cursor: ContractCursor, overlap_s: float) -> str | None:
    """The SOQL lower bound of the next poll: high-water minus ``overlap_s``, floored to the second (None: all).

    Whole seconds keep the bound in SOQL's documented datetime format; the extra re-read is de-duplicated.
    """
    if overlap_s < 0:
        raise ValueError(f"overlap_s must be >= 0, got {overlap_s}")
    if cursor.high_water is None:
        return None
    bound = parse_modstamp(cursor.high_water) - dt.timedelta(seconds=overlap_s)
    return format_modstamp(bound.replace(microsecond=0))


def advance(
    cursor: ContractCursor, records: Iterable[dict[str, Any]], overlap_s: float
) -> tuple[list[dict[str, Any]], ContractCursor]:
    """The versions in ``records`` not handed out before (ordered by SystemModstamp, Id) and the new cursor.

    ``records`` is the result of a poll from :func:`query_since` (``SystemModstamp >=`` that bound). A version
    seen before, or repeated within ``records``, is dropped; so is one stamped below that bound, which the poll
    did not ask for. The new cursor keeps the versions at or above its own next bound.
    """
    bound = query_since(cursor, overlap_s)
    floor = parse_modstamp(bound) if bound else None
    fresh: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        version = _version(record)
        if version in cursor.seen or version in fresh:
            continue
        if floor is not None and parse_modstamp(version[1]) < floor:
            continue
        fresh[version] = record
    ordered = sorted(fresh.items(), key=lambda item: (parse_modstamp(item[0][1]), item[0][0]))
    new_records = [record for _, record in ordered]
    stamps = [parse_modstamp(s) for _, s in fresh]
    if cursor.high_water is not None:
        stamps.append(parse_modstamp(cursor.high_water))
    if not stamps:
        return new_records, cursor
    high_water = format_modstamp(max(stamps))
    next_bound = parse_modstamp(query_since(ContractCursor(high_water), overlap_s) or high_water)
    seen = frozenset(v for v in cursor.seen | fresh.keys() if parse_modstamp(v[1]) >= next_bound)
    return new_records, ContractCursor(high_water=high_water, seen=seen)


def change_set_key(records: Iterable[dict[str, Any]]) -> str:
    """A deterministic hash of the records' ``(Id, SystemModstamp)`` versions (order-independent): a run key."""
    versions = sorted({_version(r) for r in records})
    digest = hashlib.sha256("\n".join(f"{i}@{s}" for i, s in versions).encode()).hexdigest()
    return f"contracts-{digest[:32]}"
