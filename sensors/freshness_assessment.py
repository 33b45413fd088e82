"""Freshness of an asset under its ``FreshnessPolicy`` at a given moment, as Dagster's evaluators decide.

Dagster's freshness daemon stores only a PASS/FAIL state and reads the wall clock; an alert needs the policy,
the last materialization and how late the asset is, so this module computes them (:func:`assess_freshness`,
``now`` injected). Cron deadlines come from Dagster's public ``TimeWindowPartitionsDefinition`` (the same
cron iteration, time zones and DST as its freshness evaluator) rather than its private schedule helpers. An
asset never materialized is UNKNOWN, as in Dagster.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from dagster import AssetKey, DagsterInstance, FreshnessPolicy, TimeWindowPartitionsDefinition

from sensors.alert_text import human_duration

FreshnessVerdict = Literal["fresh", "violated", "unknown"]

#: Partition keys carry the UTC offset so that a key maps back to one instant, even in a DST fold.
_TICK_FORMAT = "%Y-%m-%dT%H:%M:%S%z"


def _ticks(cron: str, timezone: str, start: datetime, now: datetime, end_offset: int) -> list[datetime]:
    windows = TimeWindowPartitionsDefinition(cron_schedule=cron, timezone=timezone, start=start, fmt=_TICK_FORMAT,
                                             end_offset=end_offset)
    return [datetime.strptime(key, _TICK_FORMAT) for key in windows.get_partition_keys(current_time=now)]


def latest_cron_tick(cron: str, timezone: str, now: datetime) -> datetime:
    """The latest tick of ``cron`` (in ``timezone``) at or before ``now``."""
    lookback = timedelta(hours=1)
    while True:  # widen the window until it holds a tick: a few steps even for a yearly cron
        ticks = [tick for tick in _ticks(cron, timezone, now - lookback, now, end_offset=1) if tick <= now]
        if ticks:
            return ticks[-1]
        lookback *= 2


def next_cron_tick(cron: str, timezone: str, moment: datetime) -> datetime:
    """The first tick of ``cron`` (in ``timezone``) strictly after ``moment``."""
    start = latest_cron_tick(cron, timezone, moment)
    return min(tick for tick in _ticks(cron, timezone, start, moment, end_offset=2) if tick > moment)


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


# The policy classes behind FreshnessPolicy.cron(...) and FreshnessPolicy.time_window(...) are not exported by
# dagster; their documented fields tell them apart.
def _is_cron(policy: FreshnessPolicy) -> bool:
    return hasattr(policy, "deadline_cron") and hasattr(policy, "lower_bound_delta")


def _is_time_window(policy: FreshnessPolicy) -> bool:
    return hasattr(policy, "fail_window")


def describe_policy(policy: FreshnessPolicy) -> dict[str, Any]:
    """The policy as JSON: its type, parameters and a sentence."""
    if _is_cron(policy):
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
    if _is_time_window(policy):
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
    if last_materialization is None:
        return "unknown", None
    if _is_time_window(policy):
        fail = policy.fail_window.to_timedelta()
        if now - last_materialization >= fail:
            return "violated", last_materialization + fail
        return "fresh", None
    if _is_cron(policy):
        deadline = latest_cron_tick(policy.deadline_cron, policy.timezone, now)
        if last_materialization >= deadline - policy.lower_bound_delta:
            return "fresh", None
        return "violated", next_cron_tick(policy.deadline_cron, policy.timezone,
                                          last_materialization + policy.lower_bound_delta)
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


