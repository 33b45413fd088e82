"""Copies every asset-check evaluation of the Dagster event log into ``audit.check_results``, exactly once.

Dagster keeps check history with the asset: wiping the asset drops it from the UI and the check APIs,
deleting a run drops its events, and the instance promises no retention. Auditors need it for years,
so this sensor archives it in an append-only Iceberg table (``mesh_assets/lib/audit``). It launches no
run: each tick reads the next ``ASSET_CHECK_EVALUATION`` records after its cursor and appends them.

Exactly once, in two halves:

- the cursor (the last event storage id archived) is returned to Dagster only after the Iceberg
  commit succeeded, so nothing is ever skipped;
- the append keeps only evaluations the table does not hold yet, keyed by ``(event_storage_id,
  run_id)`` (``mesh_assets/lib/audit/writer.py``), so when a tick commits and then dies before its cursor
  is saved, the next tick reads the same records again and appends none of them.

Reading: ``event_log_storage.get_logs_for_all_runs_by_log_id`` (what Dagster's own run-retry daemon
uses) reads by storage id across all runs on every storage this project runs on: run-sharded SQLite
locally (check events are mirrored into its index shard with instance-wide ids) and Postgres.
``get_event_records`` is deprecated in 1.13, and on run-sharded SQLite it refuses integer cursors.

Known limit: on Postgres a storage id becomes visible when its transaction commits, so an event
whose insert commits after a later id's could in principle be passed by the cursor. Event inserts
are single-row autocommit statements (a window of milliseconds, against a 60 s sensor interval).
"""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetKey,
    DagsterEventType,
    DagsterInstance,
    DefaultSensorStatus,
    EventLogEntry,
    MetadataValue,
    RunsFilter,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
    serialize_value,
)

from mesh_assets.lib.audit.records import CheckEvaluation, check_results_rows
from mesh_assets.lib.audit.tables import CHECK_RESULTS
from mesh_assets.lib.audit.writer import append_new_evaluations
from resources.iceberg import IcebergCatalogResource
from resources.settings import mesh_settings

#: Dagster's run tags naming a run's partition or partition range (documented tag values; the constants
#: themselves live in a private module).
PARTITION_NAME_TAG = "dagster/partition"
ASSET_PARTITION_RANGE_START_TAG = "dagster/asset_partition_range_start"
ASSET_PARTITION_RANGE_END_TAG = "dagster/asset_partition_range_end"

#: A tick stops starting new batches after this long (Dagster's sensor timeout is 60 s by default);
#: a backlog (the first tick on a busy instance) drains over the next ticks.
TICK_BUDGET_SECONDS = 20.0
#: Summary key naming the writer of a commit (for operators reading the table's history).
WRITER_KEY = "mesh.audit.writer"


def batch_size() -> int:
    """Evaluations read and appended per commit: ``MESH_AUDIT_BATCH_SIZE`` (default 5,000)."""
    return mesh_settings().mesh_audit_batch_size


def interval_seconds() -> int:
    """Minimum seconds between ticks: ``MESH_AUDIT_SENSOR_INTERVAL_S`` (default 60)."""
    return mesh_settings().mesh_audit_sensor_interval_s


def plain_metadata_value(value: MetadataValue) -> Any:
    """A Dagster metadata value as plain data: its value when that is JSON-like, an asset key as ``a/b/c``,
    a Dagster record (table, schema, code reference) as its serialized JSON, anything else as text."""
    raw = value.value
    if raw is None or isinstance(raw, (str, int, float, bool, list, dict)):
        return raw
    if isinstance(raw, AssetKey):
        return raw.to_user_string()
    try:
        return json.loads(serialize_value(raw))
    except Exception:  # not a serializable Dagster record: keep what it says
        return str(raw)


@dataclass(frozen=True)
class RunFacts:
    """What an evaluation's run says about it: its code location and the partition (or range) it ran for."""

    code_location: str | None = None
    partition_key: str | None = None


