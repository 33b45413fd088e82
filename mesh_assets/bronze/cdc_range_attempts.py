"""The failed attempts of CDC ranges, read from the Dagster instance's run history.

The CDC sensor tags each micro-batch run with its partition (or its topic, for a run that carries
several partitions' ranges), its ranges (``RANGE_TAG``: one label, or labels joined by ``,``) and the
*retry epoch* (when the sensor's cursor was created). A partition's attempts are its failed runs since that epoch whose
range starts at the partition's committed position: a commit moves the start and so begins a fresh
count; resetting the sensor's cursor starts a new epoch (the documented way to un-stick). The
sensor, the on-demand check and the failure alert all read attempts here, so they agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from mesh_assets.lib.cdc.records import OffsetRange, TopicPartition
from mesh_assets.lib.cdc.retry_policy import FailedAttempt, RangeDecision, RetryPolicy, decide

if TYPE_CHECKING:
    from dagster import DagsterInstance, RunRecord

CDC_JOB_NAME = "aladdin_cdc_microbatch"
PARTITION_TAG = "mesh/topic-partition"
RANGE_TAG = "mesh/offset-range"
EPOCH_TAG = "mesh/cdc-retry-epoch"
ROOT_RUN_TAG = "dagster/root_run_id"
#: Newest failed CDC runs read per evaluation (a stuck partition holds at most max_attempts of them).
FAILED_RUNS_LIMIT = 500


#: Joins the range labels of a run that carries several partitions' ranges (in RANGE_TAG and its run key).
RANGE_SEPARATOR = ","


def parse_label(label: str) -> OffsetRange:
    """``aladdin.trades-3-1200-2200`` -> OffsetRange (topic names may contain dashes)."""
    topic, partition, start, end = label.rsplit("-", 3)
    return OffsetRange(topic, int(partition), int(start), int(end))


def join_labels(ranges: Sequence[OffsetRange]) -> str:
    """The RANGE_TAG value (and run key stem) of a run carrying ``ranges``, in partition order."""
    return RANGE_SEPARATOR.join(r.label() for r in sorted(ranges, key=lambda r: r.topic_partition))


def run_ranges(tags: Mapping[str, str]) -> list[OffsetRange]:
    """The ranges a CDC run carries, from its RANGE_TAG (empty when absent or not the sensor's)."""
    try:
        return [parse_label(label) for label in tags.get(RANGE_TAG, "").split(RANGE_SEPARATOR) if label]
    except ValueError:  # a hand-made tag that is not a range: not one of the sensor's attempts
        return []


def recent_failed_runs(instance: DagsterInstance, limit: int = FAILED_RUNS_LIMIT) -> list[RunRecord]:
    """The newest failed runs of the CDC micro-batch job (one query)."""
    from dagster import DagsterRunStatus, RunsFilter

    return list(instance.get_run_records(
        filters=RunsFilter(job_name=CDC_JOB_NAME, statuses=[DagsterRunStatus.FAILURE]), limit=limit))


def run_error(instance: DagsterInstance, run_id: str) -> str:
    """The user's error of a failed run: its first step failure (unwrapped), else the run failure message."""
    from dagster import DagsterEventType

    for of_type in (DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE):
        for entry in instance.all_logs(run_id, of_type=of_type):
            event = entry.dagster_event
            error = getattr(event.event_specific_data, "error", None) if event else None
            if error is None:
                if event is not None and event.message:
                    return event.message
                continue
            while error.cause is not None and error.cls_name and error.cls_name.startswith("Dagster"):
                error = error.cause
            return f"{error.cls_name}: {error.message.strip()}" if error.cls_name else error.message.strip()
    return "run failed without an error message"


def attempts_by_partition(
    instance: DagsterInstance,
    records: Sequence[RunRecord],
    committed: Mapping[TopicPartition, int],
    epoch_s: float | None = None,
    partitions: set[TopicPartition] | None = None,
) -> dict[TopicPartition, list[FailedAttempt]]:
    """Failed attempts (oldest first) of ranges starting at each partition's committed position.

    One attempt per sensor request: its automatic run retries count once, with the last retry's error.
    ``epoch_s``: count only runs created since (the sensor's epoch). ``None``: the epoch tagged on the
    partition's newest failed run (what the sensor used when it requested it).
    """
    matching: dict[TopicPartition, list[tuple[RunRecord, OffsetRange]]] = {}
    shared: set[str] = set()
    for record in records:
        ranges = run_ranges(record.dagster_run.tags)
        if len(ranges) > 1:
            shared.add(record.dagster_run.run_id)
        for r in ranges:
            tp = r.topic_partition
            if (partitions is not None and tp not in partitions) or r.start != committed.get(tp, 0):
                continue
            matching.setdefault(tp, []).append((record, r))
    attempts: dict[TopicPartition, list[FailedAttempt]] = {}
    errors: dict[str, str] = {}  # a shared run's error is read once for all its partitions
    for tp, runs in matching.items():
        runs = _one_per_request(runs)
        epoch = epoch_s if epoch_s is not None else float(runs[-1][0].dagster_run.tags.get(EPOCH_TAG, 0) or 0)
        kept = [(rec, r) for rec, r in runs if rec.create_timestamp.timestamp() >= epoch]
        for rec, _ in kept:
            run_id = rec.dagster_run.run_id
            if run_id not in errors:
                errors[run_id] = run_error(instance, run_id)
        if kept:
            attempts[tp] = [FailedAttempt(rec.dagster_run.run_id, r.label(), _ended_at(rec),
                                          errors[rec.dagster_run.run_id], rec.dagster_run.run_id in shared)
                            for rec, r in kept]
    return attempts


def _one_per_request(runs: list[tuple[RunRecord, OffsetRange]]) -> list[tuple[RunRecord, OffsetRange]]:
    """The newest run of each sensor request, oldest request first: the instance's automatic run retries
    (``run_retries`` in dagster.yaml, same root run) belong to the request they retry."""
    newest: dict[str, tuple[RunRecord, OffsetRange]] = {}  # insertion order: each request's first run
    for record, r in sorted(runs, key=lambda pair: pair[0].create_timestamp):
        newest[record.dagster_run.tags.get(ROOT_RUN_TAG, record.dagster_run.run_id)] = (record, r)
    return list(newest.values())


def _ended_at(record: RunRecord) -> float:
    return float(record.end_time or record.update_timestamp.timestamp())


def stuck_ranges(
    attempts: Mapping[TopicPartition, list[FailedAttempt]], policy: RetryPolicy, now_s: float
) -> dict[TopicPartition, RangeDecision]:
    """The partitions whose range the sensor no longer asks for, with the decision that says why."""
    decisions = {tp: decide(found, policy, now_s) for tp, found in attempts.items()}
    return {tp: d for tp, d in sorted(decisions.items()) if d.action == "stop"}
