"""The Kafka capture of the Aladdin database: Debezium change events, one topic per table.

Capture order is the commit order of the source database (LSN, strictly increasing across both
tables); a transaction's changes are contiguous. The log opens with the initial snapshot (op ``r``,
cash_flows table first, then trades), then streams. Each record goes to partition
``crc32(portfolio_id) % partitions``, so one portfolio's changes stay in order; offsets count from 0
per partition. A delete is followed by its tombstone (same key, null value, next offset). Poison
records are slipped in between transactions, and some records carry a ``ts_ms`` earlier than their
predecessor's in the partition: offsets and LSNs are the truth, timestamps are not.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import orjson

from mesh_dev.firm.booking_errors import BookingLog
from mesh_dev.firm.change_events import CASH_FLOWS, TRADES, ChangeTx, RowKey
from mesh_dev.firm.history_window import HistoryWindow
from mesh_dev.firm.malformed_records import KINDS, TRUNCATE_AT, malformed_change, malformed_value
from mesh_dev.firm.randomness import DrawStream
from mesh_dev.firm.scales import FirmScale

TOPICS = {TRADES: "aladdin.trades", CASH_FLOWS: "aladdin.cash_flows"}
SNAPSHOT_TABLE_ORDER = (CASH_FLOWS, TRADES)
SNAPSHOT_START_MS = 23 * 3_600_000  # 23:00 UTC on the first trading day
CONNECTOR = "aladdin"
DATABASE = "aladdin"
FIRST_LSN = 2_400_000_000
FIRST_TX_ID = 88_000
MAX_SKEW_MS = 120_000
NEAR_PREDECESSOR_MS = 6 * 3_600_000
MAX_SOURCE_LAG_MS = 250


class _Record:
    __slots__ = (
        "after", "before", "cut", "kind", "lag", "lsn", "offset", "op", "partition", "previous", "row",
        "snapshot", "tombstone", "ts_ms", "tx_id", "tx_key",
    )  # fmt: skip

    def __init__(
        self,
        row: RowKey,
        op: str,
        before: dict | None,
        after: dict | None,
        ts_ms: int,
        tx_key: tuple[str, int],
        snapshot: bool = False,
        tombstone: bool = False,
        kind: str | None = None,
        cut: float = 0.0,
    ) -> None:
        self.row = row
        self.op = op
        self.before = before
        self.after = after
        self.ts_ms = ts_ms
        self.tx_key = tx_key
        self.snapshot = snapshot
        self.tombstone = tombstone
        self.kind = kind
        self.cut = cut
        self.lag = 0
        self.lsn = 0
        self.tx_id = 0
        self.partition = 0
        self.offset = 0
        self.previous: _Record | None = None


@dataclass(frozen=True)
class Capture:
    """The captured records in capture order, and where the capture's edge cases sit."""

    records: list[_Record]
    out_of_order_ts: list[dict]
    malformed_records: list[dict]
    tombstones: list[dict]

    def count(self, table: str) -> int:
        """How many Kafka records the topic of ``table`` holds."""
        return sum(1 for r in self.records if r.row.table == table)

    def lines(self, table: str) -> Iterator[bytes]:
        """The topic of ``table`` as JSON lines (without line ends), in capture order."""
        return (_serialize(r) for r in self.records if r.row.table == table)


def partition_for(portfolio_id: str, partitions: int) -> int:
    """The Kafka partition of a portfolio's changes."""
    return zlib.crc32(portfolio_id.encode()) % partitions


def capture_changes(
    log: BookingLog,
    window: HistoryWindow,
    scale: FirmScale,
    rng: np.random.Generator,
    poison_rng: np.random.Generator,
) -> Capture:
    """Order, number and partition the source changes as the Kafka topics hold them (``Capture.lines``
    serializes them)."""
    draws = DrawStream(rng)
    poison_draws = DrawStream(poison_rng)
    snapshot = [tx for tx in log.transactions if tx.snapshot]
    streaming = sorted((tx for tx in log.transactions if not tx.snapshot), key=lambda tx: (tx.ts_ms, tx.seq))
    records = _snapshot_records(snapshot, window)
    records += _streaming_records(streaming, records[-1].ts_ms if records else 0, scale, poison_rng, poison_draws)
    _number(records, scale.kafka_partitions, rng)
    _skew_timestamps(records, scale, rng, draws)
    return Capture(
        records=records,
        out_of_order_ts=[_position(r) for r in records if r.previous is not None and r.ts_ms < r.previous.ts_ms],
        malformed_records=[{**_position(r), "kind": r.kind} for r in records if r.kind is not None],
        tombstones=[_position(r) for r in records if r.tombstone],
    )


def _position(record: _Record) -> dict:
    return {"topic": TOPICS[record.row.table], "partition": record.partition, "offset": record.offset}


def _snapshot_records(snapshot: list[ChangeTx], window: HistoryWindow) -> list[_Record]:
    ordered = sorted(snapshot, key=lambda tx: (tx.ts_ms, tx.seq))
    ts = window.day_ms(0) + SNAPSHOT_START_MS
    records = []
    for table in SNAPSHOT_TABLE_ORDER:
        for tx in ordered:
            for change in tx.changes:
                if change.row.table == table:
                    records.append(_Record(change.row, "r", None, change.after, ts, ("tx", tx.seq), snapshot=True))
                    ts += 1
    return records


