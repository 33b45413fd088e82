"""Checks that say a CDC partition is not flowing: a range given up after retries, a stalled partition.

Both are ERROR checks on each CDC topic's bronze table (``bronze/aladdin/trades``, ``.../cash_flows``):

* ``range_retries_exhausted``: a range failed ``MESH_CDC_MAX_ATTEMPTS`` times for the same reason and the
  sensor stopped asking for it; names topic, partition, offset range, attempts, runs and the error.
* ``partition_stalled``: a partition's end offset on Kafka is ahead of its position committed in Iceberg
  and nothing committed for longer than ``MESH_CDC_STALL_AFTER_S``.

``aladdin_cdc_sensor`` evaluates them on its ticks (runless evaluations, when a verdict flips and at
least every :data:`RECHECK_S` seconds): it already reads the end offsets and committed positions, so
this costs one walk of the table's snapshot metadata for partitions that lag. They are left out of the
micro-batch job (no extra step per run) and can be run on demand from the UI.
"""

import time
from collections.abc import Mapping

from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetCheckKey,
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    Definitions,
    multi_asset_check,
)

from mesh_assets.bronze.aladdin_cdc import ASSET_OF_TOPIC
from mesh_assets.bronze.cdc_stall import assess_partitions, commits_with_times, last_commit_ms, stall_verdict
from mesh_assets.lib.cdc.records import TopicPartition
from mesh_assets.lib.cdc.retry_policy import RangeDecision, RetryPolicy, first_line
from mesh_assets.lib.lakehouse import tables
from mesh_assets.lib.quality import Verdict
from resources.cdc_source import CdcSourceResource
from resources.iceberg import IcebergCatalogResource

PARTITION_STALLED = "partition_stalled"
RETRIES_EXHAUSTED = "range_retries_exhausted"
#: Re-report unchanged verdicts at least this often (the stall's age keeps growing).
RECHECK_S = 60


def check_keys() -> list[AssetCheckKey]:
    """Keys of these checks on every CDC table (left out of the micro-batch job)."""
    return [AssetCheckKey(key, name) for key in ASSET_OF_TOPIC.values() for name in (PARTITION_STALLED,
                                                                                     RETRIES_EXHAUSTED)]


def partition_stalled_verdict(
    iceberg: IcebergCatalogResource, topic: str, end_offsets: Mapping[TopicPartition, int],
    committed: Mapping[TopicPartition, int], now_ms: int, threshold_s: float,
    waiting_since_ms: Mapping[TopicPartition, int] | None = None,
) -> Verdict:
    """The stall verdict of ``topic``; reads commit times only for partitions that lag."""
    lagging = [tp for tp, end in end_offsets.items() if end > committed.get(tp, 0)]
    last = last_commit_ms(commits_with_times(iceberg.table(tables.CDC_TABLES[topic])), lagging) if lagging else {}
    stalls = assess_partitions(end_offsets, committed, last, now_ms, threshold_s, waiting_since_ms)
    return stall_verdict(topic, stalls, threshold_s)


def retries_verdict(topic: str, stuck: Mapping[TopicPartition, RangeDecision], policy: RetryPolicy) -> Verdict:
    """Red while any range of ``topic`` was given up after ``policy.max_attempts`` failures for one reason."""
    ranges = []
    for tp, decision in sorted(stuck.items()):
        last = decision.last
        assert last is not None  # a stop decision always has its last failure
        start, end = last.range_label.rsplit("-", 2)[1:]
        ranges.append({"topic": tp.topic, "partition": tp.partition, "offset_range": [int(start), int(end)],
                       "range": last.range_label, "attempts": decision.failures,
                       "same_reason_attempts": decision.same_reason, "last_run_id": last.run_id,
                       "error": first_line(last.error)[:500]})
    if ranges:
        first = ranges[0]
        description = (f"{topic} partition {first['partition']} offsets {first['offset_range'][0]}.."
                       f"{first['offset_range'][1] - 1} failed {first['same_reason_attempts']} times, the sensor "
                       f"stopped asking: {first['error']}")
        if len(ranges) > 1:
            description += f" (and {len(ranges) - 1} more partition(s))"
    else:
        description = f"no range of {topic} was given up (max {policy.max_attempts} attempts per reason)"
    return Verdict(passed=not ranges, description=description,
                   metadata={"topic": topic, "stuck_ranges": ranges, "max_attempts": policy.max_attempts,
                             "base_backoff_seconds": policy.base_backoff_s,
                             "max_backoff_seconds": policy.max_backoff_s})


