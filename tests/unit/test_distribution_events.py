"""Distribution events: deterministic ids, restatements, the JSON Schemas, and the publication verdict."""

from __future__ import annotations

import json
import uuid

import jsonschema
import pytest

from mesh_assets.lib.cdc.records import SourceRecord
from mesh_assets.lib.distribution.events import (
    EventBuildError,
    PriorEvent,
    content_hash,
    event_id,
    nav_events,
    performance_events,
)
from mesh_assets.lib.distribution.ledger import events_of_day, prior_events, read_events, verify_publication
from mesh_assets.lib.distribution.topics import NAV_INTRADAY, PERFORMANCE_METRICS

DAY = "2026-10-30"
SOURCE = {"tables": [{"table": "gold.nav_history", "asset_key": "gold/performance/nav_history", "run_id": "r-1",
                      "materialized_at": "2026-10-30T22:01:02+00:00"}], "publish_run_id": "p-1"}
CURRENCIES = {"P-0001": "USD", "P-0002": "USD"}


def nav_row(fund: str = "P-0001", nav: float = 1_000_000.25, **changes) -> dict:
    return {"portfolio_id": fund, "nav": nav, "nav_index": 101.5, "external_flow": 0.0, "daily_return": 0.0015,
            "return_status": "ok", **changes}


def navs(rows, prior=None, source=SOURCE, published_at="2026-10-30T22:05:00.000+00:00"):
    return nav_events(rows, DAY, CURRENCIES, prior or {}, source, published_at)


