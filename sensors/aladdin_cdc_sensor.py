"""The Aladdin CDC sensor: requests one micro-batch run per topic carrying every healthy partition's range.

It reads only log-end offsets from Kafka and committed positions from the Iceberg tables, never a
payload. Ranges start at the committed position (contiguous: no gap, no overlap), are capped in
size, and a partition whose range is in flight and not committed yet gets no new request (a run that
has committed and is running its checks does not hold the next range back). The partitions of a topic without a
failed attempt share one run (its fixed cost, ~5 s of run worker and checks, is paid once per topic,
not per partition; the asset commits all its ranges in one Iceberg commit per table). A partition
whose range failed is requested in a run of its own, so it cannot hold the healthy ones back.

Run keys name the ranges: ``aladdin.trades-0-0-900,aladdin.trades-1-0-870`` for a shared run,
``aladdin.trades-3-1200-2200`` for a run of one range; a range requested again after a failure gets
``...#retry<n>`` (n: the earlier runs that carried it), after an exponential backoff
(:mod:`mesh_assets.lib.cdc.retry_policy`, ``MESH_CDC_RETRY_BACKOFF_S``; none after a shared run's failure). After
``MESH_CDC_MAX_ATTEMPTS`` failures for the same reason the sensor stops asking for that partition's range
(the other partitions keep flowing) and reports the ERROR check ``range_retries_exhausted``; it also
reports ``partition_stalled`` (:mod:`mesh_assets.bronze.cdc_stall_checks`). The cursor is described in
:mod:`sensors.cdc_flow_report`.
"""

import datetime as dt
import time

import orjson
from dagster import DagsterRunStatus, RunRequest, RunsFilter, SensorEvaluationContext, SensorResult, SkipReason, sensor

from jobs.cdc import aladdin_cdc_job
from mesh_assets.bronze.aladdin_cdc import committed_for_topic
from mesh_assets.bronze.cdc_range_attempts import (
    EPOCH_TAG,
    PARTITION_TAG,
    RANGE_TAG,
    attempts_by_partition,
    join_labels,
    recent_failed_runs,
    run_ranges,
)
from mesh_assets.bronze.cdc_stall_checks import (
    PARTITION_STALLED,
    RETRIES_EXHAUSTED,
    partition_stalled_verdict,
    retries_verdict,
)
from mesh_assets.lib.cdc import CONTRACTS, TopicPartition
from mesh_assets.lib.cdc.microbatch_plan import lag_by_partition, plan_microbatches
from mesh_assets.lib.cdc.retry_policy import decide
from resources.cdc_source import CdcSourceResource
from resources.iceberg import IcebergCatalogResource
from resources.settings import cdc_retry_policy, cdc_stall_after_s, mesh_settings
from sensors.cdc_flow_report import EPOCH_KEY, due_evaluations, waiting_since

__all__ = ["PARTITION_TAG", "RANGE_TAG", "aladdin_cdc_sensor", "max_range_records"]

IN_FLIGHT = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
             DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def max_range_records() -> int:
    """Cap on one micro-batch's records per partition: ``MESH_CDC_MAX_RANGE`` (default 100,000)."""
    return mesh_settings().mesh_cdc_max_range


def _in_flight(context: SensorEvaluationContext) -> dict[TopicPartition, int]:
    """Per partition carried by a CDC run that has not finished, the furthest end of its ranges there."""
    runs = context.instance.get_runs(
        filters=RunsFilter(job_name=aladdin_cdc_job.name, statuses=IN_FLIGHT), limit=1000
    )
    busy: dict[TopicPartition, int] = {}
    for run in runs:
        ranges = run_ranges(run.tags)
        for r in ranges:
            busy[r.topic_partition] = max(busy.get(r.topic_partition, 0), r.end)
        topic, _, partition = (run.tags.get(PARTITION_TAG) or "").rpartition("-")
        if not ranges and topic and partition.isdigit():  # a run launched by hand with only the partition tag
            busy[TopicPartition(topic, int(partition))] = 2**63  # its range is unknown: busy until it ends
    return busy


def _still_busy(in_flight: dict[TopicPartition, int], committed: dict[TopicPartition, int]) -> set[TopicPartition]:
    """Partitions whose in-flight range is not committed yet. A run that already committed its ranges (it is
    running its checks) does not hold its partitions back: the next range starts at the committed position."""
    return {tp for tp, end in in_flight.items() if committed.get(tp, 0) < end}


def _run_key(context: SensorEvaluationContext, label: str, earlier_shared: int = 0) -> str:
    """``label``, or ``label#retry<n>`` when n earlier runs carried it (alone, or ``earlier_shared`` shared)."""
    earlier = earlier_shared + context.instance.get_runs_count(
        filters=RunsFilter(job_name=aladdin_cdc_job.name, tags={RANGE_TAG: label}))
    return label if earlier == 0 else f"{label}#retry{earlier}"