def evaluation(topic: str, check_name: str, verdict: Verdict) -> AssetCheckEvaluation:
    """A runless ERROR evaluation of one of these checks (what the sensor reports)."""
    result = _result(topic, check_name, verdict)
    return AssetCheckEvaluation(asset_key=ASSET_OF_TOPIC[topic], check_name=check_name, passed=result.passed,
                                severity=AssetCheckSeverity.ERROR, description=verdict.description,
                                metadata=result.metadata)


def _result(topic: str, check_name: str, verdict: Verdict) -> AssetCheckResult:
    from mesh_assets.shared.check_results import to_check_result

    result = to_check_result(verdict, table=tables.CDC_TABLES[topic].identifier)
    return AssetCheckResult(asset_key=ASSET_OF_TOPIC[topic], check_name=check_name, passed=result.passed,
                            severity=AssetCheckSeverity.ERROR, description=verdict.description,
                            metadata=result.metadata)


def _topic_checks(topic: str):
    key = ASSET_OF_TOPIC[topic]
    specs = [
        AssetCheckSpec(PARTITION_STALLED, asset=key,
                       description="A partition is behind Kafka and nothing committed for longer than "
                                   "MESH_CDC_STALL_AFTER_S (default 900 s). Evaluated by aladdin_cdc_sensor."),
        AssetCheckSpec(RETRIES_EXHAUSTED, asset=key,
                       description="A range failed MESH_CDC_MAX_ATTEMPTS times (default 5) for the same reason and "
                                   "the CDC sensor stopped asking for it. Evaluated by aladdin_cdc_sensor."),
    ]

    @multi_asset_check(specs=specs, can_subset=True, name=f"{key.path[-1]}_flow_checks",
                       description=f"Is every partition of {topic} flowing into bronze? (on demand: now, from "
                                   "Kafka, Iceberg and the run history)")
    def flow_checks(context: AssetCheckExecutionContext, iceberg: IcebergCatalogResource,
                    cdc_source: CdcSourceResource):
        from mesh_assets.bronze.aladdin_cdc import committed_for_topic
        from mesh_assets.bronze.cdc_range_attempts import attempts_by_partition, recent_failed_runs, stuck_ranges
        from resources.settings import cdc_retry_policy, cdc_stall_after_s

        committed = committed_for_topic(iceberg, topic)
        selected = {k.name for k in context.selected_asset_check_keys}
        if PARTITION_STALLED in selected:
            ends = {TopicPartition(topic, p): end for p, end in cdc_source.end_offsets(topic).items()}
            verdict = partition_stalled_verdict(iceberg, topic, ends, committed, int(time.time() * 1000),
                                                cdc_stall_after_s())
            yield _result(topic, PARTITION_STALLED, verdict)
        if RETRIES_EXHAUSTED in selected:
            policy = cdc_retry_policy()
            attempts = attempts_by_partition(context.instance, recent_failed_runs(context.instance), committed)
            stuck = stuck_ranges({tp: a for tp, a in attempts.items() if tp.topic == topic}, policy, time.time())
            yield _result(topic, RETRIES_EXHAUSTED, retries_verdict(topic, stuck, policy))

    return flow_checks


def defs() -> Definitions:
    """The flow checks of every CDC table."""
    return Definitions(asset_checks=[_topic_checks(topic) for topic in sorted(ASSET_OF_TOPIC)])
