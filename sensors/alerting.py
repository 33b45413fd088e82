"""Alerting: failed runs and freshness violations, posted to the alert webhook (``resources/alerts.py``).

- ``run_failure_alert_sensor`` reacts to every failed run of this code location's jobs: the job, the run, each
  failed step with its error (truncated), the assets the run targeted and those of the failed steps, the
  partition tags, and a link to the run in the Dagster UI (``MESH_DAGSTER_UI_URL``, optional).
- ``freshness_alert_sensor`` evaluates every asset that has a ``FreshnessPolicy`` (cron or time window) against
  its last materialization, with the semantics of Dagster's own freshness evaluators, so the alert agrees with
  the asset's freshness in the UI. Dagster's freshness daemon stores only a PASS/FAIL state and reads the wall
  clock; the alert needs the policy, the last materialization and how late the asset is, so the sensor computes
  them itself (:func:`assess_freshness`, pure, ``now`` injected). It alerts once per violation (the cursor holds
  the assets alerted and since when) and posts ``freshness_recovered`` when the asset materializes again.
  An asset never materialized is UNKNOWN, as in Dagster, and is not alerted on.

Every payload carries ``kind``, the asset keys, the reason and ``text`` (a one-line summary that chat webhooks
display); the log line of each alert names the same assets and reason.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import orjson
from dagster import (
    AssetKey,
    DagsterEvent,
    DagsterInstance,
    DagsterRun,
    DefaultSensorStatus,
    FreshnessPolicy,
    RunFailureSensorContext,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    run_failure_sensor,
    sensor,
)

from resources.alerts import AlertDeliveryError, AlertWebhookResource
from resources.settings import mesh_settings
from sensors.cdc_retry_alert import cdc_range_note

#: Longest error message per failed step in a payload (webhooks cap message sizes; the UI has the rest).
MAX_ERROR_CHARS = 2000
#: Most failed steps listed in one run-failure payload.
MAX_FAILED_STEPS = 20
#: Run tags that say which partitions a run covered (single key, one per dimension, or a range).
PARTITION_TAG_PREFIXES = ("dagster/partition/", "dagster/asset_partition_range_")
PARTITION_TAG = "dagster/partition"

FreshnessVerdict = Literal["fresh", "violated", "unknown"]


def dagster_ui_url() -> str | None:
    """Base URL of the Dagster UI for deep links: ``MESH_DAGSTER_UI_URL`` (optional), without trailing slash."""
    base = (mesh_settings().mesh_dagster_ui_url or "").strip().rstrip("/")
    return base or None


def _truncate(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def human_duration(seconds: float) -> str:
    """``2 d 3 h 05 min`` style duration (whole minutes; under a minute: seconds)."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    days, rest = divmod(seconds // 60, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = ([f"{days} d"] if days else []) + ([f"{hours} h"] if days or hours else []) + [f"{minutes:02d} min"]
    return " ".join(parts)


