"""Parse and validate Debezium-envelope CDC records against their topic contract.

A record that cannot be parsed or fails its contract becomes a :class:`DeadLetter` with a reason
that names the record's position; the batch always continues. Tombstones (``value`` is ``None``,
following a delete) carry no row and are only counted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from mesh_assets.cdc.contracts import ALLOWED_VALUES, CONTRACTS, TopicContract
from mesh_assets.cdc.records import SourceRecord

VALID_OPS = frozenset({"c", "u", "d", "r"})

#: Envelope columns that precede the contract fields in every parsed row.
ENVELOPE_COLUMNS = (
    "source_topic",
    "source_partition",
    "source_offset",
    "source_timestamp_ms",
    "record_key",
    "op",
    "ts_ms",
    "lsn",
    "tx_id",
    "before_json",
)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that did not make it into bronze, with the reason why."""

    record: SourceRecord
    reason_code: str
    reason: str


#: Names an additive field may not take: they are the bronze table's own columns.
RESERVED_COLUMNS = frozenset({*ENVELOPE_COLUMNS, "event_ts", "ingested_at", "batch_id"})


@dataclass
class ParsedBatch:
    """Rows (column lists in contract order), dead letters and the tombstone count of one batch.

    ``extra_columns`` holds additive fields that are not in the contract (schema evolution), as the
    JSON text of each value, ``None`` where a row lacks the field.
    """

    contract: TopicContract
    columns: dict[str, list[Any]]
    dead_letters: list[DeadLetter] = field(default_factory=list)
    tombstones: int = 0
    extra_columns: dict[str, list[str | None]] = field(default_factory=dict)
    max_ts_ms: int | None = None

    @property
    def row_count(self) -> int:
        """Number of valid rows."""
        return len(self.columns["source_offset"])


