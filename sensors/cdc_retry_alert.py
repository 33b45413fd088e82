"""What the run-failure alert adds for a failed CDC micro-batch: its attempt, and whether the sensor gave up.

The alert of a CDC run says which attempt failed (``3 of 5``), the next retry's backoff, and, on the
attempt after which the sensor stops asking for the range (``MESH_CDC_MAX_ATTEMPTS`` failures for the
same reason), that the partition is stuck and how to un-stick it. A failed run that carried several
partitions' ranges gets one note per range under ``ranges`` (each is requested again in a run of its own).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from mesh_assets.bronze.cdc_range_attempts import (
    CDC_JOB_NAME,
    EPOCH_TAG,
    RANGE_TAG,
    attempts_by_partition,
    recent_failed_runs,
    run_ranges,
)
from mesh_assets.lib.cdc.retry_policy import decide, first_line

if TYPE_CHECKING:
    from dagster import DagsterInstance, DagsterRun

UNSTICK_HINT = ("fix the cause, then reset the sensor's cursor (dagster sensor cursor aladdin_cdc_sensor --delete) "
                "or launch the range by hand; see docs/architecture.md, 'CDC retries and stalled partitions'")


def cdc_range_note(instance: DagsterInstance, run: DagsterRun) -> dict[str, Any] | None:
    """The CDC range, attempt count and give-up verdict of a failed sensor-requested CDC run (else ``None``).

    For a run that carried several ranges: ``ranges`` holds each range's note, ``retries_exhausted`` is
    false (each range gets an attempt of its own next) and ``text`` says so.
    """
    ranges = run_ranges(run.tags)
    if run.job_name != CDC_JOB_NAME or not ranges:
        return None
    failed = recent_failed_runs(instance)
    notes = [_note(instance, run, r, failed) for r in ranges]
    if len(notes) == 1:
        return notes[0]
    return {"range": run.tags[RANGE_TAG], "ranges": notes, "retries_exhausted": False,
            "text": f"CDC run of {len(notes)} ranges failed; each range is requested again in a run of its own"}


def _note(instance: DagsterInstance, run: DagsterRun, r, failed: list) -> dict[str, Any]:
    from resources.settings import cdc_retry_policy

    label = r.label()
    tp = r.topic_partition
    policy = cdc_retry_policy()
    attempts = attempts_by_partition(instance, failed, {tp: r.start},
                                     epoch_s=float(run.tags.get(EPOCH_TAG) or 0), partitions={tp})
    decision = decide(attempts.get(tp, []), policy, time.time())
    note: dict[str, Any] = {
        "topic": tp.topic, "partition": tp.partition, "offset_range": [r.start, r.end], "range": label,
        "failed_attempts": decision.failures, "same_reason_attempts": decision.same_reason,
        "max_attempts": policy.max_attempts, "retries_exhausted": decision.action == "stop",
        "error": first_line(decision.last.error)[:500] if decision.last else None,
    }
    if decision.action == "stop":
        note["text"] = (f"CDC {tp.topic} partition {tp.partition} offsets {r.start}..{r.end - 1}: given up after "
                        f"{decision.same_reason} failures for the same reason; the sensor no longer asks for it "
                        f"({UNSTICK_HINT})")
    else:
        shared = decision.last is not None and decision.last.shared
        note["next_attempt_in_s"] = 0 if shared else round(policy.backoff_s(decision.failures))
    return note
