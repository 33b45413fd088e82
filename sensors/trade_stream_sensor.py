"""The trade stream's companion sensor: runless materializations and check evaluations, no run.

Every few seconds it reads what the ``mesh stream-trades`` worker has *committed* (the hot table's new
snapshots and its heartbeat property, never the worker's memory) and reports:

* one ``AssetMaterialization`` of ``stream/trades/enriched`` per tick with new commits (offset spans per
  partition, snapshot ids, rows, alerts by kind, latency figures, lag), and of the two topics the worker
  published to (``stream/trades/execution``; ``stream/risk/alerts`` when alerts were raised);
* ``AssetCheckEvaluation`` s of lag and breakers when there is something new, when a verdict flips, and at
  least every :data:`RECHECK_S` seconds otherwise (a silent worker turns the lag check red even when no
  commit comes); of the alert rate over the new trades, when there are new trades.

The cursor holds the last snapshot reported, so a restart of the daemon neither repeats nor skips a commit.
"""


import time

import orjson
from dagster import (
    AssetCheckEvaluation,
    AssetCheckSeverity,
    AssetMaterialization,
    MetadataValue,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from mesh_assets.stream.assets import (
    ALERT_RATE_CHECK,
    ALERTS_KEY,
    ENRICHED_KEY,
    EXECUTION_KEY,
    TRADES_TOPIC,
    stream_verdicts,
)
from resources.cdc_source import CdcSourceResource
from resources.iceberg import IcebergCatalogResource
from resources.settings import mesh_settings

#: Re-evaluate the checks at least this often even when nothing was committed.
RECHECK_S = 60


def interval_s() -> int:
    """Seconds between evaluations: ``MESH_TRADE_STREAM_SENSOR_INTERVAL`` (default 5)."""
    return mesh_settings().mesh_trade_stream_sensor_interval


def _check_evaluation(name: str, verdict, snapshot_id: int | None) -> AssetCheckEvaluation:
    from mesh_assets.shared.check_results import to_check_result

    result = to_check_result(verdict, snapshot_id=str(snapshot_id))
    return AssetCheckEvaluation(
        asset_key=ENRICHED_KEY, check_name=name, passed=verdict.passed,
        severity=AssetCheckSeverity.WARN if verdict.warn_only else AssetCheckSeverity.ERROR,
        description=verdict.description, metadata=result.metadata,
    )


def _materializations(progress, lag_records: int) -> list[AssetMaterialization]:
    latency = progress.latency_ms()
    first, last = progress.commits[0], progress.commits[-1]
    spans = progress.merged_ranges()
    common = {
        "records": progress.records,
        "commits": len(progress.commits),
        "offsets": MetadataValue.json(spans),
        "first_snapshot_id": str(first.snapshot_id),
        "snapshot_id": str(last.snapshot_id),
        "committed_at_ms": last.committed_at_ms,
    }
    enriched = {
        **common,
        "dagster/row_count": progress.total_rows,
        "alerts_by_kind": MetadataValue.json(progress.alerts),
        "latency_ms": MetadataValue.json(latency or {}),
        "lag_records": lag_records,
        "breakers": MetadataValue.json((progress.latest or {}).get("breakers") or {}),
        "source_positions": MetadataValue.json(
            {f"{tp.topic}-{tp.partition}": o for tp, o in sorted(progress.positions.items())}),
        "table": progress.table,
        "truncated": progress.truncated,
    }
    events = [AssetMaterialization(ENRICHED_KEY, description=f"{progress.records} trades streamed in "
                                   f"{len(progress.commits)} commits", metadata=enriched)]
    if progress.records:
        events.append(AssetMaterialization(EXECUTION_KEY, metadata={**common, "topic": "trades.execution",
                                                                    "events": progress.records}))
    alerts = progress.alerts
    if sum(alerts.values()):
        events.append(AssetMaterialization(ALERTS_KEY, metadata={**common, "topic": "risk.alerts",
                                                                 "events": sum(alerts.values()),
                                                                 "by_kind": MetadataValue.json(alerts)}))
    return events


@sensor(minimum_interval_seconds=interval_s(),
        description="Reports the trade-stream worker's committed micro-batches as materializations and its health "
                    "as check evaluations (lag < 30 s, alert rate, breakers closed). Launches no run.")
def trade_stream_sensor(context: SensorEvaluationContext, iceberg: IcebergCatalogResource,
                        cdc_source: CdcSourceResource):
    """Read the hot table's new commits and heartbeat; report them without a run."""
    cursor: dict = orjson.loads(context.cursor) if context.cursor else {}
    after = cursor.get("snapshot_id")
    progress, verdicts = stream_verdicts(iceberg, cdc_source, after)
    now = time.time()
    if not progress.records:  # the alert rate is a share of new trades: with none, the last verdict stands
        verdicts.pop(ALERT_RATE_CHECK)
    statuses = {**cursor.get("statuses", {}), **{name: verdict.passed for name, verdict in verdicts.items()}}
    recheck = (bool(progress.commits) or statuses != cursor.get("statuses")
               or now - float(cursor.get("checked_at", 0)) >= RECHECK_S)
    events: list = []
    lag_records = int(verdicts["lag_under_30s"].metadata.get("records_waiting", 0))
    if progress.commits:
        events += _materializations(progress, lag_records)
    if recheck:
        events += [_check_evaluation(name, verdict, progress.current_snapshot_id) for name, verdict in verdicts.items()]
    new_cursor = {
        "snapshot_id": progress.commits[-1].snapshot_id if progress.commits else after,
        "statuses": statuses,
        "checked_at": now if recheck else cursor.get("checked_at", 0),
    }
    if not events:
        return SensorResult(skip_reason=SkipReason(f"no new commit in {progress.table} since snapshot {after}; "
                                                   f"checks unchanged"), cursor=orjson.dumps(new_cursor).decode())
    context.log.info(f"{TRADES_TOPIC} stream: {progress.records} records in {len(progress.commits)} commits, "
                     f"{lag_records} waiting; checks {statuses}")
    return SensorResult(asset_events=events, cursor=orjson.dumps(new_cursor).decode())
