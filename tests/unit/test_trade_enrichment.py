"""The trade stream's pure domain: CDC decoding, the reference book, enrichment and alerts, the price breaker."""

from __future__ import annotations

import datetime as dt
import time

import orjson
import pytest

from trade_worker.alerts import LIMIT_BREACH, PRICE_DEVIATION, STALE_PRICE
from trade_worker.breakers import PRICE_LOOKUP, Breakers, BreakerSettings
from trade_worker.enrichment import TradeEnricher
from trade_worker.micro_batch import MicroBatch, latency_figures, stream_stats
from trade_worker.price_lookup import GuardedPriceLookup
from trade_worker.reference_book import Close, ReferenceBook, ReferenceSnapshot
from trade_worker.trade_event import InvalidTrade, TradeEvent, decode_trade_event

TOPIC = "aladdin.trades"
# Wednesday 2026-11-25; Thursday 26 is Thanksgiving (NYSE closed); Friday 27 trades.
WED, FRI = dt.date(2026, 11, 25), dt.date(2026, 11, 27)


def image(trade_id="T-1", portfolio="P-1", security="S-1", side="BUY", quantity=100, price=102.0,
          trade_date=FRI, version=1):
    return {"trade_id": trade_id, "portfolio_id": portfolio, "security_id": security, "side": side,
            "quantity": quantity, "price": price, "currency": "USD", "trade_date": trade_date.isoformat(),
            "settle_date": (trade_date + dt.timedelta(days=3)).isoformat(), "version": version}


def envelope(op="c", before=None, after=None, lsn=1) -> bytes:
    return orjson.dumps({"op": op, "before": before, "after": after, "ts_ms": 1,
                         "source": {"lsn": lsn, "table": "trades"}})


def event(op="c", before=None, after=None, lsn=1, offset=0) -> TradeEvent:
    decoded = decode_trade_event(TOPIC, 3, offset, 1_000, envelope(op, before, after, lsn))
    assert isinstance(decoded, TradeEvent), decoded
    return decoded


def book(**closes) -> ReferenceBook:
    b = ReferenceBook()
    b.load(ReferenceSnapshot(closes={k.replace("_", "-"): v for k, v in closes.items()}, positions={},
                             navs={"P-1": 1_000_000.0}, as_of=WED))
    return b


def enrich(enricher: TradeEnricher, e: TradeEvent):
    return enricher.enrich(e, 1_005.5)


# -- decoding --------------------------------------------------------------------------------------


def test_a_create_decodes_to_typed_images_with_a_deterministic_event_id():
    e = event(after=image(quantity=10, price=99))
    assert e.op == "c" and e.before is None and e.event_id == "aladdin.trades-3-0"
    assert e.image.quantity == 10.0 and isinstance(e.image.price, float) and e.image.trade_date == FRI
    assert e.image.signed_quantity == 10.0


def test_a_correction_carries_both_images_and_a_delete_its_before_image():
    u = event("u", before=image(price=100), after=image(price=101, version=2))
    assert (u.before.price, u.after.price, u.image.version) == (100.0, 101.0, 2)
    d = event("d", before=image(side="SELL"))
    assert d.after is None and d.image.signed_quantity == -100.0


def test_a_tombstone_is_no_event():
    assert decode_trade_event(TOPIC, 0, 5, 1, None) is None


@pytest.mark.parametrize(("value", "code", "fragment"), [
    (b"{not json", "invalid_json", "not valid JSON"),
    (envelope("x", after=image()), "unknown_op", "op is 'x'"),
    (envelope("u", after=image()), "missing_image", "before image"),
    (envelope("c", after={**image(), "side": "HOLD"}), "invalid_value", "side is 'HOLD'"),
    (envelope("c", after={**image(), "quantity": -5}), "invalid_value", "must be positive"),
    (envelope("c", after={k: v for k, v in image().items() if k != "price"}), "missing_required_field", "'price'"),
    (envelope("c", after={**image(), "trade_date": "27/11/2026"}), "wrong_type", "not an ISO date"),
])
def test_a_record_that_breaks_the_contract_names_partition_offset_and_trade(value, code, fragment):
    invalid = decode_trade_event(TOPIC, 4, 17, 1, value)
    assert isinstance(invalid, InvalidTrade)
    assert invalid.reason_code == code
    assert invalid.reason.startswith("aladdin.trades/4@17 trade ")
    assert fragment in invalid.reason
    if code != "invalid_json":
        assert "trade T-1" in invalid.reason and invalid.trade_id == "T-1" and invalid.portfolio_id == "P-1"


# -- enrichment: price deviation and stale prices -----------------------------------------------


