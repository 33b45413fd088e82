"""The outbox: a topic as a JSON-lines file, the embedded stand-in for a broker (``.data/outbox/<topic>.jsonl``).

One line per record, compact JSON with sorted keys::

    {"event_id": "<uuid>", "key": "P-0004", "offset": 17, "timestamp_ms": 1786400000000, "value": {<event>}}

The outbox has one partition (0); a record's offset is its line number (from 0). Appends are atomic and
idempotent: under an exclusive lock on ``<topic>.jsonl.lock`` the file's torn tail (a line cut by a crash)
is dropped, events whose id is already in the file are skipped, and the new lines go out in one
``write`` followed by ``fsync``. A relay (or a later move to a broker) can produce the lines in order.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

from mesh_assets.lib.cdc.records import SourceRecord
from mesh_assets.lib.distribution.events import DistributionEvent, canonical_json
from mesh_assets.lib.distribution.ledger import Delivery

PARTITION = 0


class OutboxError(RuntimeError):
    """An outbox file that cannot be read as records; the message names the file and line."""


def outbox_path(root: Path | str, topic: str) -> Path:
    """The outbox file of ``topic`` under ``root``."""
    return Path(root) / f"{topic}.jsonl"


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "a+b") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock.fileno(), fcntl.LOCK_UN)


def _complete_lines(path: Path) -> list[bytes]:
    """The file's complete lines (a last line without its newline is a torn write and not counted)."""
    if not path.is_file():
        return []
    data = path.read_bytes()
    return data[: data.rfind(b"\n") + 1].splitlines()


def _line(path: Path, number: int, line: bytes) -> dict:
    try:
        record = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OutboxError(f"{path}:{number + 1}: not a JSON line ({exc})") from None
    if not isinstance(record, dict) or not {"event_id", "key", "value"} <= set(record):
        raise OutboxError(f"{path}:{number + 1}: not an outbox record (needs event_id, key, value)")
    return record


def _drop_torn_tail(path: Path) -> None:
    if not path.is_file():
        return
    with open(path, "r+b") as handle:
        data = handle.read()
        keep = data.rfind(b"\n") + 1
        if keep != len(data):
            handle.truncate(keep)
            handle.flush()
            os.fsync(handle.fileno())


def append_unique(path: Path, events: Sequence[DistributionEvent], timestamp_ms: int) -> list[Delivery]:
    """Append the events whose id the outbox does not hold yet; one :class:`Delivery` per event, in order.

    Events already there (or repeated in ``events``) are reported with their existing offset and
    ``created=False``.
    """
    with _locked(path):
        _drop_torn_tail(path)
        existing = _complete_lines(path)
        held: dict[str, int] = {}
        for number, line in enumerate(existing):
            held.setdefault(_line(path, number, line)["event_id"], number)
        offset = len(existing)
        lines, deliveries = [], []
        for event in events:
            if event.event_id in held:
                deliveries.append(Delivery(event.event_id, event.portfolio_id, PARTITION, held[event.event_id], False))
                continue
            held[event.event_id] = offset
            lines.append(canonical_json({"event_id": event.event_id, "key": event.portfolio_id, "offset": offset,
                                         "timestamp_ms": timestamp_ms, "value": event.document}) + b"\n")
            deliveries.append(Delivery(event.event_id, event.portfolio_id, PARTITION, offset, True))
            offset += 1
        if lines:
            descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(descriptor, b"".join(lines))
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        return deliveries


def end_offsets(path: Path) -> dict[int, int]:
    """``{0: number of complete records}``: the next offset of the outbox's one partition."""
    return {PARTITION: len(_complete_lines(path))}


def read_records(path: Path, topic: str, starts: Mapping[int, int] | None = None) -> list[SourceRecord]:
    """The outbox's records from ``starts[0]`` (default: the first) as Kafka-shaped records of ``topic``."""
    first = int((starts or {}).get(PARTITION, 0))
    records = []
    for number, line in enumerate(_complete_lines(path)):
        if number < first:
            continue
        record = _line(path, number, line)
        records.append(SourceRecord(topic, PARTITION, number, int(record.get("timestamp_ms") or 0),
                                    str(record["key"]).encode("utf-8"), canonical_json(record["value"])))
    return records
