"""The low-latency trade path in the asset graph: what the ``mesh stream-trades`` worker writes.

The worker runs outside Dagster runs (a run takes seconds to launch; a trade must be enriched within
milliseconds). Its outputs are declared here as assets so the lineage graph shows one picture:

    kafka/aladdin_trades ─┐
    silver/market/closes ─┼─> stream/trades/enriched (hot Iceberg table) ─┬─> stream/trades/execution (topic)
    gold positions, NAV ──┘                                              ├─> stream/risk/alerts (topic)
                                                                         └─> gold/market/streamed_trade_alerts

Nothing here materializes them: ``trade_stream_sensor`` reports runless materializations and check
evaluations from the worker's committed snapshots. The checks below can also be run on demand from the
UI (same rules, same table), e.g. by an auditor who wants a fresh verdict.
"""


import time

from dagster import (
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetCheckSpec,
    AssetKey,
    AssetSpec,
    Definitions,
    multi_asset_check,
)

from mesh_assets.lib.ownership import DATA_PLATFORM, INVESTMENT_OPERATIONS
from resources.cdc_source import CdcSourceResource
from resources.iceberg import IcebergCatalogResource

TRADES_TOPIC = "aladdin.trades"
TOPIC_KEY = AssetKey(["kafka", "aladdin_trades"])  # the topic's source asset, declared by bronze (kafka_topics.py)
ENRICHED_KEY = AssetKey(["stream", "trades", "enriched"])
EXECUTION_KEY = AssetKey(["stream", "trades", "execution"])
ALERTS_KEY = AssetKey(["stream", "risk", "alerts"])
#: Checks of the hot table, evaluated by the companion sensor and on demand.
LAG_CHECK = "lag_under_30s"
ALERT_RATE_CHECK = "alert_rate"
BREAKERS_CHECK = "breakers_closed"
GROUP = "stream"

ENRICHED_SPEC = AssetSpec(
    ENRICHED_KEY, group_name=GROUP, owners=[DATA_PLATFORM, INVESTMENT_OPERATIONS], kinds={"iceberg", "python"},
    deps=[TOPIC_KEY, AssetKey(["silver", "market", "closes"]), AssetKey(["gold", "holdings", "positions"]),
          AssetKey(["gold", "performance", "nav_history"])],
    description="Hot Iceberg table stream.trades_enriched: every trade CDC event enriched by the `mesh stream-trades` "
                "worker (latest Bloomberg close, position and cost basis, notional, deviation, limit) in sub-second "
                "micro-batches, exactly once: each commit holds its Kafka offsets in the snapshot summary. Reported "
                "by trade_stream_sensor, never materialized by a run.",
)
EXECUTION_SPEC = AssetSpec(
    EXECUTION_KEY, group_name=GROUP, owners=[DATA_PLATFORM, INVESTMENT_OPERATIONS], kinds={"kafka"},
    deps=[ENRICHED_KEY],
    description="Kafka topic trades.execution: each enriched trade as JSON, keyed by portfolio (per-portfolio order), "
                "event id `<topic>-<partition>-<offset>` so consumers drop replays after a worker crash.",
)
ALERTS_SPEC = AssetSpec(
    ALERTS_KEY, group_name=GROUP, owners=[DATA_PLATFORM, INVESTMENT_OPERATIONS], kinds={"kafka"},
    deps=[ENRICHED_KEY],
    description="Kafka topic risk.alerts: price deviation > 2% from the latest close, position-limit breach, stale "
                "or missing price; each with a reason and a deterministic alert id `<event id>:<kind>`.",
)


def now_ms() -> int:
    """The clock the lag rules judge by (epoch ms)."""
    return int(time.time() * 1000)


def stream_verdicts(iceberg: IcebergCatalogResource, cdc_source: CdcSourceResource | None, after_snapshot_id=None):
    """(progress, {check name: verdict}) of the hot table; end offsets from the broker when it answers."""
    from mesh_assets.lib.cdc.records import TopicPartition
    from mesh_assets.lib.trade_stream.hot_table import ENRICHED_TRADES
    from mesh_assets.lib.trade_stream.progress import read_progress
    from mesh_assets.stream.stream_health import alert_rate_verdict, breakers_verdict, lag_verdict

    progress = read_progress(iceberg.table(ENRICHED_TRADES), after_snapshot_id)
    end_offsets = None
    if cdc_source is not None:
        try:
            end_offsets = {TopicPartition(TRADES_TOPIC, p): end
                           for p, end in cdc_source.end_offsets(TRADES_TOPIC).items()}
        except Exception:  # broker unreachable: judge from the worker's last view, and say so in the metadata
            end_offsets = None
    return progress, {
        LAG_CHECK: lag_verdict(progress, end_offsets, now_ms()),
        ALERT_RATE_CHECK: alert_rate_verdict(progress),
        BREAKERS_CHECK: breakers_verdict(progress),
    }


CHECK_SPECS = [
    AssetCheckSpec(LAG_CHECK, asset=ENRICHED_KEY,
                   description="The stream is under 30 s behind the trades topic; the worker spoke within 30 s."),
    AssetCheckSpec(ALERT_RATE_CHECK, asset=ENRICHED_KEY,
                   description="Risk alerts per streamed trade stay at or under 5% (WARN above)."),
    AssetCheckSpec(BREAKERS_CHECK, asset=ENRICHED_KEY,
                   description="The worker's circuit breakers (price lookup, producer) are closed."),
]


@multi_asset_check(specs=CHECK_SPECS, can_subset=True, name="trade_stream_checks",
                   description="The trade stream's health from its committed snapshots (all of them when run on "
                               "demand; the companion sensor evaluates the same rules on what is new).")
def trade_stream_checks(context: AssetCheckExecutionContext, iceberg: IcebergCatalogResource,
                        cdc_source: CdcSourceResource):
    """Evaluate the stream's checks now, over the whole committed history of the hot table."""
    from mesh_assets.shared.check_results import to_check_result

    progress, verdicts = stream_verdicts(iceberg, cdc_source)
    for key in context.selected_asset_check_keys:
        result: AssetCheckResult = to_check_result(verdicts[key.name], snapshot_id=str(progress.current_snapshot_id))
        yield AssetCheckResult(asset_key=ENRICHED_KEY, check_name=key.name, passed=result.passed,
                               severity=result.severity, description=result.description, metadata=result.metadata)


def defs() -> Definitions:
    """The streamed assets (declared, reported by the sensor) and their checks."""
    return Definitions(assets=[ENRICHED_SPEC, EXECUTION_SPEC, ALERTS_SPEC],
                       asset_checks=[trade_stream_checks])
