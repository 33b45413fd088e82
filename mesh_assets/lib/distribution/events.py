"""Distribution events: one per fund and trading day, with an id that a replay reproduces.

The record value is UTF-8 JSON with sorted keys (schema version 1, JSON Schemas under ``schemas/``)::

    {"event_type": "nav.intraday", "schema_version": 1, "event_id": "<uuid>", "portfolio_id": "P-0004",
     "as_of_date": "2026-08-07", "currency": "USD", "figures": {...}, "revision": 1, "supersedes": null,
     "content_hash": "<sha256>", "source": {"tables": [...], "publish_run_id": "..."}, "published_at": "..."}

The record key is the fund (``portfolio_id``, UTF-8), so every event of a fund lands in one partition and
keeps its order. ``content_hash`` is the SHA-256 of the canonical JSON of what the event says (event type,
schema version, fund, day, currency, figures), never of when or by whom it was published. The id is
``uuid5(EVENT_NAMESPACE, "<topic>|<portfolio_id>|<as_of_date>|<content_hash>|<revision>")``: publishing
the same figures again gives the same id (consumers drop it); a restatement gets the next revision, a new
id and ``supersedes`` naming the event it replaces. The revision is in the id so that figures restated
back to an earlier version (A, then B, then A again) are announced again rather than dropped as a replay.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mesh_assets.lib.distribution.topics import (
    NAV_INTRADAY,
    PERFORMANCE_METRICS,
    SCHEMA_VERSION,
    DistributionTopic,
)

#: Namespace of the uuid5 event ids (fixed forever: changing it would change every id).
EVENT_NAMESPACE = uuid.UUID("6c1f3a52-9a0e-5c55-8f7e-3b1d2e4a9d10")
#: The fields ``content_hash`` covers: what the event says, not when or by whom it was published.
CONTENT_FIELDS = ("event_type", "schema_version", "portfolio_id", "as_of_date", "currency", "figures")


class EventBuildError(ValueError):
    """Gold rows that cannot become events; the message names the fund, day and field at fault."""


class EventFormatError(ValueError):
    """A record value that is not a distribution event of this schema."""


@dataclass(frozen=True)
class PriorEvent:
    """The latest event a topic already holds for a fund and day."""

    event_id: str
    revision: int
    content_hash: str


class EventDocument:
    """What every distribution event document says about itself (``document`` is the record's JSON value)."""

    document: Mapping[str, Any]

    @property
    def event_id(self) -> str:
        """The deterministic event id."""
        return self.document["event_id"]

    @property
    def portfolio_id(self) -> str:
        """The fund, also the record key."""
        return self.document["portfolio_id"]

    @property
    def revision(self) -> int:
        """1 for the first figures of a fund and day, then +1 per restatement."""
        return int(self.document["revision"])


@dataclass(frozen=True)
class DistributionEvent(EventDocument):
    """One event ready to produce: the topic, and the JSON document that is the record's value."""

    topic: str
    document: Mapping[str, Any] = field(hash=False)

    @property
    def key(self) -> bytes:
        """The Kafka record key: the fund id in UTF-8."""
        return self.portfolio_id.encode("utf-8")

    @property
    def value(self) -> bytes:
        """The Kafka record value: canonical JSON (sorted keys, no spaces, UTF-8)."""
        return canonical_json(self.document)

    @property
    def headers(self) -> list[tuple[str, bytes]]:
        """Record headers, so a consumer can drop a replay without parsing the value."""
        return [("event_id", self.event_id.encode()), ("event_type", self.document["event_type"].encode()),
                ("schema_version", str(self.document["schema_version"]).encode()),
                ("content-type", b"application/json")]


def canonical_json(value: Any) -> bytes:
    """``value`` as compact JSON with sorted keys, UTF-8; NaN and infinities are refused."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def content_hash(document: Mapping[str, Any]) -> str:
    """SHA-256 (hex) of the canonical JSON of the document's :data:`CONTENT_FIELDS`."""
    return hashlib.sha256(canonical_json({k: document[k] for k in CONTENT_FIELDS})).hexdigest()


def event_id(topic: str, portfolio_id: str, as_of_date: str, digest: str, revision: int) -> str:
    """``uuid5`` over the topic, fund, day, content hash and revision."""
    return str(uuid.uuid5(EVENT_NAMESPACE, f"{topic}|{portfolio_id}|{as_of_date}|{digest}|{revision}"))


def _number(row: Mapping[str, Any], column: str, where: str, nullable: bool = False) -> float | None:
    value = row.get(column)
    if value is None:
        if nullable:
            return None
        raise EventBuildError(f"{where}: {column} is null")
    if isinstance(value, bool):
        raise EventBuildError(f"{where}: {column} is a boolean ({value}), not a number")
    number = float(value)
    if not math.isfinite(number):
        raise EventBuildError(f"{where}: {column} is {number}, not a finite number")
    return number + 0.0  # -0.0 -> 0.0: one canonical zero


def _text(row: Mapping[str, Any], column: str, where: str) -> str:
    value = row.get(column)
    if not isinstance(value, str) or not value:
        raise EventBuildError(f"{where}: {column} is {value!r}, expected a non-empty string")
    return value


def _fund(row: Mapping[str, Any], topic: DistributionTopic, day: str) -> str:
    fund = row.get("portfolio_id")
    if not isinstance(fund, str) or not fund:
        raise EventBuildError(f"{topic.name} {day}: a gold row has no portfolio_id: {dict(row)}")
    return fund


def nav_figures(row: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Figures of a ``nav.intraday`` event from a ``gold.nav_history`` row."""
    return {
        "nav": _number(row, "nav", where),
        "nav_index": _number(row, "nav_index", where),
        "external_flow": _number(row, "external_flow", where),
        "daily_return": _number(row, "daily_return", where, nullable=True),
        "return_status": _text(row, "return_status", where),
    }


def performance_figures(row: Mapping[str, Any], analytics: Sequence[Mapping[str, Any]], where: str) -> dict[str, Any]:
    """Figures of a ``performance.metrics`` event: a ``gold.daily_returns`` row and the fund's
    ``gold.portfolio_analytics`` rows of the day (exposures, top holdings, turnover)."""
    large = row.get("is_large_flow")
    by_measure: dict[str, list[Mapping[str, Any]]] = {}
    for a in analytics:
        by_measure.setdefault(_text(a, "measure", where), []).append(a)
    turnover = by_measure.get("turnover", [])
    if len(turnover) > 1:
        raise EventBuildError(f"{where}: {len(turnover)} turnover rows in gold.portfolio_analytics, expected one")

    def exposure(measure: str, name: str) -> list[dict[str, Any]]:
        rows = sorted(by_measure.get(measure, []), key=lambda a: str(a.get("bucket")))
        return [{name: _text(a, "bucket", where), "weight": _number(a, "weight", where),
                 "market_value": _number(a, "market_value", where)} for a in rows]

    holdings = sorted(by_measure.get("top_holding", []), key=lambda a: (a.get("rank") or 0, str(a.get("bucket"))))
    return {
        "begin_value": _number(row, "begin_value", where, nullable=True),
        "end_value": _number(row, "end_value", where),
        "external_flow": _number(row, "external_flow", where),
        "daily_return": _number(row, "daily_return", where, nullable=True),
        "return_status": _text(row, "return_status", where),
        "is_large_flow": None if large is None else bool(large),
        "turnover": _number(turnover[0], "weight", where) if turnover else None,
        "sector_exposure": exposure("sector_exposure", "sector"),
        "currency_exposure": exposure("currency_exposure", "currency"),
        "top_holdings": [{"rank": int(a["rank"]), "security_id": _text(a, "bucket", where),
                          "weight": _number(a, "weight", where), "market_value": _number(a, "market_value", where)}
                         for a in holdings],
    }


def build_events(
    topic: DistributionTopic,
    day: str,
    figures_by_fund: Mapping[str, tuple[str, Mapping[str, Any]]],
    prior: Mapping[str, PriorEvent],
    source: Mapping[str, Any],
    published_at: str,
) -> list[DistributionEvent]:
    """One event per fund of ``figures_by_fund`` (fund -> (currency, figures)), in fund order.

    ``prior`` holds the latest event the topic already has per fund for ``day``: the same content keeps
    its revision and id (a replay), other content takes the next revision and supersedes it.
    """
    events = []
    for fund in sorted(figures_by_fund):
        currency, figures = figures_by_fund[fund]
        document: dict[str, Any] = {
            "event_type": topic.event_type, "schema_version": SCHEMA_VERSION, "portfolio_id": fund,
            "as_of_date": day, "currency": currency, "figures": dict(figures),
        }
        digest = content_hash(document)
        before = prior.get(fund)
        if before is None:
            revision, supersedes = 1, None
        elif before.content_hash == digest:
            revision, supersedes = before.revision, None
        else:
            revision, supersedes = before.revision + 1, before.event_id
        document.update(revision=revision, supersedes=supersedes, content_hash=digest,
                        event_id=event_id(topic.name, fund, day, digest, revision),
                        source=dict(source), published_at=published_at)
        events.append(DistributionEvent(topic.name, document))
    return events


def _currency(currencies: Mapping[str, str | None], fund: str, where: str) -> str:
    currency = currencies.get(fund)
    if not isinstance(currency, str) or len(currency) != 3:
        raise EventBuildError(f"{where}: no ISO 4217 base currency for the fund in silver.portfolios ({currency!r})")
    return currency


def nav_events(
    rows: Iterable[Mapping[str, Any]], day: str, currencies: Mapping[str, str | None],
    prior: Mapping[str, PriorEvent], source: Mapping[str, Any], published_at: str,
) -> list[DistributionEvent]:
    """``nav.intraday`` events from the day's ``gold.nav_history`` rows (one per fund)."""
    figures: dict[str, tuple[str, dict[str, Any]]] = {}
    for row in rows:
        fund = _fund(row, NAV_INTRADAY, day)
        where = f"{NAV_INTRADAY.name}: portfolio {fund}, {day}"
        if fund in figures:
            raise EventBuildError(f"{where}: two gold.nav_history rows for the fund")
        figures[fund] = (_currency(currencies, fund, where), nav_figures(row, where))
    return build_events(NAV_INTRADAY, day, figures, prior, source, published_at)


def performance_events(
    return_rows: Iterable[Mapping[str, Any]], analytics_rows: Iterable[Mapping[str, Any]], day: str,
    currencies: Mapping[str, str | None], prior: Mapping[str, PriorEvent], source: Mapping[str, Any],
    published_at: str,
) -> list[DistributionEvent]:
    """``performance.metrics`` events from the day's ``gold.daily_returns`` and ``gold.portfolio_analytics``."""
    analytics: dict[str, list[Mapping[str, Any]]] = {}
    for a in analytics_rows:
        analytics.setdefault(_fund(a, PERFORMANCE_METRICS, day), []).append(a)
    figures: dict[str, tuple[str, dict[str, Any]]] = {}
    for row in return_rows:
        fund = _fund(row, PERFORMANCE_METRICS, day)
        where = f"{PERFORMANCE_METRICS.name}: portfolio {fund}, {day}"
        if fund in figures:
            raise EventBuildError(f"{where}: two gold.daily_returns rows for the fund")
        figures[fund] = (_currency(currencies, fund, where), performance_figures(row, analytics.get(fund, []), where))
    orphans = sorted(set(analytics) - set(figures))
    if orphans:
        raise EventBuildError(f"{PERFORMANCE_METRICS.name} {day}: gold.portfolio_analytics has funds with no "
                              f"gold.daily_returns row: {orphans[:5]}")
    return build_events(PERFORMANCE_METRICS, day, figures, prior, source, published_at)


def parse_event(value: bytes | None, where: str = "record") -> dict[str, Any]:
    """The event document of a record value; :class:`EventFormatError` naming ``where`` if it is not one."""
    if value is None:
        raise EventFormatError(f"{where}: null value (tombstone), not an event")
    try:
        document = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise EventFormatError(f"{where}: value is not JSON ({exc})") from None
    required = ("event_type", "schema_version", "event_id", "portfolio_id", "as_of_date", "revision", "content_hash")
    if not isinstance(document, dict) or any(k not in document for k in required):
        raise EventFormatError(f"{where}: not a distribution event (needs {', '.join(required)})")
    return document