def test_a_deviation_of_exactly_two_percent_is_not_an_alert_but_just_above_is():
    enricher = TradeEnricher(book(S_1=Close(100.0, WED)))
    at_limit = enrich(enricher, event(after=image(price=102.0)))  # 102 / 100 - 1 = 0.020000000000000018 in floats
    assert at_limit.row["deviation"] == 0.02
    assert at_limit.alerts == [] and at_limit.row["alerts"] == ""
    below = enrich(enricher, event(after=image(trade_id="T-2", price=98.0)))
    assert below.row["deviation"] == -0.02 and below.alerts == []
    above = enrich(enricher, event(after=image(trade_id="T-3", price=102.01)))
    assert [a.kind for a in above.alerts] == [PRICE_DEVIATION]
    assert above.alerts[0].value == pytest.approx(0.0201) and above.alerts[0].threshold == 0.02
    assert "+2.01% from the 2026-11-25 close 100 of S-1" in above.alerts[0].reason


def test_deviation_at_two_percent_of_an_awkward_close_is_not_an_alert():
    # 0.1 + 0.2 style rounding: 3 x 1.1 = 3.3000000000000003; 2% of it in floats must still not alert
    enricher = TradeEnricher(book(S_1=Close(3 * 1.1, WED)))
    result = enrich(enricher, event(after=image(price=3 * 1.1 * 1.02)))
    assert result.alerts == []


def test_missing_close_is_a_stale_price_alert_with_the_reason():
    enricher = TradeEnricher(book())
    result = enrich(enricher, event(after=image(security="S-9")))
    assert [a.kind for a in result.alerts] == [STALE_PRICE]
    assert result.row["close_price"] is None and result.row["deviation"] is None
    assert "no close for S-9" in result.alerts[0].reason


def test_a_close_of_the_previous_session_is_fresh_across_a_holiday_and_an_older_one_is_stale():
    fresh = TradeEnricher(book(S_1=Close(100.0, WED)))  # Friday after Thanksgiving: previous session is Wednesday
    assert enrich(fresh, event(after=image(price=100.0))).alerts == []
    stale = TradeEnricher(book(S_1=Close(100.0, dt.date(2026, 11, 24))))
    alerts = enrich(stale, event(after=image(price=100.0))).alerts
    assert [a.kind for a in alerts] == [STALE_PRICE]
    assert "2026-11-24, older than the previous NYSE session 2026-11-25" in alerts[0].reason


# -- the book: create, cancel, correction, limits ----------------------------------------------


def test_create_adds_the_signed_quantity_and_cost_and_a_cancel_reverses_it():
    enricher = TradeEnricher(book(S_1=Close(100.0, WED)))
    buy = enrich(enricher, event(after=image(quantity=100, price=101.0), lsn=1)).row
    assert (buy["position_quantity"], buy["cost_basis"], buy["notional"]) == (100.0, 10_100.0, 10_100.0)
    sell = enrich(enricher, event(after=image("T-2", side="SELL", quantity=40, price=100.5), lsn=2)).row
    assert (sell["position_quantity"], sell["cost_basis"]) == (60.0, 10_100.0 - 4_020.0)
    cancel = enrich(enricher, event("d", before=image("T-2", side="SELL", quantity=40, price=100.5), lsn=3)).row
    assert (cancel["position_quantity"], cancel["cost_basis"]) == (100.0, 10_100.0)
    assert cancel["quantity_change"] == 40.0 and cancel["op"] == "d"


def test_a_correction_reverses_the_before_image_and_applies_the_after_image():
    enricher = TradeEnricher(book(S_1=Close(100.0, WED), S_2=Close(50.0, WED)))
    enrich(enricher, event(after=image(quantity=100, price=100.0), lsn=1))
    fixed = enrich(enricher, event("u", before=image(quantity=100, price=100.0),
                                   after=image(quantity=80, price=101.0, version=2), lsn=2)).row
    assert (fixed["position_quantity"], fixed["cost_basis"]) == (80.0, 8_080.0)
    assert (fixed["quantity_change"], fixed["cost_change"]) == (-20.0, -1_920.0)
    moved = enrich(enricher, event("u", before=image(quantity=80, price=101.0, version=2),
                                   after=image(security="S-2", quantity=80, price=50.0, version=3), lsn=3)).row
    assert enricher.book.position("P-1", "S-1") == (0.0, 0.0)
    assert (moved["security_id"], moved["position_quantity"], moved["cost_basis"]) == ("S-2", 80.0, 4_000.0)
    assert [c[0] for c in moved["book_changes"]] == ["S-1", "S-2"]


def test_a_redelivered_change_leaves_the_book_alone():
    enricher = TradeEnricher(book(S_1=Close(100.0, WED)))
    enrich(enricher, event(after=image(quantity=100, price=100.0), lsn=7, offset=0))
    again = enrich(enricher, event(after=image(quantity=100, price=100.0), lsn=7, offset=1))
    assert again.row["position_quantity"] == 100.0 and again.row["quantity_change"] == 0.0
    assert again.alerts == [] and "redelivered" in again.row["alert_reasons"]


