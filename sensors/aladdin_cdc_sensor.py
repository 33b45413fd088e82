"""The Aladdin CDC sensor: requests one micro-batch run per topic partition with new records.

It reads only log-end offsets from Kafka and committed positions from the Iceberg tables, never a
payload. Ranges start at the committed position (contiguous: no gap, no overlap), are capped in
size, and a partition with a run in flight gets no new request. Run keys are the range itself,
``aladdin.trades-3-1200-2200``; a range whose run failed is requested again as ``...#retry1``.
"""

import os

import orjson
from dagster import DagsterRunStatus, RunRequest, RunsFilter, SensorEvaluationContext, SensorResult, SkipReason, sensor

from jobs.cdc import aladdin_cdc_job
from mesh_assets.bronze.aladdin_cdc import committed_for_topic
from mesh_assets.cdc import CONTRACTS, TopicPartition
from mesh_assets.cdc.microbatch_plan import lag_by_partition, plan_microbatches
from resources.cdc_source import CdcSourceResource
from resources.iceberg import IcebergCatalogResource

PARTITION_TAG = "mesh/topic-partition"
RANGE_TAG = "mesh/offset-range"
DEFAULT_MAX_RANGE = 100_000
IN_FLIGHT = [DagsterRunStatus.QUEUED, DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
             DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]


def max_range_records() -> int:
    """Cap on one micro-batch's records per partition: ``MESH_CDC_MAX_RANGE`` (default 100,000)."""
    return int(os.environ.get("MESH_CDC_MAX_RANGE", DEFAULT_MAX_RANGE))


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
        description="Requests exactly-once CDC micro-batches for new Kafka offsets, one run per partition range.")
def aladdin_cdc_sensor(
    context: SensorEvaluationContext, cdc_source: CdcSourceResource, iceberg: IcebergCatalogResource
):
    """Plan the next micro-batches from end offsets and the positions committed in Iceberg."""
    in_flight = _in_flight(context)
    cursor: dict = orjson.loads(context.cursor) if context.cursor else {}
    requests = []
    lag = {}
    for topic in sorted(CONTRACTS):
        ends = {TopicPartition(topic, p): end for p, end in cdc_source.end_offsets(topic).items()}
        committed = committed_for_topic(iceberg, topic)
        lag.update(lag_by_partition(ends, committed))
        for r in plan_microbatches(ends, committed, in_flight, max_range_records()):
            label = r.label()
            requests.append(RunRequest(
                run_key=_run_key(context, label),
                run_config={"ops": {"aladdin_cdc": {"config": {"ranges": [label]}}}},
                tags={PARTITION_TAG: r.topic_partition.label(), RANGE_TAG: label},
            ))
            cursor[r.topic_partition.label()] = r.end
    new_cursor = orjson.dumps(cursor, option=orjson.OPT_SORT_KEYS).decode()
    if not requests:
        busy = sorted(tp.label() for tp in in_flight)
        return SensorResult(skip_reason=SkipReason(f"caught up; in flight: {busy}; lag: {lag}"), cursor=new_cursor)
    return SensorResult(run_requests=requests, cursor=new_cursor)
