"""Run-failure alert: every failed run of this code location's jobs, posted to the alert webhook.

The payload names the job, the run, each failed step with its error (truncated), the assets the run targeted
and those of the failed steps, the partition tags, and a link to the run in the Dagster UI
(``MESH_DAGSTER_UI_URL``, optional). Its ``text`` is a one-line summary that chat webhooks display; the log
line names the same assets and reason.
"""

from __future__ import annotations

from typing import Any

from dagster import (
    DagsterEvent,
    DagsterInstance,
    DagsterRun,
    DefaultSensorStatus,
    RunFailureSensorContext,
    run_failure_sensor,
)

from resources.alerts import AlertWebhookResource
from sensors.alert_text import dagster_ui_url, truncate
from sensors.cdc_retry_alert import cdc_range_note

#: Most failed steps listed in one run-failure payload.
MAX_FAILED_STEPS = 20
#: Run tags that say which partitions a run covered (single key, one per dimension, or a range).
PARTITION_TAG_PREFIXES = ("dagster/partition/", "dagster/asset_partition_range_")
PARTITION_TAG = "dagster/partition"


def _error_text(event: DagsterEvent) -> str:
    """The message of a step or run failure: the user's exception first (class and message), not the wrapper."""
    data = event.event_specific_data
    error = getattr(data, "error", None)
    if error is None:
        return event.message or "no error message"
    # A user exception may arrive wrapped (DagsterExecutionStepExecutionError); its cause is what the owner needs.
    while error.cause is not None and error.cls_name and error.cls_name.startswith("Dagster"):
        error = error.cause
    return error.message.strip() or (event.message or "")


def _step_assets(instance: DagsterInstance, run: DagsterRun) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Asset keys and asset check keys of each step of ``run``, from its stored execution plan."""
    assets: dict[str, set[str]] = {}
    checks: dict[str, set[str]] = {}
    snapshot = (
        instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id) if run.execution_plan_snapshot_id
        else None
    )
    for step in snapshot.steps if snapshot else ():
        for output in step.outputs:
            properties = output.properties
            if properties is None:
                continue
            if properties.asset_key is not None:
                assets.setdefault(step.key, set()).add(properties.asset_key.to_user_string())
            if properties.asset_check_key is not None:
                check = properties.asset_check_key
                checks.setdefault(step.key, set()).add(f"{check.asset_key.to_user_string()}:{check.name}")
    return ({k: sorted(v) for k, v in assets.items()}, {k: sorted(v) for k, v in checks.items()})


def run_failure_payload(context: RunFailureSensorContext) -> dict[str, Any]:
    """What a run failure alert says: job, run, failed steps with their errors, assets, partitions, UI link."""
    run = context.dagster_run
    step_assets, step_checks = _step_assets(context.instance, run)
    if run.asset_selection:
        targeted = sorted(key.to_user_string() for key in run.asset_selection)
    else:
        to_execute = set(run.step_keys_to_execute or step_assets)
        targeted = sorted({a for step, keys in step_assets.items() if step in to_execute for a in keys})
    failures = context.get_step_failure_events()
    failed_steps = [
        {
            "step": event.step_key,
            "error": truncate(_error_text(event)),
            "assets": step_assets.get(event.step_key or "", []),
            "asset_checks": step_checks.get(event.step_key or "", []),
        }
        for event in failures[:MAX_FAILED_STEPS]
    ]
    failing_assets = sorted({a for step in failed_steps for a in step["assets"]})
    run_data = context.failure_event.event_specific_data
    failure_reason = getattr(getattr(run_data, "failure_reason", None), "value", None)
    if failed_steps:
        first = failed_steps[0]
        reason = f"step {first['step']} failed: {first['error'].splitlines()[0] if first['error'] else ''}"
    else:
        reason = truncate(_error_text(context.failure_event))
    partitions = {
        k: v for k, v in sorted(run.tags.items()) if k == PARTITION_TAG or k.startswith(PARTITION_TAG_PREFIXES)
    }
    ui = dagster_ui_url()
    named = failing_assets or targeted
    cdc_range = cdc_range_note(context.instance, run)  # a CDC range's attempt and give-up verdict
    text = (
        f"Run of {run.job_name} failed ({run.run_id[:8]})"
        + (f" on {', '.join(named[:5])}{' …' if len(named) > 5 else ''}" if named else "")
        + f": {truncate(reason, 300)}"
    )
    if cdc_range and cdc_range["retries_exhausted"]:
        text = f"{cdc_range['text']}. {text}"
    return {
        "kind": "run_failure",
        "job": run.job_name,
        "run_id": run.run_id,
        "failure_reason": failure_reason,
        "reason": reason,
        "failed_steps": failed_steps,
        "failed_step_count": len(failures),
        "failing_assets": failing_assets,
        "asset_keys": targeted,
        "partition_tags": partitions,
        "backfill_id": run.tags.get("dagster/backfill"),
        "dagster_url": f"{ui}/runs/{run.run_id}" if ui else None,
        "cdc_range": cdc_range,
        "text": text,
    }


@run_failure_sensor(
    name="run_failure_alert_sensor",
    default_status=DefaultSensorStatus.RUNNING,
    description="Posts every failed run of this code location (steps, errors, assets, partitions) to the alert "
    "webhook (MESH_ALERT_WEBHOOK_URL; only logged when unset).",
)
def run_failure_alert_sensor(context: RunFailureSensorContext, alerts: AlertWebhookResource) -> None:
    """Post the failed run's alert; a delivery failure fails this sensor tick (visible in the UI), naming the host."""
    payload = run_failure_payload(context)
    context.log.error(
        f"run failure alert to {alerts.destination()}: job {payload['job']} run {payload['run_id']} failed; "
        f"assets {payload['failing_assets'] or payload['asset_keys']}; {payload['reason']}"
    )
    alerts.post(payload)

