"""Freshness alert: violations and recoveries of assets with a ``FreshnessPolicy``, posted to the alert webhook.

Every asset with a policy (cron or time window) is assessed against its last materialization with the
semantics of Dagster's own freshness evaluators (:mod:`sensors.freshness_assessment`), so the alert agrees
with the asset's freshness in the UI. It alerts once per violation (the cursor holds the assets alerted and
since when) and posts ``freshness_recovered`` when the asset materializes again. Every payload carries
``kind``, the asset keys, the reason and ``text`` (a one-line summary that chat webhooks display).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from dagster import AssetKey, DefaultSensorStatus, SensorEvaluationContext, SensorResult, SkipReason, sensor

from resources.alerts import AlertDeliveryError, AlertWebhookResource
from sensors.alert_text import dagster_ui_url, human_duration, iso
from sensors.freshness_assessment import FreshnessAssessment, describe_policy, freshness_assessments


def utc_now() -> datetime:
    """The moment a tick assesses freshness at: the wall clock, as Dagster's freshness daemon reads it."""
    return datetime.now(UTC)


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
        "last_materialization": iso(assessment.last_materialization),
        "last_materialization_run_id": assessment.last_run_id,
    }


def violation_payload(assessment: FreshnessAssessment) -> dict[str, Any]:
    """What a freshness violation alert says: asset, policy, last materialization, deadline missed, how late."""
    key = assessment.asset_key.to_user_string()
    policy = describe_policy(assessment.policy)
    late = assessment.late_by or timedelta(0)
    last = iso(assessment.last_materialization)
    reason = (
        f"{key} is late by {human_duration(late.total_seconds())}: last materialized {last}, "
        f"due by {iso(assessment.overdue_since)} ({policy['description']})"
    )
    return {
        "kind": "freshness_violation",
        **_asset_fields(assessment, policy),
        "overdue_since": iso(assessment.overdue_since),
        "late_by_seconds": int(late.total_seconds()),
        "late_by": human_duration(late.total_seconds()),
        "evaluated_at": iso(assessment.now),
        "reason": reason,
        "dagster_url": _asset_link(assessment.asset_key),
        "text": f"Freshness violated: {reason}",
    }


def recovery_payload(assessment: FreshnessAssessment, violated_since: str | None) -> dict[str, Any]:
    """What a recovery says: the asset materialized again and meets its policy."""
    key = assessment.asset_key.to_user_string()
    policy = describe_policy(assessment.policy)
    last = iso(assessment.last_materialization)
    reason = f"{key} is fresh again: materialized {last} ({policy['description']}); overdue since {violated_since}"
    return {
        "kind": "freshness_recovered",
        **_asset_fields(assessment, policy),
        "violated_since": violated_since,
        "recovered_at": iso(assessment.now),
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
    """Assess freshness now (:func:`utc_now`) and alert on changes."""
    return evaluate_freshness_alerts(context, alerts, now=utc_now())
