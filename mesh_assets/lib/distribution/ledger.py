"""What a distribution topic already holds for a trading day, and whether it matches gold.

A publication first reads the topic ranges where earlier attempts for the same day may have written
(their start offsets are kept in Dagster's event log, see ``assets.py``); from those records this module
derives the latest event per fund (to skip replays and number restatements) and the verdict of the
asset check (every fund of gold has exactly one event with the expected id and figures).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from mesh_assets.lib.cdc.records import SourceRecord
from mesh_assets.lib.distribution.events import (
    EventDocument,
    EventFormatError,
    PriorEvent,
    content_hash,
    event_id,
    parse_event,
)
from mesh_assets.lib.quality import Verdict

SAMPLES = 5


@dataclass(frozen=True)
class Delivery:
    """Where the broker (or the outbox) put an event; ``created`` is False when it was already there."""

    event_id: str
    portfolio_id: str
    partition: int
    offset: int
    created: bool = True


@dataclass(frozen=True)
class PublishedEvent(EventDocument):
    """An event read back from a topic, with its position (its id, fund and revision from the document)."""

    partition: int
    offset: int
    key: str | None
    document: Mapping[str, Any]

    def position(self) -> str:
        """``partition@offset``."""
        return f"{self.partition}@{self.offset}"


@dataclass(frozen=True)
class TopicRead:
    """The events read back from a topic's ledger ranges, and what else was there."""

    events: list[PublishedEvent]
    records_read: int
    foreign: list[str]
    ranges: dict[int, tuple[int, int]]
    truncated: dict[int, tuple[int, int]]

    def as_metadata(self) -> dict[str, Any]:
        """Counts and ranges, for materialization and check metadata."""
        return {"records_read": self.records_read, "foreign_records": len(self.foreign),
                "foreign_sample": self.foreign[:SAMPLES],
                "ranges_read": {str(p): list(r) for p, r in sorted(self.ranges.items())},
                "ranges_lost_to_retention": {str(p): list(r) for p, r in sorted(self.truncated.items())} or None}


def merge_starts(starts: Iterable[Mapping[int, int]]) -> dict[int, int]:
    """The earliest start offset per partition over several attempts' start positions."""
    merged: dict[int, int] = {}
    for one in starts:
        for partition, offset in one.items():
            merged[int(partition)] = min(int(offset), merged.get(int(partition), int(offset)))
    return merged


def read_events(records: Iterable[SourceRecord], ranges: Mapping[int, tuple[int, int]],
                truncated: Mapping[int, tuple[int, int]] | None = None) -> TopicRead:
    """Parse records read from a topic into events; anything else is named in ``foreign`` (never fatal)."""
    events, foreign, count = [], [], 0
    for record in records:
        count += 1
        where = record.position()
        try:
            document = parse_event(record.value, where)
        except EventFormatError as exc:
            foreign.append(str(exc))
            continue
        key = record.key.decode("utf-8", "replace") if record.key is not None else None
        events.append(PublishedEvent(record.partition, record.offset, key, document))
    return TopicRead(events, count, foreign, dict(ranges), dict(truncated or {}))


def events_of_day(events: Iterable[PublishedEvent], event_type: str, day: str) -> list[PublishedEvent]:
    """The events of ``event_type`` about ``day``, in (partition, offset) order."""
    return sorted((e for e in events if e.document.get("event_type") == event_type
                   and e.document.get("as_of_date") == day), key=lambda e: (e.partition, e.offset))


def latest_by_fund(events: Iterable[PublishedEvent]) -> dict[str, PublishedEvent]:
    """The highest-revision event per fund (the later one when a revision was written twice)."""
    latest: dict[str, PublishedEvent] = {}
    for e in events:
        held = latest.get(e.portfolio_id)
        if held is None or (e.revision, e.partition, e.offset) >= (held.revision, held.partition, held.offset):
            latest[e.portfolio_id] = e
    return latest


def prior_events(events: Iterable[PublishedEvent]) -> dict[str, PriorEvent]:
    """The latest event per fund as the event builder's ``prior``."""
    return {fund: PriorEvent(e.event_id, e.revision, e.document["content_hash"])
            for fund, e in latest_by_fund(events).items()}


def _sample(events: Iterable[PublishedEvent], problem: str) -> list[dict[str, Any]]:
    return [{"portfolio_id": e.portfolio_id, "event_id": e.event_id, "position": e.position(), "problem": problem}
            for e in list(events)[:SAMPLES]]


def verify_publication(topic: str, day: str, expected: Mapping[str, str], events: list[PublishedEvent]) -> Verdict:
    """Every fund of gold (``expected``: fund -> content hash of its current figures) has exactly one event
    on the topic for ``day``, its latest, carrying those figures and the id they imply.

    Fails (ERROR) for a fund with no event, with other figures than gold (a restatement not yet published),
    or with an event whose id or hash does not follow from its content; fails as WARN for funds published
    that gold no longer has and for duplicated ids (consumers drop those by id).
    """
    latest = latest_by_fund(events)
    counts = Counter(e.event_id for e in events)
    missing = sorted(set(expected) - set(latest))
    stale = [latest[f] for f in sorted(set(expected) & set(latest))
             if latest[f].document["content_hash"] != expected[f]]
    corrupt = [e for e in events
               if content_hash(e.document) != e.document["content_hash"]
               or e.event_id != event_id(topic, e.portfolio_id, day, e.document["content_hash"], e.revision)
               or e.key != e.portfolio_id]
    orphans = [latest[f] for f in sorted(set(latest) - set(expected))]
    duplicated = [e for e in latest.values() if counts[e.event_id] > 1]
    matched = len(expected) - len(missing) - len(stale)
    metadata = {
        "topic": topic, "as_of_date": day, "funds_in_gold": len(expected), "events_for_day": len(events),
        "funds_matching": matched, "missing": len(missing), "figures_differ": len(stale),
        "invalid_events": len(corrupt), "not_in_gold": len(orphans), "duplicated_ids": len(duplicated),
        "samples": ([{"portfolio_id": f, "problem": "no event"} for f in missing[:SAMPLES]]
                    + _sample(stale, "figures differ from gold") + _sample(corrupt, "id, hash or key inconsistent")
                    + _sample(orphans, "fund not in gold") + _sample(duplicated, "id published more than once")),
        "matching_sample": [{"portfolio_id": e.portfolio_id, "event_id": e.event_id, "position": e.position()}
                            for f, e in sorted(latest.items()) if f in expected][:SAMPLES],
    }
    if not expected:
        return Verdict(False, f"{topic} {day}: gold has no fund for the day: nothing to verify", metadata)
    errors = [(missing, "have no event"), (stale, "have other figures on the topic than in gold"),
              (corrupt, "events with an id, hash or key that does not follow from their content")]
    problems = [f"{len(items)} {text}" for items, text in errors if items]
    if problems:
        first = missing[0] if missing else (stale or corrupt)[0].portfolio_id
        return Verdict(False, f"{topic} {day}: " + "; ".join(problems) + f" (e.g. portfolio {first})", metadata)
    warnings = [(orphans, "funds published that gold no longer has"), (duplicated, "event ids on the topic twice")]
    problems = [f"{len(items)} {text}" for items, text in warnings if items]
    if problems:
        first = (orphans or duplicated)[0]
        return Verdict(False, f"{topic} {day}: " + "; ".join(problems) + f" (e.g. portfolio {first.portfolio_id} "
                              f"at {first.position()})", metadata, warn_only=True)
    return Verdict(True, f"{topic} {day}: all {len(expected)} funds of gold have exactly one current event with "
                         "the expected id and figures", metadata)