def _streaming_records(
    streaming: list[ChangeTx],
    last_ts: int,
    scale: FirmScale,
    poison_rng: np.random.Generator,
    poison_draws: DrawStream,
) -> list[_Record]:
    plan: dict[int, list[tuple[str, str]]] = {}
    for table in (TRADES, CASH_FLOWS):
        for kind in KINDS:
            for position in poison_rng.integers(0, len(streaming), size=scale.malformed_per_kind).tolist():
                plan.setdefault(position, []).append((table, kind))
    latest: dict[str, tuple[RowKey, dict]] = {}
    pending: list[tuple[str, str]] = []
    records: list[_Record] = []
    for index, tx in enumerate(streaming):
        ts = max(tx.ts_ms, last_ts + 1)
        for change in tx.changes:
            if change.tombstone:
                tombstone = _Record(change.row, "d", None, None, records[-1].ts_ms, ("tx", tx.seq), tombstone=True)
                records.append(tombstone)
                continue
            records.append(_Record(change.row, change.op, change.before, change.after, ts, ("tx", tx.seq)))
            latest[change.row.table] = (change.row, change.after if change.after is not None else change.before)
            last_ts = ts
            ts += 1
        pending += plan.get(index, [])
        waiting = []
        for table, kind in pending:
            if table not in latest:
                waiting.append((table, kind))
                continue
            row, image = latest[table]
            last_ts += 1
            op, before, after = malformed_change(kind, table, dict(image), poison_draws)
            cut = poison_draws.uniform(*TRUNCATE_AT)
            records.append(_Record(row, op, before, after, last_ts, ("poison", len(records)), kind=kind, cut=cut))
        pending = waiting
    if pending:
        raise RuntimeError(f"no rows to hang {len(pending)} malformed records on")
    return records


def _number(records: list[_Record], partitions: int, rng: np.random.Generator) -> None:
    """Give out partitions, offsets, LSNs, transaction ids and row numbers in capture order."""
    lsn_steps = rng.integers(8, 400, size=len(records)).tolist()
    lags = rng.integers(1, MAX_SOURCE_LAG_MS, size=len(records)).tolist()
    next_offset: dict[tuple[str, int], int] = {}
    last_in_partition: dict[tuple[str, int], _Record] = {}
    tx_ids: dict[tuple[str, int], int] = {}
    row_numbers = {TRADES: 0, CASH_FLOWS: 0}
    lsn = FIRST_LSN
    for record, step, lag in zip(records, lsn_steps, lags, strict=True):
        record.lag = lag
        row = record.row
        if row.number is None:
            row_numbers[row.table] += 1
            row.number = row_numbers[row.table]
        slot = (row.table, partition_for(row.portfolio_id, partitions))
        record.partition = slot[1]
        record.offset = next_offset.get(slot, 0)
        next_offset[slot] = record.offset + 1
        record.previous = last_in_partition.get(slot)
        last_in_partition[slot] = record
        if record.tombstone:
            continue
        lsn += step
        record.lsn = lsn
        if record.tx_key not in tx_ids:
            tx_ids[record.tx_key] = FIRST_TX_ID + len(tx_ids)
        record.tx_id = tx_ids[record.tx_key]


def _skew_timestamps(records: list[_Record], scale: FirmScale, rng: np.random.Generator, draws: DrawStream) -> None:
    """Stamp some streamed inserts/updates up to two minutes before their predecessor in the partition.

    Records whose predecessor was captured shortly before them are preferred, so a skewed timestamp
    stays close to the record's real time.
    """
    for table in (TRADES, CASH_FLOWS):
        in_topic = [(i, r) for i, r in enumerate(records) if r.row.table == table]
        eligible = [
            (i, r)
            for i, r in in_topic
            if not r.snapshot and r.kind is None and r.op in ("c", "u") and r.previous is not None
        ]
        near = [i for i, r in eligible if r.previous is not None and r.ts_ms - r.previous.ts_ms <= NEAR_PREDECESSOR_MS]
        count = max(scale.min_out_of_order_per_topic, round(scale.out_of_order_share * len(in_topic)))
        pool = near if len(near) >= count else [i for i, _ in eligible]
        for i in sorted(rng.choice(pool, size=min(count, len(pool)), replace=False).tolist()):
            record = records[i]
            assert record.previous is not None
            record.ts_ms = record.previous.ts_ms - draws.integer(1, MAX_SKEW_MS)


def _serialize(record: _Record) -> bytes:
    row = record.row
    value: str | None = None
    if not record.tombstone:
        envelope = {
            "before": None if record.before is None else row.image(record.before),
            "after": None if record.after is None else row.image(record.after),
            "op": record.op,
            "ts_ms": record.ts_ms,
            "source": {
                "connector": CONNECTOR,
                "db": DATABASE,
                "table": row.table,
                "lsn": record.lsn,
                "txId": record.tx_id,
                "ts_ms": record.ts_ms - record.lag,
            },
        }
        if record.kind is None:
            value = orjson.dumps(envelope, option=orjson.OPT_SORT_KEYS).decode()
        else:
            value = malformed_value(record.kind, envelope, record.cut)
    message = {
        "topic": TOPICS[row.table],
        "partition": record.partition,
        "offset": record.offset,
        "timestamp_ms": record.ts_ms,
        "key": orjson.dumps(row.key(), option=orjson.OPT_SORT_KEYS).decode(),
        "value": value,
    }
    return orjson.dumps(message, option=orjson.OPT_SORT_KEYS)
