"""The Aladdin CDC sensor: requests one micro-batch run per topic partition with new records.

It reads only log-end offsets from Kafka and committed positions from the Iceberg tables, never a
payload. Ranges start at the committed position (contiguous: no gap, no overlap), are capped in
size, and a partition with a run in flight gets no new request. Run keys are the range itself,
``aladdin.trades-3-1200-2200``; a range whose run failed is requested again as ``...#retry1``, after an
exponential backoff (:mod:`mesh_assets.lib.cdc.retry_policy`, ``MESH_CDC_RETRY_BACKOFF_S``). After
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
    recent_failed_runs,
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


def _in_flight(context: SensorEvaluationContext) -> set[TopicPartition]:
    runs = context.instance.get_runs(
        filters=RunsFilter(job_name=aladdin_cdc_job.name, statuses=IN_FLIGHT), limit=1000
    )
    labels = {run.tags.get(PARTITION_TAG) for run in runs}
    return {TopicPartition(label.rsplit("-", 1)[0], int(label.rsplit("-", 1)[1])) for label in labels if label}


def _run_key(context: SensorEvaluationContext, label: str) -> str:
    earlier = context.instance.get_runs_count(filters=RunsFilter(job_name=aladdin_cdc_job.name,
                                                                  tags={RANGE_TAG: label}))
    return label if earlier == 0 else f"{label}#retry{earlier}"


@sensor(job=aladdin_cdc_job, minimum_interval_seconds=10,
        description="Requests exactly-once CDC micro-batches for new Kafka offsets, one run per partition range; "
                    "retries a failed range with backoff, gives it up after MESH_CDC_MAX_ATTEMPTS failures for one "
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
        stuck = {}
        for r in plan_microbatches(ends, committed, in_flight, max_range_records()):
            decision = decide(attempts.get(r.topic_partition, []), policy, now)
            if decision.action != "request":
                held.append(decision.describe())
                if decision.action == "stop":
                    stuck[r.topic_partition] = decision
                continue
            label = r.label()
            requests.append(RunRequest(
                run_key=_run_key(context, label),
                run_config={"ops": {"aladdin_cdc": {"config": {"ranges": [label]}}}},
                tags={PARTITION_TAG: r.topic_partition.label(), RANGE_TAG: label, EPOCH_TAG: f"{epoch:.3f}"},
            ))
            cursor[r.topic_partition.label()] = r.end
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