def evaluation_from_entry(
    storage_id: int, entry: EventLogEntry, runs: Mapping[str, RunFacts], location: str | None = None
) -> CheckEvaluation:
    """The plain record of one ``ASSET_CHECK_EVALUATION`` event (only the check's metadata is kept).

    The partition is the evaluation's own, else its run's partition or range of partitions
    (``first...last``); the code location is the run's, else ``location`` (the code location archiving it,
    which defined the check: runs executed in process have no origin).
    """
    event = entry.dagster_event
    data = event.event_specific_data if event is not None else None
    if not isinstance(data, AssetCheckEvaluation):
        raise TypeError(f"event {storage_id} of run {entry.run_id} is not an asset check evaluation: {event}")
    target = data.target_materialization_data
    run = runs.get(entry.run_id, RunFacts())
    return CheckEvaluation(
        event_storage_id=storage_id,
        run_id=entry.run_id,
        job_name=entry.job_name,
        code_location=run.code_location or location,
        asset_key=data.asset_key.to_user_string(),
        check_name=data.check_name,
        partition_key=data.partition or run.partition_key,
        passed=data.passed,
        severity=data.severity.value,
        blocking=data.blocking,
        description=data.description,
        metadata={key: plain_metadata_value(value) for key, value in data.metadata.items()},
        target_materialization_storage_id=target.storage_id if target is not None else None,
        target_materialization_run_id=target.run_id if target is not None else None,
        evaluated_at=dt.datetime.fromtimestamp(entry.timestamp, tz=dt.UTC),
    )


def run_partition(tags: Mapping[str, str]) -> str | None:
    """The partition a run was launched for (``dagster/partition``), or its range as ``first...last``."""
    if tags.get(PARTITION_NAME_TAG):
        return tags[PARTITION_NAME_TAG]
    first, last = tags.get(ASSET_PARTITION_RANGE_START_TAG), tags.get(ASSET_PARTITION_RANGE_END_TAG)
    if first and last:
        return first if first == last else f"{first}...{last}"
    return None


def run_facts(instance: DagsterInstance, run_ids: Sequence[str]) -> dict[str, RunFacts]:
    """Code location (``None`` for runs executed in process) and partition of each run still in the instance."""
    runs = instance.get_runs(filters=RunsFilter(run_ids=sorted(set(run_ids))))
    return {run.run_id: RunFacts(run.remote_job_origin.location_name if run.remote_job_origin else None,
                                 run_partition(run.tags)) for run in runs}


def read_evaluations(
    instance: DagsterInstance, after_storage_id: int, limit: int, location: str | None = None
) -> list[CheckEvaluation]:
    """The next ``limit`` asset-check evaluations after ``after_storage_id``, in storage-id order."""
    entries = instance.event_log_storage.get_logs_for_all_runs_by_log_id(
        after_cursor=after_storage_id, dagster_event_type=DagsterEventType.ASSET_CHECK_EVALUATION, limit=limit
    )
    if not entries:
        return []
    runs = run_facts(instance, [entry.run_id for entry in entries.values()])
    return [evaluation_from_entry(storage_id, entry, runs, location) for storage_id, entry in sorted(entries.items())]


def sensor_location(context: SensorEvaluationContext) -> str | None:
    """The code location this sensor runs in (``None`` when evaluated outside one, e.g. in a test)."""
    origin = context.code_location_origin
    return origin.location_name if origin is not None else None


@sensor(minimum_interval_seconds=interval_seconds(), default_status=DefaultSensorStatus.RUNNING,
        description="Archives every asset-check evaluation in the Iceberg table audit.check_results, exactly once.")
def audit_check_results_sensor(context: SensorEvaluationContext, iceberg: IcebergCatalogResource):
    """Append the evaluations after the cursor to ``audit.check_results``, one commit per batch; the cursor
    moves past a batch only once its commit succeeded (see the module docstring)."""
    cursor = int(context.cursor) if context.cursor else -1
    started, limit = time.monotonic(), batch_size()
    load_table = iceberg.loader(CHECK_RESULTS)
    read = appended = commits = 0
    first = cursor
    while True:
        evaluations = read_evaluations(context.instance, cursor, limit, sensor_location(context))
        if not evaluations:
            break
        rows = check_results_rows(evaluations, ingested_at=dt.datetime.now(dt.UTC))
        outcome = append_new_evaluations(load_table, rows, {WRITER_KEY: "audit_check_results_sensor"})
        cursor = evaluations[-1].event_storage_id
        read, appended, commits = read + len(evaluations), appended + outcome.appended, commits + outcome.committed
        if len(evaluations) < limit or time.monotonic() - started > TICK_BUDGET_SECONDS:
            break
    if read == 0:
        return SkipReason(f"no asset check evaluation after event storage id {cursor}")
    message = (f"archived {appended} asset check evaluation(s) in {CHECK_RESULTS.identifier} "
               f"({read - appended} already there) after event storage id {first} up to {cursor}, {commits} commit(s)")
    context.log.info(message)
    return SensorResult(skip_reason=SkipReason(message), cursor=str(cursor))