def _request(context: SensorEvaluationContext, ranges: list, epoch: float, failed_runs: list) -> RunRequest:
    """One run for ``ranges``: of one partition (tagged with it), or of several partitions of one topic (tagged
    with the topic, so the queue's one-run-per-tag-value limit still allows one shared run per topic)."""
    ranges = sorted(ranges, key=lambda r: r.topic_partition)
    label = join_labels(ranges)
    shared_before = 0
    if len(ranges) == 1:  # a range that failed inside shared runs: those count as earlier runs of it
        shared_before = sum(1 for rec in failed_runs if len(found := run_ranges(rec.dagster_run.tags)) > 1
                            and label in {r.label() for r in found})
    lane = ranges[0].topic_partition.label() if len(ranges) == 1 else ranges[0].topic
    return RunRequest(
        run_key=_run_key(context, label, shared_before),
        run_config={"ops": {"aladdin_cdc": {"config": {"ranges": [r.label() for r in ranges]}}}},
        tags={PARTITION_TAG: lane, RANGE_TAG: label, EPOCH_TAG: f"{epoch:.3f}"},
    )


#: Every 5 s: the daemon's sensor loop runs no more often than that (MIN_INTERVAL_LOOP_TIME); a tick reads
#: only log-end offsets and snapshot summaries (~0.1-0.5 s).
@sensor(job=aladdin_cdc_job, minimum_interval_seconds=5,
        description="Requests exactly-once CDC micro-batches for new Kafka offsets, one run per topic carrying "
                    "every healthy partition's range (a failed range runs alone); retries it with backoff, "
                    "gives it up after MESH_CDC_MAX_ATTEMPTS failures for one "
                    "reason, and reports the partition_stalled / range_retries_exhausted checks.")
def aladdin_cdc_sensor(
    context: SensorEvaluationContext, cdc_source: CdcSourceResource, iceberg: IcebergCatalogResource
):
    """Plan the next micro-batches from end offsets and the positions committed in Iceberg."""
    in_flight = _in_flight(context)
    cursor: dict = orjson.loads(context.cursor) if context.cursor else {}
    now = time.time()
    epoch = float(cursor.setdefault(EPOCH_KEY, round(now, 3)))
    policy = cdc_retry_policy()
    failed_runs = recent_failed_runs(context.instance)
    requests, events, held = [], [], []
    lag = {}
    for topic in sorted(CONTRACTS):
        ends = {TopicPartition(topic, p): end for p, end in cdc_source.end_offsets(topic).items()}
        committed = committed_for_topic(iceberg, topic)
        lag.update(lag_by_partition(ends, committed))
        attempts = attempts_by_partition(context.instance, failed_runs, committed, epoch, set(ends))
        stuck, healthy = {}, []
        for r in plan_microbatches(ends, committed, _still_busy(in_flight, committed), max_range_records()):
            failed = attempts.get(r.topic_partition, [])
            decision = decide(failed, policy, now)
            if decision.action != "request":
                held.append(decision.describe())
                if decision.action == "stop":
                    stuck[r.topic_partition] = decision
                continue
            if failed:
                requests.append(_request(context, [r], epoch, failed_runs))  # alone: it cannot hold others back
            else:
                healthy.append(r)
            cursor[r.topic_partition.label()] = r.end
        if healthy:
            requests.append(_request(context, healthy, epoch, failed_runs))
        now_ms = int(now * 1000)
        stalled = partition_stalled_verdict(iceberg, topic, ends, committed, now_ms, cdc_stall_after_s(),
                                            waiting_since(cursor, ends, committed, now_ms))
        due = due_evaluations(cursor, topic, {PARTITION_STALLED: stalled,
                                              RETRIES_EXHAUSTED: retries_verdict(topic, stuck, policy)}, now)
        for failing in (e for e in due if not e.passed):
            context.log.error(f"{failing.asset_key.to_user_string()} {failing.check_name}: {failing.description}")
        events += due
    new_cursor = orjson.dumps(cursor, option=orjson.OPT_SORT_KEYS).decode()
    if not requests:
        busy = sorted(tp.label() for tp in in_flight)
        at = dt.datetime.fromtimestamp(now, dt.UTC).strftime("%H:%M:%S")
        return SensorResult(skip_reason=SkipReason(f"{at}: nothing to request; in flight: {busy}; held back: {held}; "
                                                   f"lag: {lag}"), cursor=new_cursor, asset_events=events)
    return SensorResult(run_requests=requests, cursor=new_cursor, asset_events=events)
