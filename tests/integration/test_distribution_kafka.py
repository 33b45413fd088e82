"""Gold NAV and performance figures published to a real Kafka broker, after the small firm's end-of-day batch.

Reuses the session's end-of-day world (gold tables, its Dagster instance) and the session broker; each test
publishes into its own topics (a unique prefix) and consumes them back with a plain consumer.
"""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
from dagster import AssetCheckSpec, AssetObservation, AssetSelection, MaterializeResult, MetadataValue, materialize

from mesh_assets.distribution.assets import (
    DISTRIBUTION_ASSETS,
    LEDGER,
    NAV,
    PERFORMANCE_DIST,
    current_events,
    defs,
)
from mesh_assets.lib.distribution.topics import NAV_INTRADAY, PERFORMANCE_METRICS
from resources.kafka_publisher import KafkaPublisherResource
from resources.warehouse import WarehouseResource

pytestmark = pytest.mark.integration

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
CHECKS = list(defs().asset_checks)
NAV_CHECK = next(c for c in CHECKS if {k.asset_key for k in c.check_keys} == {NAV.key})
PARTITIONS = 3


@pytest.fixture
def publisher(kafka_broker) -> KafkaPublisherResource:
    """A publisher on the session broker writing to fresh topics of its own."""
    return KafkaPublisherResource(backend="kafka", bootstrap_servers=kafka_broker.bootstrap_servers,
                                  topic_prefix=f"d{uuid.uuid4().hex[:8]}.", partitions=PARTITIONS)


def publish(world, publisher, warehouse: WarehouseResource | None = None, assets=DISTRIBUTION_ASSETS,
            selection=None):
    resources = {"warehouse": warehouse or world["defs"].resources["warehouse"], "distribution_publisher": publisher}
    day = world["days"][-1]
    # a checks-only selection takes its partition from the run's tag (Dagster refuses partition_key without assets)
    where = {"tags": {"dagster/partition": day}} if selection is not None else {"partition_key": day}
    return materialize([*assets, *CHECKS], resources=resources, instance=world["instance"], run_config=QUIET,
                       raise_on_error=False, selection=selection, **where)


def consume(publisher: KafkaPublisherResource, topic: str) -> list[dict]:
    """Every record of the topic, with partition, offset, key, headers and the parsed value."""
    from kafka import KafkaConsumer, TopicPartition

    name = publisher.broker_topic(topic)
    consumer = KafkaConsumer(bootstrap_servers=publisher.bootstrap_servers, group_id=None, enable_auto_commit=False,
                             auto_offset_reset="earliest")
    try:
        tps = [TopicPartition(name, p) for p in sorted(consumer.partitions_for_topic(name) or [])]
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        ends = consumer.end_offsets(tps)
        records = []
        for _ in range(200):
            if all(consumer.position(tp) >= ends[tp] for tp in tps):
                break
            for batch in consumer.poll(timeout_ms=200).values():
                records.extend({"partition": r.partition, "offset": r.offset, "key": r.key.decode(),
                                "headers": {k: v.decode() for k, v in r.headers}, "value": json.loads(r.value)}
                               for r in batch)
        assert all(consumer.position(tp) >= ends[tp] for tp in tps), "could not read the topic to its end"
        return sorted(records, key=lambda r: (r["partition"], r["offset"]))
    finally:
        consumer.close()


def added(after: list[dict], before: list[dict]) -> list[dict]:
    """The records of ``after`` at positions ``before`` did not have."""
    held = {(r["partition"], r["offset"]) for r in before}
    return [r for r in after if (r["partition"], r["offset"]) not in held]


def metadata(result, spec) -> dict:
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == spec.key]
    return {k: v.value for k, v in event.materialization.metadata.items()}


def checks(result) -> dict:
    return {e.asset_key.to_user_string(): e for e in result.get_asset_check_evaluations()}


def gold(world, sql: str) -> dict[str, dict]:
    return {r["portfolio_id"]: r for r in world["defs"].resources["warehouse"].query(sql).to_pylist()}


