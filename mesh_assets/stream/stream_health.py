"""Rules for the trade stream's health, judged from its committed progress: lag, alert rate, breakers.

Each returns a :class:`~mesh_assets.lib.quality.Verdict` that says why (figures, thresholds, samples), for
the companion sensor's check evaluations and the on-demand checks alike.
"""

from __future__ import annotations

from collections.abc import Mapping

from mesh_assets.lib.cdc.records import TopicPartition
from mesh_assets.lib.quality import Verdict
from mesh_assets.lib.trade_stream.progress import StreamProgress

#: The platform's promise: a trade is enriched and committed within 30 s of being produced.
LAG_LIMIT_S = 30.0
#: More alerts than this share of trades is unusual enough to look at (a WARN, not an outage).
ALERT_RATE_LIMIT = 0.05


def lag_verdict(progress: StreamProgress, end_offsets: Mapping[TopicPartition, int] | None, now_ms: int,
                limit_s: float = LAG_LIMIT_S) -> Verdict:
    """The stream is behind by less than ``limit_s`` seconds, and the worker has spoken within ``limit_s``.

    With records waiting (log end beyond the committed positions), the lag is the larger of the time since
    the worker last committed or beat and the age of the newest record at its last commit. Caught up,
    the lag is 0, but a worker silent for longer than the limit fails too: the next trade would wait.
    """
    last_seen = progress.last_seen_ms
    waiting = progress.lag_records(end_offsets)
    source = "broker end offsets" if end_offsets is not None else "the worker's last view of the end offsets"
    figures = {"records_waiting": waiting, "limit_s": limit_s, "end_offsets_from": source,
               "committed_positions": {f"{tp.topic}-{tp.partition}": o for tp, o in sorted(progress.positions.items())}}
    if last_seen is None:
        return Verdict(False, f"the trade-stream worker has never committed to {progress.table} "
                              f"({waiting} records waiting)", figures)
    silent_s = max(0.0, (now_ms - last_seen) / 1000)
    latest = progress.latest or {}
    data_age_s = 0.0
    if latest.get("newest_produced_ms") and latest.get("records"):
        data_age_s = max(0.0, (int(latest["committed_at_ms"]) - int(latest["newest_produced_ms"])) / 1000)
    lag_s = max(silent_s, data_age_s) if waiting else 0.0
    figures.update({"lag_s": round(lag_s, 3), "worker_silent_s": round(silent_s, 3),
                    "newest_record_age_at_commit_s": round(data_age_s, 3)})
    if waiting and lag_s > limit_s:
        return Verdict(False, f"stream lag {lag_s:.1f} s > {limit_s:.0f} s with {waiting} records waiting", figures)
    if silent_s > limit_s:
        return Verdict(False, f"the worker has not committed or beaten for {silent_s:.1f} s (> {limit_s:.0f} s); "
                              f"{waiting} records waiting", figures)
    return Verdict(True, f"stream lag {lag_s:.1f} s <= {limit_s:.0f} s ({waiting} records waiting, "
                         f"worker last heard {silent_s:.1f} s ago)", figures)


def alert_rate_verdict(progress: StreamProgress, limit: float = ALERT_RATE_LIMIT) -> Verdict:
    """Alerts per streamed trade, over the commits read, stay at or under ``limit`` (a WARN above it)."""
    records = progress.records
    alerts = progress.alerts
    raised = sum(alerts.values())
    rate = raised / records if records else 0.0
    figures = {"records": records, "alerts": raised, "alerts_by_kind": alerts, "rate": round(rate, 6),
               "limit": limit, "commits": len(progress.commits)}
    if not records:
        return Verdict(True, "no trades streamed since the last evaluation", figures, warn_only=True)
    if rate > limit:
        return Verdict(False, f"{raised} alerts for {records} trades ({rate:.2%} > {limit:.0%}): {alerts}", figures,
                       warn_only=True)
    return Verdict(True, f"{raised} alerts for {records} trades ({rate:.2%} <= {limit:.0%})", figures,
                   warn_only=True)


def breakers_verdict(progress: StreamProgress) -> Verdict:
    """Every circuit breaker of the worker (price lookup, producer) is closed in its latest word."""
    latest = progress.latest
    if latest is None:
        return Verdict(False, f"no breaker state: the worker has never committed to {progress.table}", {})
    breakers = dict(latest.get("breakers") or {})
    not_closed = {name: state for name, state in breakers.items() if state != "closed"}
    figures = {"breakers": breakers, "as_of_ms": latest.get("committed_at_ms")}
    if not breakers:
        return Verdict(False, "the worker reported no breaker state", figures)
    if not_closed:
        return Verdict(False, f"circuit breaker(s) not closed: {not_closed}", figures)
    return Verdict(True, f"all {len(breakers)} circuit breakers closed", figures)