def validator(topic):
    return jsonschema.Draft202012Validator(json.loads(topic.schema_path.read_text()),
                                           format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def as_records(events, topic=NAV_INTRADAY.name, partition=0):
    return [SourceRecord(topic, partition, offset, 0, e.key, e.value) for offset, e in enumerate(events)]


def test_the_same_figures_give_the_same_id_whoever_publishes_them_and_when():
    first = navs([nav_row(), nav_row("P-0002")])
    again = navs([nav_row("P-0002"), nav_row()], source={"tables": [], "publish_run_id": "p-2"},
                 published_at="2026-11-02T09:00:00.000+00:00")
    assert [e.event_id for e in first] == [e.event_id for e in again]
    assert uuid.UUID(first[0].event_id).version == 5
    assert first[0].event_id == event_id(NAV_INTRADAY.name, "P-0001", DAY, first[0].document["content_hash"], 1)
    assert first[0].key == b"P-0001" and dict(first[0].headers)["event_id"] == first[0].event_id.encode()


def test_topic_fund_day_and_every_figure_enter_the_id():
    base = navs([nav_row()])[0]
    other_day = nav_events([nav_row()], "2026-10-29", CURRENCIES, {}, SOURCE, "")[0]
    assert len({base.event_id, other_day.event_id, navs([nav_row(nav=1_000_000.26)])[0].event_id,
                navs([nav_row(return_status="incomplete_valuation")])[0].event_id,
                navs([nav_row("P-0002")])[0].event_id}) == 5
    assert event_id(PERFORMANCE_METRICS.name, "P-0001", DAY, base.document["content_hash"], 1) != base.event_id


def test_a_replay_keeps_revision_and_id_a_restatement_takes_the_next_revision_and_supersedes():
    [first] = navs([nav_row()])
    prior = {"P-0001": PriorEvent(first.event_id, 1, first.document["content_hash"])}
    [replay] = navs([nav_row()], prior)
    assert (replay.event_id, replay.revision, replay.document["supersedes"]) == (first.event_id, 1, None)
    [restated] = navs([nav_row(nav=990_000.0)], prior)
    assert restated.revision == 2 and restated.document["supersedes"] == first.event_id
    assert restated.event_id != first.event_id
    # restated back to the first figures: announced again (third revision, new id), not dropped as a replay
    [back] = navs([nav_row()], {"P-0001": PriorEvent(restated.event_id, 2, restated.document["content_hash"])})
    assert back.revision == 3 and back.event_id not in {first.event_id, restated.event_id}
    assert back.document["content_hash"] == first.document["content_hash"]


def test_the_content_hash_covers_what_the_event_says_not_its_provenance():
    [event] = navs([nav_row(nav=-0.0)])
    assert event.document["figures"]["nav"] == 0.0 and b'"nav":0.0' in event.value  # one canonical zero
    assert content_hash({**event.document, "source": {}, "published_at": "x", "revision": 9}) == \
        event.document["content_hash"]
    assert json.loads(event.value) == event.document and b" " not in event.value


def test_nav_and_performance_events_validate_against_their_json_schema():
    for event in navs([nav_row(), nav_row("P-0002", daily_return=None, return_status="inception")]):
        validator(NAV_INTRADAY).validate(event.document)
    returns = [{"portfolio_id": "P-0001", "begin_value": 100.0, "end_value": 101.0, "external_flow": 0,
                "daily_return": 0.01, "return_status": "ok", "is_large_flow": False},
               {"portfolio_id": "P-0002", "begin_value": None, "end_value": 5.0, "external_flow": 5.0,
                "daily_return": None, "return_status": "previous_session_missing", "is_large_flow": None}]
    analytics = [{"portfolio_id": "P-0001", "measure": m, "bucket": b, "rank": r, "market_value": v, "weight": w}
                 for m, b, r, v, w in [("sector_exposure", "Materials", None, 60.0, 0.6),
                                       ("sector_exposure", "Cash", None, 41.0, 0.4),
                                       ("currency_exposure", "USD", None, 101.0, 1.0),
                                       ("top_holding", "S-00002", 2, 20.0, 0.2),
                                       ("top_holding", "S-00001", 1, 40.0, 0.4),
                                       ("turnover", "all", None, 3.0, 0.03)]]
    events = performance_events(returns, analytics, DAY, CURRENCIES, {}, SOURCE, "2026-10-30T22:05:00Z")
    for event in events:
        validator(PERFORMANCE_METRICS).validate(event.document)
    figures = events[0].document["figures"]
    assert [h["security_id"] for h in figures["top_holdings"]] == ["S-00001", "S-00002"]
    assert [s["sector"] for s in figures["sector_exposure"]] == ["Cash", "Materials"] and figures["turnover"] == 0.03
    assert events[1].document["figures"]["turnover"] is None and events[1].document["figures"]["top_holdings"] == []
    broken = {**events[0].document, "figures": {**figures, "end_value": "101"}}
    with pytest.raises(jsonschema.ValidationError):
        validator(PERFORMANCE_METRICS).validate(broken)


@pytest.mark.parametrize(("row", "currencies", "message"), [
    (nav_row(nav=float("nan")), CURRENCIES, "portfolio P-0001, 2026-10-30: nav is nan"),
    (nav_row(nav=None), CURRENCIES, "portfolio P-0001, 2026-10-30: nav is null"),
    (nav_row(), {}, "portfolio P-0001, 2026-10-30: no ISO 4217 base currency"),
    (nav_row(portfolio_id=None), CURRENCIES, "a gold row has no portfolio_id"),
])
def test_rows_that_cannot_become_events_are_refused_naming_the_fund(row, currencies, message):
    with pytest.raises(EventBuildError, match=message):
        nav_events([row], DAY, currencies, {}, SOURCE, "")


def test_two_rows_for_one_fund_are_refused():
    with pytest.raises(EventBuildError, match=r"P-0001, 2026-10-30: two gold\.nav_history rows"):
        navs([nav_row(), nav_row()])


def test_prior_events_take_the_latest_revision_per_fund_of_the_day_only():
    [first] = navs([nav_row()])
    [second] = navs([nav_row(nav=2.0)], {"P-0001": PriorEvent(first.event_id, 1, first.document["content_hash"])})
    [other_day] = nav_events([nav_row(nav=3.0)], "2026-10-29", CURRENCIES, {}, SOURCE, "")
    read = read_events([*as_records([second, other_day, first]), SourceRecord("t", 0, 3, 0, b"x", b"not json")],
                       {0: (0, 4)})
    assert read.records_read == 4 and len(read.foreign) == 1 and "0@3" in read.foreign[0]
    day = events_of_day(read.events, NAV_INTRADAY.event_type, DAY)
    assert prior_events(day) == {"P-0001": PriorEvent(second.event_id, 2, second.document["content_hash"])}


def test_the_verdict_passes_when_every_fund_has_one_current_event_with_gold_figures():
    events = navs([nav_row(), nav_row("P-0002")])
    expected = {e.portfolio_id: e.document["content_hash"] for e in events}
    verdict = verify_publication(NAV_INTRADAY.name, DAY, expected, read_events(as_records(events), {}).events)
    assert verdict.passed and verdict.metadata["funds_matching"] == 2


def test_the_verdict_names_missing_funds_and_figures_that_differ_from_gold():
    events = navs([nav_row(), nav_row("P-0002")])
    expected = {e.portfolio_id: e.document["content_hash"] for e in events}
    published = read_events(as_records([events[0], *navs([nav_row("P-0002", nav=5.0)])]), {}).events
    verdict = verify_publication(NAV_INTRADAY.name, DAY, expected, published)
    assert not verdict.passed and not verdict.warn_only and "1 have other figures" in verdict.description
    verdict = verify_publication(NAV_INTRADAY.name, DAY, expected, published[:1])
    assert not verdict.passed and "1 have no event" in verdict.description and "P-0002" in verdict.description


def test_a_tampered_event_fails_and_duplicated_ids_or_dropped_funds_only_warn():
    events = navs([nav_row(), nav_row("P-0002")])
    expected = {e.portfolio_id: e.document["content_hash"] for e in events}
    tampered = json.loads(events[0].value)
    tampered["figures"]["nav"] = 1.0  # figures changed, hash and id kept
    records = as_records(events)
    records[0] = SourceRecord(records[0].topic, 0, 0, 0, records[0].key, json.dumps(tampered).encode())
    verdict = verify_publication(NAV_INTRADAY.name, DAY, expected, read_events(records, {}).events)
    assert not verdict.passed and not verdict.warn_only and "id, hash or key" in verdict.description
    twice = read_events(as_records([*events, events[1]]), {}).events
    verdict = verify_publication(NAV_INTRADAY.name, DAY, expected, twice)
    assert not verdict.passed and verdict.warn_only and verdict.metadata["duplicated_ids"] == 1
    verdict = verify_publication(NAV_INTRADAY.name, DAY, {"P-0001": expected["P-0001"]},
                                 read_events(as_records(events), {}).events)
    assert not verdict.passed and verdict.warn_only and "P-0002" in verdict.description
