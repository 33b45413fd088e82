"""Distribution assets: gold NAV and performance figures published to Kafka after the end-of-day batch.

    gold/performance/nav_history ─────────────────────┬─> distribution/nav_intraday
                                                      │     (topic asset-management.nav.intraday)
    silver/reference/portfolios (base currency) ──────┤
    gold/performance/daily_returns ───────────────────┼─> distribution/performance_metrics
    gold/analytics/portfolio_analytics ───────────────┘     (topic asset-management.performance.metrics)

One partition per trading day, like the gold models; the latest day publishes itself (eager, after the
end-of-day batch), other days through the ``distribution_publish`` job. Nothing is published for a day
whose gold was built by a run in which a blocking check of those gold tables failed.

Idempotency: before producing, an attempt records in Dagster's event log (an ``AssetObservation`` of the
day's partition, metadata ``distribution/ledger``) the topic's end offsets, i.e. where it starts writing.
It then reads the topic from the earliest start of every earlier attempt for that day (a few records:
only what was published since that day was first published), finds the latest event per fund, and
produces only the events whose deterministic id is not there: a re-run publishes nothing, a restatement
publishes the changed funds with the next revision. Because the start is recorded before the first
record is produced, even an attempt that crashed after the broker's acknowledgement is read back.
The asset check reads the same ranges and verifies every fund of gold against the topic.
"""

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetObservation,
    AssetRecordsFilter,
    AutomationCondition,
    Config,
    DagsterInstance,
    Definitions,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)
from pydantic import Field

from mesh_assets.lib.distribution.topics import NAV_INTRADAY, PERFORMANCE_METRICS, DistributionTopic
from mesh_assets.lib.ownership import DATA_PLATFORM, PERFORMANCE
from mesh_assets.shared.check_results import to_check_result
from mesh_assets.shared.partitions import trading_day_partitions
from mesh_assets.shared.retries import OUTSIDE_SYSTEM_RETRY, user_errors_not_retried
from resources.kafka_publisher import KafkaPublisherResource
from resources.warehouse import WarehouseResource

GROUP = "distribution"
#: Metadata key of the observation an attempt logs before producing: broker topic and start offsets.
LEDGER = "distribution/ledger"
CHECK_NAME = "published_events_match_gold"
PORTFOLIOS = AssetKey(["silver", "reference", "portfolios"])
SAMPLES = 5


@dataclass(frozen=True)
class Distribution:
    """One distribution asset: its key, topic and the gold tables (with their asset keys) it reads."""

    key: AssetKey
    topic: DistributionTopic
    sources: Mapping[str, AssetKey]
    description: str


NAV = Distribution(
    key=AssetKey(["distribution", "nav_intraday"]), topic=NAV_INTRADAY,
    sources={"gold.nav_history": AssetKey(["gold", "performance", "nav_history"])},
    description=f"Kafka topic {NAV_INTRADAY.name}: each fund's NAV, NAV index, flows and daily return of the "
                "trading day from gold.nav_history, one JSON event per fund keyed by portfolio_id, deterministic "
                "event ids (a replay carries the same id, a restatement the next revision). Schema: "
                "docs/distribution.md.",
)
PERFORMANCE_DIST = Distribution(
    key=AssetKey(["distribution", "performance_metrics"]), topic=PERFORMANCE_METRICS,
    sources={"gold.daily_returns": AssetKey(["gold", "performance", "daily_returns"]),
             "gold.portfolio_analytics": AssetKey(["gold", "analytics", "portfolio_analytics"])},
    description=f"Kafka topic {PERFORMANCE_METRICS.name}: each fund's daily time-weighted return, begin/end "
                "values, large-flow flag, turnover, sector and currency exposure and top ten holdings of the "
                "trading day (gold.daily_returns, gold.portfolio_analytics), one JSON event per fund keyed by "
                "portfolio_id, deterministic event ids. Schema: docs/distribution.md.",
)
DISTRIBUTIONS = (NAV, PERFORMANCE_DIST)


class PublishConfig(Config):
    """How a publication finds what the topic already holds."""

    rescan_topic: bool = Field(
        default=False,
        description="read the whole topic (from its log start) instead of the ranges the event log recorded: "
                    "for a topic published before the event log was wiped",
    )


def _rows(warehouse: WarehouseResource, sql: str) -> list[dict[str, Any]]:
    return warehouse.query(sql).to_pylist()