def test_limit_breach_when_the_position_notional_exceeds_concentration_times_nav():
    enricher = TradeEnricher(book(S_1=Close(100.0, WED)))  # NAV 1,000,000: limit 100,000
    at_limit = enrich(enricher, event(after=image(quantity=1_000, price=100.0), lsn=1))
    assert at_limit.row["limit_notional"] == 100_000.0 and at_limit.alerts == []
    over = enrich(enricher, event(after=image("T-2", quantity=1, price=100.0), lsn=2))
    assert [a.kind for a in over.alerts] == [LIMIT_BREACH]
    assert over.alerts[0].value == 100_100.0 and over.alerts[0].threshold == 100_000.0
    assert "P-1 in S-1 after trade T-2" in over.alerts[0].reason and "10% of NAV 1,000,000.00" in over.alerts[0].reason


def test_a_refresh_keeps_only_the_streamed_changes_dated_after_the_new_gold_date():
    b = book()
    b.apply("P-1", "S-1", WED, 10, 1_000)
    b.apply("P-1", "S-1", FRI, 5, 500)
    assert b.position("P-1", "S-1") == (15.0, 1_500.0)
    b.load(ReferenceSnapshot({}, {("P-1", "S-1"): (12.0, 1_200.0)}, {}, as_of=WED))  # gold has Wednesday
    assert b.position("P-1", "S-1") == (17.0, 1_700.0)
    b.load(ReferenceSnapshot({}, {("P-1", "S-1"): (17.0, 1_700.0)}, {}, as_of=FRI))  # ... then Friday
    assert b.position("P-1", "S-1") == (17.0, 1_700.0)


# -- the price-lookup breaker --------------------------------------------------------------------


def test_the_price_lookup_breaker_opens_fails_fast_and_recovers_through_a_half_open_probe():
    calls = []
    healthy = {"ok": False}

    def fetch(security_id: str) -> Close | None:
        calls.append(security_id)
        if not healthy["ok"]:
            raise OSError("warehouse.duckdb is locked by a dbt run")
        return Close(100.0, WED)

    breakers = Breakers.create(BreakerSettings(fail_max=2, reset_timeout_s=0.2))
    enricher = TradeEnricher(book(), GuardedPriceLookup(fetch, breakers.price_lookup))
    for i in range(2):
        alerts = enrich(enricher, event(after=image(f"T-{i}", security=f"S-{i}"))).alerts
        assert [a.kind for a in alerts] == [STALE_PRICE] and "locked by a dbt run" in alerts[0].reason
    assert breakers.states()[PRICE_LOOKUP] == "open"
    fast = enrich(enricher, event(after=image("T-5", security="S-5"))).alerts
    assert len(calls) == 2, "an open breaker must not ask the warehouse"
    assert "breaker is open" in fast[0].reason
    healthy["ok"] = True
    time.sleep(0.25)
    probed = enrich(enricher, event(after=image("T-6", security="S-6", price=100.0)))
    assert probed.alerts == [] and probed.row["close_price"] == 100.0
    assert breakers.states()[PRICE_LOOKUP] == "closed" and calls[-1] == "S-6"


def test_a_security_the_warehouse_has_no_close_for_is_asked_once_per_ttl():
    calls = []
    lookup = GuardedPriceLookup(lambda s: calls.append(s), Breakers.create().price_lookup, miss_ttl_s=60)
    assert lookup.find("S-1")[0] is None and lookup.find("S-1")[0] is None
    assert calls == ["S-1"]


# -- micro-batch figures -------------------------------------------------------------------------


def test_a_batch_covers_offsets_from_the_partition_position_and_reports_its_figures():
    batch = MicroBatch(TOPIC)
    batch.cover(0, 7, expected=5)  # offsets 5 and 6 were transaction markers / compacted: still covered
    batch.cover(0, 8, expected=8)
    batch.cover(2, 0, expected=0)
    assert [(r.partition, r.start, r.end) for r in batch.offset_ranges()] == [(0, 5, 9), (2, 0, 1)]
    assert latency_figures([float(v) for v in range(1, 101)]) == {"p50": 50.0, "p99": 99.0, "max": 100.0}
    stats = stream_stats(worker_id="w", records=3, alerts={PRICE_DEVIATION: 1}, latency=None,
                         breakers={"price_lookup": "closed", "producer": "open"}, end_offsets={0: 12, 2: 1},
                         positions={0: 9, 2: 1}, newest_produced_ms=5, committed_at_ms=9)
    assert stats["lag_records"] == 3 and stats["end_offsets"] == {"0": 12, "2": 1}
    assert stats["alerts"] == {"price_deviation": 1, "limit_breach": 0, "stale_price": 0, "invalid_trade": 0}
    assert "latency_ms" not in stats


def test_a_reason_shows_a_masked_excerpt_of_a_bad_value_never_the_value():
    """An e-mail address typed into a numeric field must not reach dead letters, alerts or logs."""
    invalid = decode_trade_event(TOPIC, 4, 18, 1, envelope("c", after={**image(), "price": "jane.doe@example.com"}))
    assert isinstance(invalid, InvalidTrade) and invalid.reason_code == "wrong_type"
    assert "jane" not in invalid.reason and "example" not in invalid.reason
    assert "price is text 'xxxx.xxx@xxx…' (20 chars)" in invalid.reason