def schema(topic):
    import jsonschema

    return jsonschema.Draft202012Validator(json.loads(topic.schema_path.read_text()),
                                           format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def restated_warehouse(world, tmp_path: Path, fund: str, nav: float) -> WarehouseResource:
    import duckdb

    copy = tmp_path / "warehouse.duckdb"
    shutil.copy(world["warehouse"], copy)
    with duckdb.connect(str(copy)) as connection:
        connection.execute(f"update gold.nav_history set nav = {nav} where portfolio_id = '{fund}' "
                           f"and as_of_date = date '{world['days'][-1]}'")
    return WarehouseResource(engine="duckdb", duckdb_path=str(copy))


def test_every_fund_gets_one_event_keyed_by_fund_carrying_the_gold_figures(eod_world, publisher):
    day = eod_world["days"][-1]
    result = publish(eod_world, publisher)
    assert result.success
    assert all(c.passed for c in checks(result).values()) and len(checks(result)) == 2, checks(result)

    navs = gold(eod_world, f"select * from gold.nav_history where as_of_date = date '{day}'")
    records = consume(publisher, NAV_INTRADAY.name)
    assert sorted(r["key"] for r in records) == sorted(navs) and len(navs) > 5
    validator = schema(NAV_INTRADAY)
    for r in records:
        event, row = r["value"], navs[r["key"]]
        validator.validate(event)
        assert event["portfolio_id"] == r["key"] and event["as_of_date"] == day and event["currency"] == "USD"
        assert r["headers"]["event_id"] == event["event_id"] and event["revision"] == 1
        assert event["figures"] == {"nav": row["nav"], "nav_index": row["nav_index"],
                                    "external_flow": row["external_flow"], "daily_return": row["daily_return"],
                                    "return_status": row["return_status"]}
        assert event["source"]["tables"][0]["run_id"] == eod_world["eod"].run_id  # the EOD run that built gold
    assert len({r["partition"] for r in records}) > 1  # keyed by fund over the topic's partitions
    acked = metadata(result, NAV)["acknowledged"]
    for partition, span in acked.items():
        offsets = [r["offset"] for r in records if r["partition"] == int(partition)]
        assert [span["first_offset"], span["last_offset"], span["records"]] == [min(offsets), max(offsets),
                                                                                  len(offsets)]

    returns = gold(eod_world, f"select * from gold.daily_returns where as_of_date = date '{day}'")
    turnover = gold(eod_world, "select * from gold.portfolio_analytics where measure = 'turnover' "
                               f"and as_of_date = date '{day}'")
    records = consume(publisher, PERFORMANCE_METRICS.name)
    assert sorted(r["key"] for r in records) == sorted(returns)
    validator = schema(PERFORMANCE_METRICS)
    for r in records:
        figures, row = r["value"]["figures"], returns[r["key"]]
        validator.validate(r["value"])
        assert [figures[k] for k in ("begin_value", "end_value", "external_flow", "daily_return", "return_status",
                                     "is_large_flow")] == [row[k] for k in ("begin_value", "end_value",
                                                                            "external_flow", "daily_return",
                                                                            "return_status", "is_large_flow")]
        assert figures["turnover"] == (turnover[r["key"]]["weight"] if r["key"] in turnover else None)
        assert [h["rank"] for h in figures["top_holdings"]] == list(range(1, len(figures["top_holdings"]) + 1))
        assert abs(sum(s["weight"] for s in figures["sector_exposure"]) - 1) < 1e-9


def test_publishing_again_adds_no_record_and_a_restatement_publishes_only_the_changed_fund(
        eod_world, publisher, tmp_path):
    first = publish(eod_world, publisher, assets=[DISTRIBUTION_ASSETS[0]])
    assert first.success and checks(first)["distribution/nav_intraday"].passed
    before = consume(publisher, NAV_INTRADAY.name)

    again = publish(eod_world, publisher, assets=[DISTRIBUTION_ASSETS[0]])
    assert again.success and checks(again)["distribution/nav_intraday"].passed
    meta = metadata(again, NAV)
    assert meta["published"] == 0 and meta["replays_skipped"] == len(before) and meta["acknowledged"] == {}
    assert consume(publisher, NAV_INTRADAY.name) == before  # not one new record: a re-run publishes no id

    fund = before[0]["key"]
    original = before[0]["value"]
    restated = publish(eod_world, publisher, restated_warehouse(eod_world, tmp_path, fund, 123456.78),
                       assets=[DISTRIBUTION_ASSETS[0]])
    assert restated.success and checks(restated)["distribution/nav_intraday"].passed
    assert metadata(restated, NAV)["published"] == 1 and metadata(restated, NAV)["restatements"] == 1
    [new] = added(consume(publisher, NAV_INTRADAY.name), before)
    assert new["key"] == fund and new["value"]["figures"]["nav"] == 123456.78
    assert new["value"]["revision"] == 2 and new["value"]["supersedes"] == original["event_id"]
    assert new["value"]["event_id"] != original["event_id"] and new["partition"] == before[0]["partition"]

    # gold as published first is, from the topic's point of view, a restatement not yet published
    stale = publish(eod_world, publisher, assets=[DISTRIBUTION_ASSETS[0]],
                    selection=AssetSelection.checks(NAV_CHECK))
    verdict = checks(stale)["distribution/nav_intraday"]
    assert not verdict.passed and fund in verdict.description and "other figures" in verdict.description

    # ... and publishing it announces the original figures again, with a third revision and a new id
    back = publish(eod_world, publisher, assets=[DISTRIBUTION_ASSETS[0]])
    assert back.success and checks(back)["distribution/nav_intraday"].passed
    [third] = added(consume(publisher, NAV_INTRADAY.name), [*before, new])
    assert third["value"]["figures"] == original["figures"] and third["value"]["revision"] == 3
    assert third["value"]["event_id"] not in {original["event_id"], new["value"]["event_id"]}


def test_events_an_attempt_produced_before_dying_are_not_produced_again(eod_world, publisher):
    day, topic = eod_world["days"][-1], PERFORMANCE_METRICS.name
    warehouse = eod_world["defs"].resources["warehouse"]
    publisher.ensure_topic(topic)
    # what a dying attempt leaves: its start offsets in the event log, then events acknowledged by the broker
    eod_world["instance"].report_runless_asset_event(AssetObservation(
        asset_key=PERFORMANCE_DIST.key, partition=day, metadata={LEDGER: MetadataValue.json(
            {"broker_topic": publisher.broker_topic(topic),
             "starts": {str(p): o for p, o in publisher.end_offsets(topic).items()}})}))
    events = current_events(PERFORMANCE_DIST, warehouse, day, {}, {"tables": [], "publish_run_id": "died"}, "")
    publisher.publish(topic, events[:4])
    produced = consume(publisher, topic)
    assert len(produced) == 4

    result = publish(eod_world, publisher, assets=[DISTRIBUTION_ASSETS[1]])
    assert result.success and checks(result)["distribution/performance_metrics"].passed
    meta = metadata(result, PERFORMANCE_DIST)
    assert meta["published"] == len(events) - 4 and meta["replays_skipped"] == 4
    records = consume(publisher, topic)
    assert not [r for r in produced if r not in records] and sorted(r["value"]["event_id"] for r in records) == sorted(
        e.event_id for e in events)  # each event once, the dead attempt's four with the ids it gave them



def test_a_trading_day_publishes_itself_once_its_gold_is_in(instance):
    import datetime as dt
    from zoneinfo import ZoneInfo

    from dagster import AssetKey, AssetMaterialization, evaluate_automation_conditions

    from mesh_assets.definitions import build_definitions

    code_location, day = build_definitions(), "2026-10-29"
    evening = dt.datetime.combine(dt.date.fromisoformat(day), dt.time(19), ZoneInfo("America/New_York"))
    selection = AssetSelection.groups("distribution")
    first = evaluate_automation_conditions(code_location, instance, selection, evaluation_time=evening)
    assert first.total_requested == 0  # gold not built yet
    for key in {k for spec in (NAV, PERFORMANCE_DIST) for k in spec.sources.values()}:
        instance.report_runless_asset_event(AssetMaterialization(key, partition=day))
    instance.report_runless_asset_event(AssetMaterialization(AssetKey(["silver", "reference", "portfolios"])))
    after = evaluate_automation_conditions(code_location, instance, selection, cursor=first.cursor,
                                           evaluation_time=evening + dt.timedelta(minutes=5))
    assert {spec.key: after.get_requested_partitions(spec.key) for spec in (NAV, PERFORMANCE_DIST)} == {
        NAV.key: {day}, PERFORMANCE_DIST.key: {day}}


def test_nothing_is_published_for_a_day_whose_gold_failed_a_blocking_check(instance, tmp_path):
    from dagster import AssetCheckResult, asset

    from mesh_assets.shared.partitions import trading_day_partitions

    day = "2026-10-29"
    nav_key = NAV.sources["gold.nav_history"]

    @asset(key=nav_key, partitions_def=trading_day_partitions,
           check_specs=[AssetCheckSpec("every_fund_has_nav", asset=nav_key, blocking=True)])
    def stand_in_gold_nav():
        yield MaterializeResult()
        yield AssetCheckResult(check_name="every_fund_has_nav", passed=False, description="P-0003 has no NAV")

    built = materialize([stand_in_gold_nav], partition_key=day, instance=instance, raise_on_error=False)
    assert not built.success  # the blocking check failed in the run that built gold
    outbox = KafkaPublisherResource(backend="outbox", outbox_dir=str(tmp_path / "outbox"))
    result = materialize([DISTRIBUTION_ASSETS[0]], partition_key=day, instance=instance, raise_on_error=False,
                         resources={"distribution_publisher": outbox, "warehouse": WarehouseResource(
                             engine="duckdb", duckdb_path=str(tmp_path / "never-read.duckdb"))})
    assert not result.success
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "gold/performance/nav_history:every_fund_has_nav" in failure.event_specific_data.error.message
    assert not (tmp_path / "outbox").exists() and not (tmp_path / "never-read.duckdb").exists()