def current_events(spec: Distribution, warehouse: WarehouseResource, day: str, prior: Mapping[str, Any],
                   source: Mapping[str, Any], published_at: str) -> list:
    """The day's events built from gold as it is now (``prior``: latest event per fund on the topic)."""
    from mesh_assets.lib.distribution.events import nav_events, performance_events

    dt.date.fromisoformat(day)  # a partition key, never free text in SQL
    currencies = {r["portfolio_id"]: r["base_currency"]
                  for r in _rows(warehouse, "select portfolio_id, base_currency from silver.portfolios")}
    if spec.topic is NAV_INTRADAY:
        rows = _rows(warehouse, "select portfolio_id, nav, nav_index, external_flow, daily_return, return_status "
                                f"from gold.nav_history where as_of_date = date '{day}'")
        return nav_events(rows, day, currencies, prior, source, published_at)
    returns = _rows(warehouse, "select portfolio_id, begin_value, end_value, external_flow, daily_return, "
                               f"return_status, is_large_flow from gold.daily_returns where as_of_date = date '{day}'")
    analytics = _rows(warehouse, "select portfolio_id, measure, bucket, rank, market_value, weight "
                                 f"from gold.portfolio_analytics where as_of_date = date '{day}'")
    return performance_events(returns, analytics, day, currencies, prior, source, published_at)


def source_info(instance: DagsterInstance, spec: Distribution, day: str, run_id: str) -> dict[str, Any]:
    """The gold tables read, with the run and time of their latest materialization of ``day``."""
    tables = []
    for table, key in spec.sources.items():
        records = instance.fetch_materializations(AssetRecordsFilter(key, asset_partitions=[day]), limit=1).records
        record = records[0] if records else None
        tables.append({"table": table, "asset_key": key.to_user_string(),
                       "run_id": record.run_id if record else None,
                       "materialized_at": dt.datetime.fromtimestamp(record.timestamp, dt.UTC).isoformat()
                       if record else None})
    return {"tables": tables, "publish_run_id": run_id}


def failed_gold_checks(instance: DagsterInstance, spec: Distribution, day: str) -> list[str]:
    """Blocking checks of the gold tables that failed in the run that last built them for ``day``."""
    from dagster import DagsterEventType

    failed = set()
    for key in spec.sources.values():
        records = instance.fetch_materializations(AssetRecordsFilter(key, asset_partitions=[day]), limit=1).records
        if not records or not records[0].run_id:
            continue
        cursor = None
        while True:
            page = instance.get_records_for_run(records[0].run_id, cursor=cursor, limit=1000,
                                                of_type=DagsterEventType.ASSET_CHECK_EVALUATION)
            for record in page.records:
                evaluation = record.event_log_entry.dagster_event.event_specific_data
                if (evaluation.asset_key == key and not evaluation.passed and evaluation.blocking
                        and evaluation.partition in (None, day)):
                    failed.add(f"{key.to_user_string()}:{evaluation.check_name}")
            if not page.has_more:
                break
            cursor = page.cursor
    return sorted(failed)


def ledger_starts(instance: DagsterInstance, key: AssetKey, day: str, broker_topic: str) -> dict[int, int] | None:
    """Earliest start offset per partition over every attempt logged for ``day`` on ``broker_topic``
    (None when no attempt was ever logged)."""
    from mesh_assets.lib.distribution.ledger import merge_starts

    starts, cursor = [], None
    while True:
        result = instance.fetch_observations(AssetRecordsFilter(key, asset_partitions=[day]), limit=100,
                                             cursor=cursor)
        for record in result.records:
            entry = record.asset_observation.metadata.get(LEDGER) if record.asset_observation else None
            value = entry.value if entry is not None else None
            if isinstance(value, dict) and value.get("broker_topic") == broker_topic:
                starts.append({int(p): int(o) for p, o in value["starts"].items()})
        if not result.has_more:
            break
        cursor = result.cursor
    return merge_starts(starts) if starts else None


def _acknowledged(deliveries: list) -> dict[str, dict[str, int]]:
    by_partition: dict[str, dict[str, int]] = {}
    for d in deliveries:
        if not d.created:
            continue
        held = by_partition.setdefault(str(d.partition), {"first_offset": d.offset, "last_offset": d.offset,
                                                          "records": 0})
        held["first_offset"] = min(held["first_offset"], d.offset)
        held["last_offset"] = max(held["last_offset"], d.offset)
        held["records"] += 1
    return by_partition