class _Rejected(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def _check_value(topic: str, spec_name: str, spec_type: str, value: Any) -> Any:
    """Return the value converted to its contract type, or raise :class:`_Rejected`."""
    if spec_type == "string":
        if isinstance(value, str):
            allowed = ALLOWED_VALUES.get((topic, spec_name))
            if allowed is not None and value not in allowed:
                raise _Rejected("invalid_value", f"field '{spec_name}' is {value!r}, not one of {sorted(allowed)}")
            return value
    elif spec_type == "double":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif spec_type == "int":
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif spec_type == "date" and isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    raise _Rejected(
        "wrong_type", f"field '{spec_name}' expected {spec_type}, got {type(value).__name__} {value!r:.40}"
    )


_Plan = tuple[frozenset[str], tuple[tuple[str, str, frozenset[str] | None], ...]]
_PLANS: dict[str, _Plan] = {}


def _plan(contract: TopicContract) -> _Plan:
    """The contract's field set and (name, type, allowed values) per field, built once per topic."""
    plan = _PLANS.get(contract.topic)
    if plan is None:
        plan = (frozenset(contract.field_names),
                tuple((f.name, f.type, ALLOWED_VALUES.get((contract.topic, f.name))) for f in contract.fields))
        _PLANS[contract.topic] = plan
    return plan


def _envelope_values(record: SourceRecord, envelope: dict, op: str, ts_ms: int, source: dict) -> list[Any]:
    before = envelope.get("before")
    tx_id = source.get("txId")
    return [
        record.topic,
        record.partition,
        record.offset,
        record.timestamp_ms,
        record.key.decode("utf-8", "replace") if record.key is not None else None,
        op,
        ts_ms,
        source["lsn"],
        tx_id if isinstance(tx_id, int) else None,
        orjson.dumps(before, option=orjson.OPT_SORT_KEYS).decode() if before is not None else None,
    ]


def _fast_path(record: SourceRecord, envelope: Any, contract: TopicContract) -> tuple[list[Any], list[Any]] | None:
    """The common case, checked inline: a well-formed envelope whose image has exactly the contract's
    fields with their types. Anything else returns ``None`` and goes through :func:`_parse_one`,
    which gives the same result for valid records and names the problem for invalid ones."""
    if type(envelope) is not dict:
        return None
    op = envelope.get("op")
    ts_ms = envelope.get("ts_ms")
    source = envelope.get("source")
    if op not in VALID_OPS or type(ts_ms) is not int or type(source) is not dict or type(source.get("lsn")) is not int:
        return None
    if source.get("table") not in (None, contract.table):
        return None
    image = envelope.get("before" if op == "d" else "after")
    field_set, specs = _plan(contract)
    if type(image) is not dict or image.keys() != field_set:
        return None
    values = []
    for name, kind, allowed in specs:
        value = image[name]
        kind_of = type(value)
        if kind == "string":
            if kind_of is not str or (allowed is not None and value not in allowed):
                return None
        elif kind == "double":
            if kind_of is not float and kind_of is not int:
                return None
            value = float(value)
        elif kind == "int":
            if kind_of is not int:
                return None
        elif kind == "date":
            if kind_of is not str:
                return None
            try:
                value = dt.date.fromisoformat(value)
            except ValueError:
                return None
        values.append(value)
    return _envelope_values(record, envelope, op, ts_ms, source), values


def _decode(record: SourceRecord) -> Any:
    try:
        return orjson.loads(record.value)  # type: ignore[arg-type]
    except orjson.JSONDecodeError as exc:
        raise _Rejected("invalid_json", f"value is not valid JSON ({exc})") from None


def _parse_one(
    record: SourceRecord, contract: TopicContract, envelope: Any
) -> tuple[list[Any], list[Any], dict[str, Any]]:
    """Validate one decoded record; return (envelope values, contract values, additive fields)."""
    if not isinstance(envelope, dict):
        raise _Rejected("invalid_envelope", f"value is a JSON {type(envelope).__name__}, not an object")
    op = envelope.get("op")
    if op not in VALID_OPS:
        raise _Rejected("unknown_op", f"op is {op!r}, not one of c/u/d/r")
    ts_ms = envelope.get("ts_ms")
    source = envelope.get("source")
    if not isinstance(ts_ms, int) or isinstance(ts_ms, bool):
        raise _Rejected("invalid_envelope", f"ts_ms is {ts_ms!r}, not an integer")
    if not isinstance(source, dict) or not isinstance(source.get("lsn"), int):
        raise _Rejected("invalid_envelope", "source.lsn is missing or not an integer")
    if source.get("table") not in (None, contract.table):
        raise _Rejected("wrong_table", f"source.table is {source.get('table')!r}, topic carries '{contract.table}'")
    image_name = "before" if op == "d" else "after"
    image = envelope.get(image_name)
    if not isinstance(image, dict):
        raise _Rejected("missing_image", f"op '{op}' needs a '{image_name}' row image, got {image!r:.40}")
    values = []
    for spec in contract.fields:
        value = image.get(spec.name)
        if value is None:
            if spec.required:
                raise _Rejected("missing_required_field", f"missing required field '{spec.name}' in {image_name}")
            values.append(None)
            continue
        values.append(_check_value(contract.topic, spec.name, spec.type, value))
    known = contract.field_names
    extras = {k: v for k, v in image.items() if k not in known and v is not None}
    reserved = sorted(k for k in extras if k in RESERVED_COLUMNS)
    if reserved:
        raise _Rejected("reserved_field", f"field(s) {reserved} in {image_name} clash with bronze columns")
    return _envelope_values(record, envelope, op, ts_ms, source), values, extras


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def parse_batch(records: Iterable[SourceRecord], contract: TopicContract | None = None) -> ParsedBatch:
    """Parse records of one topic into column lists; invalid ones become dead letters.

    ``contract`` defaults to the contract registered for the records' topic; a record from a topic
    with no contract is itself a dead letter.
    """
    columns: dict[str, list[Any]] = {}
    batch: ParsedBatch | None = None
    dead: list[DeadLetter] = []
    tombstones = 0
    env_cols: list[list[Any]] = [[] for _ in ENVELOPE_COLUMNS]
    field_cols: list[list[Any]] = []
    extra_cols: dict[str, list[str | None]] = {}
    rows = 0
    for record in records:
        record_contract = contract or CONTRACTS.get(record.topic)
        if record_contract is None:
            dead.append(DeadLetter(record, "unknown_topic", f"{record.position()}: no contract for topic"))
            continue
        if batch is None:
            contract = record_contract
            field_cols = [[] for _ in contract.fields]
            batch = ParsedBatch(contract, columns)
        if record.value is None:
            tombstones += 1
            continue
        try:
            envelope = _decode(record)
            fast = _fast_path(record, envelope, record_contract)
            if fast is not None:
                envelope_values, values = fast
                extras = {}
            else:
                envelope_values, values, extras = _parse_one(record, record_contract, envelope)
        except _Rejected as rejected:
            dead.append(DeadLetter(record, rejected.code, f"{record.position()}: {rejected.reason}"))
            continue
        for col, value in zip(env_cols, envelope_values, strict=True):
            col.append(value)
        for col, value in zip(field_cols, values, strict=True):
            col.append(value)
        if extras or extra_cols:
            for name in extras.keys() - extra_cols.keys():
                extra_cols[name] = [None] * rows
            for name, col in extra_cols.items():
                value = extras.get(name)
                col.append(None if value is None else _json_text(value))
        rows += 1
    if contract is None:
        raise ValueError("parse_batch needs a contract when the batch holds no record of a known topic")
    if batch is None:
        field_cols = [[] for _ in contract.fields]
        batch = ParsedBatch(contract, columns)
    columns.update(zip(ENVELOPE_COLUMNS, env_cols, strict=True))
    columns.update(zip(contract.field_names, field_cols, strict=True))
    batch.dead_letters = dead
    batch.tombstones = tombstones
    batch.extra_columns = dict(sorted(extra_cols.items()))
    batch.max_ts_ms = max(columns["ts_ms"]) if columns["ts_ms"] else None
    return batch
