"""What the CDC sensor keeps in its cursor about flow, and which flow-check evaluations it reports.

The cursor of ``aladdin_cdc_sensor`` is a JSON object: ``topic-partition -> last requested end`` (as
before) plus reserved keys starting with ``_``:

* ``_retry_epoch_s``: when the cursor was created. Failed attempts count from here; deleting the
  cursor (``dagster sensor cursor aladdin_cdc_sensor --delete``) gives every partition fresh attempts.
* ``_waiting_since_ms``: when the sensor first saw a never-committed partition waiting (its stall age).
* ``_checks``: per ``topic:check`` the last reported verdict's signature and when it was reported, so
  an unchanged verdict is re-reported only every ``RECHECK_S`` seconds.
"""

from __future__ import annotations

from collections.abc import Mapping

from dagster import AssetCheckEvaluation

from mesh_assets.bronze.cdc_stall_checks import RECHECK_S, evaluation
from mesh_assets.lib.cdc.records import TopicPartition
from mesh_assets.lib.quality import Verdict

EPOCH_KEY = "_retry_epoch_s"
WAITING_KEY = "_waiting_since_ms"
CHECKS_KEY = "_checks"


def waiting_since(cursor: dict, end_offsets: Mapping[TopicPartition, int], committed: Mapping[TopicPartition, int],
                  now_ms: int) -> dict[TopicPartition, int]:
    """Update and return when each never-committed partition with records was first seen waiting."""
    stored: dict = cursor.setdefault(WAITING_KEY, {})
    for tp, end in end_offsets.items():
        label = tp.label()
        if committed.get(tp, 0) == 0 and end > 0:
            stored.setdefault(label, now_ms)
        else:
            stored.pop(label, None)
    return {tp: stored[tp.label()] for tp in end_offsets if tp.label() in stored}


def _signature(verdict: Verdict) -> list:
    stuck = [r["range"] for r in verdict.metadata.get("stuck_ranges", [])]
    return [verdict.passed, sorted(verdict.metadata.get("stalled_partitions", [])), stuck]


def due_evaluations(
    cursor: dict, topic: str, verdicts: Mapping[str, Verdict], now_s: float
) -> list[AssetCheckEvaluation]:
    """Evaluations to report now: a verdict that changed, or one last reported ``RECHECK_S`` ago or more."""
    reported: dict = cursor.setdefault(CHECKS_KEY, {})
    due = []
    for name, verdict in verdicts.items():
        key = f"{topic}:{name}"
        signature = _signature(verdict)
        previous = reported.get(key)
        if previous is None or previous[0] != signature or now_s - float(previous[1]) >= RECHECK_S:
            due.append(evaluation(topic, name, verdict))
            reported[key] = [signature, now_s]
    return due
