"""A micro-batch of the trade stream: the rows, the offset ranges they cover, the outputs to deliver, figures.

The hot thread fills one batch (size- or time-bounded) and hands it to the commit writer, which delivers its
outputs (producer flush) and then has the commit process (:mod:`~trade_worker.commit_process`) commit
its rows and ranges to the hot table in one Iceberg commit with the ``mesh.stream.stats`` summary. Rows are kept
as their JSON (the very bytes published to ``trades.execution``): the commit process builds the Arrow table.
Ranges cover every consumed offset (valid events, invalid records and tombstones alike); rows are the valid
events only.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from mesh_assets.lib.cdc.records import OffsetRange
from trade_worker.alerts import ALERT_KINDS


@dataclass(slots=True)
class OutboundMessage:
    """One record for ``trades.execution`` or ``risk.alerts``, and the future of its send (None if unsent)."""

    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]]
    future: Any = None


@dataclass
class MicroBatch:
    """Rows, ranges and outputs accumulated since the batch opened."""

    topic: str
    opened_at: float = field(default_factory=time.monotonic)
    #: the enriched rows as JSON (``orjson.dumps`` of the row dict), in consumption order
    rows: list[bytes] = field(default_factory=list)
    #: each row's latency (ms), for the commit's stats
    latencies: list[float] = field(default_factory=list)
    #: partition -> [start, end) of the consumed offsets
    ranges: dict[int, list[int]] = field(default_factory=dict)
    messages: list[OutboundMessage] = field(default_factory=list)
    alerts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ALERT_KINDS, 0))
    records: int = 0
    invalid: int = 0
    tombstones: int = 0
    newest_produced_ms: int = 0

    def cover(self, partition: int, offset: int, expected: int) -> None:
        """Claim ``offset`` of ``partition``; the partition's range starts at ``expected`` (its position)."""
        span = self.ranges.get(partition)
        if span is None:
            self.ranges[partition] = [min(expected, offset), offset + 1]
        else:
            span[1] = offset + 1
        self.records += 1

    def offset_ranges(self) -> list[OffsetRange]:
        """The ranges this batch covers, in partition order."""
        return [OffsetRange(self.topic, p, start, end) for p, (start, end) in sorted(self.ranges.items())]

    def __len__(self) -> int:
        return self.records

    def age_s(self, now: float | None = None) -> float:
        """Seconds since the batch opened."""
        return (now if now is not None else time.monotonic()) - self.opened_at

    def latency(self) -> dict[str, float] | None:
        """p50, p99 and max of the rows' latency (ms), or ``None`` without rows."""
        return latency_figures(self.latencies)


def latency_figures(values: list[float]) -> dict[str, float] | None:
    """Nearest-rank p50, p99 and the max of ``values`` (``None`` when empty)."""
    if not values:
        return None
    ordered = sorted(values)
    n = len(ordered)

    def rank(q: float) -> float:
        return round(float(ordered[min(n - 1, max(0, int(q * n + 0.999999) - 1))]), 3)

    return {"p50": rank(0.50), "p99": rank(0.99), "max": round(float(ordered[-1]), 3)}


def stream_stats(*, worker_id: str, records: int, alerts: dict[str, int], latency: dict[str, float] | None,
                 breakers: dict[str, str], end_offsets: dict[int, int], positions: dict[int, int],
                 newest_produced_ms: int, committed_at_ms: int | None = None) -> dict[str, Any]:
    """The ``mesh.stream.stats`` JSON of a commit (or, with ``records`` 0 and no latency, of a heartbeat).

    ``lag_records`` sums, over partitions with a known log end, the end minus the committed position.
    """
    lag = sum(max(0, end - positions.get(p, 0)) for p, end in end_offsets.items())
    stats: dict[str, Any] = {
        "worker_id": worker_id, "records": records, "alerts": {k: int(alerts.get(k, 0)) for k in ALERT_KINDS},
        "breakers": dict(breakers), "end_offsets": {str(p): int(e) for p, e in sorted(end_offsets.items())},
        "lag_records": int(lag), "newest_produced_ms": int(newest_produced_ms),
        "committed_at_ms": int(committed_at_ms if committed_at_ms is not None else time.time() * 1000),
    }
    if latency is not None:
        stats["latency_ms"] = latency
    return stats