# --------------------------------------------------------------------------------------------------- run failures


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
            "error": _truncate(_error_text(event)),
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
        reason = _truncate(_error_text(context.failure_event))
    partitions = {
        k: v for k, v in sorted(run.tags.items()) if k == PARTITION_TAG or k.startswith(PARTITION_TAG_PREFIXES)
    }
    ui = dagster_ui_url()
    named = failing_assets or targeted
    cdc_range = cdc_range_note(context.instance, run)  # a CDC range's attempt and give-up verdict
    text = (
        f"Run of {run.job_name} failed ({run.run_id[:8]})"
        + (f" on {', '.join(named[:5])}{' …' if len(named) > 5 else ''}" if named else "")
        + f": {_truncate(reason, 300)}"
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


# --------------------------------------------------------------------------------------------------- freshness


@dataclass(frozen=True)
class FreshnessAssessment:
    """One asset's freshness at ``now``: verdict, when it became overdue, and its policy in words."""

    asset_key: AssetKey
    policy: FreshnessPolicy
    verdict: FreshnessVerdict
    now: datetime
    last_materialization: datetime | None = None
    last_run_id: str | None = None
    overdue_since: datetime | None = None
    owners: tuple[str, ...] = ()
    group: str | None = None

    @property
    def late_by(self) -> timedelta | None:
        """How long the asset has been overdue (violations only)."""
        return self.now - self.overdue_since if self.overdue_since and self.verdict == "violated" else None


def describe_policy(policy: FreshnessPolicy) -> dict[str, Any]:
    """The policy as JSON: its type, parameters and a sentence."""
    from dagster._core.definitions.freshness import CronFreshnessPolicy, TimeWindowFreshnessPolicy

    if isinstance(policy, CronFreshnessPolicy):
        lower = policy.lower_bound_delta
        return {
            "type": "cron",
            "deadline_cron": policy.deadline_cron,
            "timezone": policy.timezone,
            "lower_bound_delta_seconds": int(lower.total_seconds()),
            "description": (
                f"materialized within {human_duration(lower.total_seconds())} before each deadline "
                f"'{policy.deadline_cron}' ({policy.timezone})"
            ),
        }
    if isinstance(policy, TimeWindowFreshnessPolicy):
        fail = policy.fail_window.to_timedelta()
        warn = policy.warn_window.to_timedelta() if policy.warn_window else None
        return {
            "type": "time_window",
            "fail_window_seconds": int(fail.total_seconds()),
            "warn_window_seconds": int(warn.total_seconds()) if warn else None,
            "description": f"materialized at least every {human_duration(fail.total_seconds())}",
        }
    return {"type": type(policy).__name__, "description": repr(policy)}


def assess_freshness(
    policy: FreshnessPolicy, last_materialization: datetime | None, now: datetime
) -> tuple[FreshnessVerdict, datetime | None]:
    """``(verdict, overdue_since)`` of an asset under ``policy`` at ``now``, as Dagster's evaluators decide.

    Time window: violated once ``now - last >= fail_window``; overdue since ``last + fail_window``.
    Cron: the window of the last completed deadline is ``[deadline - lower_bound_delta, deadline]``; violated when
    the last materialization is before that window; overdue since the first deadline it missed (the first tick
    strictly after ``last + lower_bound_delta``). Never materialized: ``unknown``.
    """
    from dagster._core.definitions.freshness import CronFreshnessPolicy, TimeWindowFreshnessPolicy

    # The same cron helpers as dagster's CronFreshnessPolicyEvaluator (time zones and DST included).
    from dagster._utils.schedules import get_latest_completed_cron_tick, get_next_cron_tick

    if last_materialization is None:
        return "unknown", None
    if isinstance(policy, TimeWindowFreshnessPolicy):
        fail = policy.fail_window.to_timedelta()
        if now - last_materialization >= fail:
            return "violated", last_materialization + fail
        return "fresh", None
    if isinstance(policy, CronFreshnessPolicy):
        deadline = get_latest_completed_cron_tick(policy.deadline_cron, now, policy.timezone)
        if last_materialization >= deadline - policy.lower_bound_delta:
            return "fresh", None
        missed = get_next_cron_tick(
            policy.deadline_cron, last_materialization + policy.lower_bound_delta + timedelta(microseconds=1),
            policy.timezone,
        )
        return "violated", missed
    return "unknown", None


def freshness_assessments(
    instance: DagsterInstance, asset_nodes: Iterable[Any], now: datetime
) -> list[FreshnessAssessment]:
    """Assess every asset node that has a freshness policy, from its last materialization in ``instance``."""
    nodes = [node for node in asset_nodes if node.freshness_policy_or_from_metadata is not None]
    records = {r.asset_entry.asset_key: r for r in instance.get_asset_records([n.key for n in nodes])}
    result = []
    for node in sorted(nodes, key=lambda n: n.key.to_user_string()):
        policy = node.freshness_policy_or_from_metadata
        record = records.get(node.key)
        entry = record.asset_entry.last_materialization if record else None
        last = datetime.fromtimestamp(entry.timestamp, UTC) if entry else None
        verdict, overdue_since = assess_freshness(policy, last, now)
        result.append(FreshnessAssessment(
            asset_key=node.key, policy=policy, verdict=verdict, now=now, last_materialization=last,
            last_run_id=entry.run_id if entry else None, overdue_since=overdue_since,
            owners=tuple(node.owners or ()), group=node.group_name,
        ))
    return result


def _asset_link(key: AssetKey) -> str | None:
    ui = dagster_ui_url()
    return f"{ui}/assets/{'/'.join(key.path)}" if ui else None


def _asset_fields(assessment: FreshnessAssessment, policy: dict[str, Any]) -> dict[str, Any]:
    """What every freshness alert says about the asset: key, owners, group, policy, last materialization."""
    return {
        "asset_key": assessment.asset_key.to_user_string(),
        "asset_key_path": list(assessment.asset_key.path),
        "owners": list(assessment.owners),
        "group": assessment.group,
        "policy": policy,
        "last_materialization": _iso(assessment.last_materialization),
        "last_materialization_run_id": assessment.last_run_id,
    }


def violation_payload(assessment: FreshnessAssessment) -> dict[str, Any]:
    """What a freshness violation alert says: asset, policy, last materialization, deadline missed, how late."""
    key = assessment.asset_key.to_user_string()
    policy = describe_policy(assessment.policy)
    late = assessment.late_by or timedelta(0)
    last = _iso(assessment.last_materialization)
    reason = (
        f"{key} is late by {human_duration(late.total_seconds())}: last materialized {last}, "
        f"due by {_iso(assessment.overdue_since)} ({policy['description']})"
    )
    return {
        "kind": "freshness_violation",
        **_asset_fields(assessment, policy),
        "overdue_since": _iso(assessment.overdue_since),
        "late_by_seconds": int(late.total_seconds()),
        "late_by": human_duration(late.total_seconds()),
        "evaluated_at": _iso(assessment.now),
        "reason": reason,
        "dagster_url": _asset_link(assessment.asset_key),
        "text": f"Freshness violated: {reason}",
    }


def recovery_payload(assessment: FreshnessAssessment, violated_since: str | None) -> dict[str, Any]:
    """What a recovery says: the asset materialized again and meets its policy."""
    key = assessment.asset_key.to_user_string()
    policy = describe_policy(assessment.policy)
    last = _iso(assessment.last_materialization)
    reason = f"{key} is fresh again: materialized {last} ({policy['description']}); overdue since {violated_since}"
    return {
        "kind": "freshness_recovered",
        **_asset_fields(assessment, policy),
        "violated_since": violated_since,
        "recovered_at": _iso(assessment.now),
        "reason": reason,
        "dagster_url": _asset_link(assessment.asset_key),
        "text": f"Freshness recovered: {reason}",
    }


def evaluate_freshness_alerts(
    context: SensorEvaluationContext, alerts: AlertWebhookResource, now: datetime,
    asset_nodes: Sequence[Any] | None = None,
) -> SensorResult:
    """One tick of the freshness alerting at ``now``: post new violations and recoveries, keep the rest quiet.

    The cursor maps each alerted asset to its violation (``overdue_since``, ``alerted_at``). An alert whose
    delivery fails stays out of the cursor so the next tick tries again; if nothing at all could be delivered,
    the tick fails with the delivery error (naming the webhook's host only).
    """
    if asset_nodes is None:
        if context.repository_def is None:
            raise ValueError("freshness_alert_sensor needs the code location's definitions (context.repository_def)")
        asset_nodes = list(context.repository_def.asset_graph.asset_nodes)
    alerted: dict[str, dict[str, Any]] = orjson.loads(context.cursor) if context.cursor else {}
    assessments = freshness_assessments(context.instance, asset_nodes, now)
    known = {a.asset_key.to_user_string() for a in assessments}
    state = {key: value for key, value in alerted.items() if key in known}  # assets gone from the code: forgotten

    delivered: list[str] = []
    errors: list[str] = []
    violated = 0
    for assessment in assessments:
        key = assessment.asset_key.to_user_string()
        if assessment.verdict == "violated":
            violated += 1
            if key in state:
                continue
            payload = violation_payload(assessment)
            context.log.warning(f"freshness violation alert to {alerts.destination()}: {payload['reason']}")
            new_entry = {"overdue_since": payload["overdue_since"], "alerted_at": payload["evaluated_at"]}
        elif assessment.verdict == "fresh" and key in state:
            payload = recovery_payload(assessment, state[key].get("overdue_since"))
            context.log.info(f"freshness recovered alert to {alerts.destination()}: {payload['reason']}")
            new_entry = None
        else:
            continue
        try:
            alerts.post(payload)
        except AlertDeliveryError as error:
            context.log.error(f"{payload['kind']} alert for {key} not delivered: {error}")
            errors.append(f"{key}: {error}")
            continue
        delivered.append(f"{payload['kind']} {key}")
        if new_entry is None:
            state.pop(key, None)
        else:
            state[key] = new_entry

    if errors and not delivered:
        raise AlertDeliveryError(f"{len(errors)} freshness alert(s) not delivered; first: {errors[0]}")
    cursor = orjson.dumps(state, option=orjson.OPT_SORT_KEYS).decode()
    summary = (
        f"{len(assessments)} asset(s) with a freshness policy, {violated} violated, "
        f"{len(state)} alerted and still open; posted: {delivered or 'nothing new'}"
        + (f"; NOT delivered (retried next tick): {errors}" if errors else "")
    )
    return SensorResult(skip_reason=SkipReason(summary), cursor=cursor)


@sensor(
    name="freshness_alert_sensor",
    minimum_interval_seconds=60,
    default_status=DefaultSensorStatus.RUNNING,
    description="Posts freshness violations (once per violation) and recoveries of assets with a FreshnessPolicy "
    "to the alert webhook (MESH_ALERT_WEBHOOK_URL; only logged when unset).",
)
def freshness_alert_sensor(context: SensorEvaluationContext, alerts: AlertWebhookResource) -> SensorResult:
    """Assess freshness now (Dagster's clock, the one its freshness daemon uses) and alert on changes."""
    from dagster._time import get_current_datetime

    return evaluate_freshness_alerts(context, alerts, now=get_current_datetime())