def distribution_asset(spec: Distribution):
    """The asset publishing ``spec``'s topic for one trading day."""

    @asset(
        key=spec.key, deps=[*spec.sources.values(), PORTFOLIOS], partitions_def=trading_day_partitions,
        group_name=GROUP, kinds={"kafka"}, owners=[DATA_PLATFORM, PERFORMANCE], pool="distribution",
        automation_condition=AutomationCondition.eager(), retry_policy=OUTSIDE_SYSTEM_RETRY,
        description=spec.description,
    )
    @user_errors_not_retried
    def _publish(context: AssetExecutionContext, config: PublishConfig, warehouse: WarehouseResource,
                 distribution_publisher: KafkaPublisherResource) -> MaterializeResult:
        from mesh_assets.lib.distribution.ledger import events_of_day, prior_events, read_events

        day, topic, publisher = context.partition_key, spec.topic.name, distribution_publisher
        blocked = failed_gold_checks(context.instance, spec, day)
        if blocked:
            raise Failure(description=f"{topic} {day}: nothing published: blocking checks failed on the day's gold "
                                      f"data ({', '.join(blocked)}); fix gold and re-run the day's end-of-day batch",
                          metadata={"failed_checks": blocked}, allow_retries=False)
        broker_topic = publisher.broker_topic(topic)
        partitions = publisher.ensure_topic(topic)
        earlier = ledger_starts(context.instance, spec.key, day, broker_topic)
        begin = publisher.end_offsets(topic)
        # Logged before the first record is produced: a later attempt reads from here even if this one dies.
        context.log_event(AssetObservation(asset_key=spec.key, partition=day, metadata={
            LEDGER: MetadataValue.json({"broker_topic": broker_topic, "starts": {str(p): o for p, o in begin.items()},
                                        "run_id": context.run.run_id})}))
        if config.rescan_topic:
            held = publisher.read(topic, None)
        elif earlier is not None:
            held = publisher.read(topic, earlier)
        else:
            held = read_events([], {})
        on_topic = events_of_day(held.events, spec.topic.event_type, day)
        published_at = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
        events = current_events(spec, warehouse, day, prior_events(on_topic),
                                source_info(context.instance, spec, day, context.run.run_id), published_at)
        if not events:
            raise Failure(description=f"{topic} {day}: {', '.join(spec.sources)} has no row for {day}: nothing to "
                                      "publish (run the end-of-day batch for that day first)", allow_retries=False)
        ids_on_topic = {e.event_id for e in on_topic}
        new = [e for e in events if e.event_id not in ids_on_topic]
        deliveries = publisher.publish(topic, new)
        created = [d for d in deliveries if d.created]
        by_id = {e.event_id: e for e in events}
        sample = [{"portfolio_id": d.portfolio_id, "event_id": d.event_id, "revision": by_id[d.event_id].revision,
                   "position": f"{d.partition}@{d.offset}"} for d in created[:SAMPLES]]
        context.log.info(f"{topic} {day}: {len(created)} event(s) published, {len(events) - len(created)} already "
                         f"on the topic ({publisher.backend})")
        return MaterializeResult(metadata={
            "topic": topic, "broker_topic": broker_topic, "backend": publisher.backend, "topic_partitions": partitions,
            "dagster/row_count": len(events), "events": len(events), "published": len(created),
            "replays_skipped": len(events) - len(created),
            "restatements": sum(1 for d in created if by_id[d.event_id].revision > 1),
            "acknowledged": MetadataValue.json(_acknowledged(deliveries)),
            "event_ids_sample": MetadataValue.json(sample or [
                {"portfolio_id": e.portfolio_id, "event_id": e.event_id, "revision": e.revision, "position": None}
                for e in events[:SAMPLES]]),
            "ledger_read": MetadataValue.json({"from": {str(p): o for p, o in (earlier or {}).items()} or None,
                                               "rescan_topic": config.rescan_topic, **held.as_metadata()}),
            "sources": MetadataValue.json(events[0].document["source"]["tables"]),
        })

    return _publish


def distribution_check(spec: Distribution):
    """The check that the topic holds, for the day, exactly the events gold implies."""

    @asset_check(asset=spec.key, name=CHECK_NAME, partitions_def=trading_day_partitions,
                 description="Every fund of the day in gold has exactly one current event on the topic, with the "
                             "expected id and the same figures; no fund is published that gold lacks.")
    def _check(context: AssetCheckExecutionContext, warehouse: WarehouseResource,
               distribution_publisher: KafkaPublisherResource) -> AssetCheckResult:
        from mesh_assets.lib.distribution.ledger import events_of_day, verify_publication
        from mesh_assets.lib.quality import Verdict

        day, topic, publisher = context.partition_key, spec.topic.name, distribution_publisher
        broker_topic = publisher.broker_topic(topic)
        starts = ledger_starts(context.instance, spec.key, day, broker_topic)
        expected = {e.portfolio_id: e.document["content_hash"]
                    for e in current_events(spec, warehouse, day, {}, {"tables": [], "publish_run_id": None}, "")}
        if starts is None:
            return to_check_result(Verdict(False, f"{topic} {day}: nothing was ever published for the day to "
                                                  f"{broker_topic}", {"funds_in_gold": len(expected)}))
        held = publisher.read(topic, starts)
        verdict = verify_publication(topic, day, expected, events_of_day(held.events, spec.topic.event_type, day))
        return to_check_result(verdict, broker_topic=broker_topic, **held.as_metadata())

    return _check


DISTRIBUTION_ASSETS = [distribution_asset(spec) for spec in DISTRIBUTIONS]

def defs() -> Definitions:
    """The distribution assets and their publication checks (the on-demand job: ``jobs/distribution.py``)."""
    import warnings

    from dagster import PreviewWarning

    # Partitioned asset checks (per trading day, like the assets they check) are a preview feature. Silence that
    # label around building them only, not process-wide.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Specifying a partitions_def on an AssetCheckSpec", PreviewWarning)
        checks = [distribution_check(spec) for spec in DISTRIBUTIONS]
    return Definitions(assets=DISTRIBUTION_ASSETS, asset_checks=checks)
