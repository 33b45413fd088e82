"""Parse and validate Debezium CDC records against their topic contract, one record at a time.

Every record ends in exactly one outcome (nothing else can happen to it, and no record raises):

* a **row** (ops ``c``/``u``/``r``/``d``, and ``t``: a truncate is a row with an empty image, which
  silver applies to every earlier row of its table);
* a **dead letter** (:class:`DeadLetter`): reason code and a reason naming the record's position, the
  field and the rule broken (values only as a masked excerpt, :func:`mesh_assets.lib.cdc.values.excerpt`);
* a **skip** (:class:`Skip`), recorded with its kind: ``tombstone`` (a key and no value, following a
  delete), ``empty`` (neither key nor value: a header-only record), ``message`` (Debezium ``op: m``,
  a logical decoding message that changes no row), ``null_payload`` (a JsonConverter wrapper with a
  null payload).

Bare envelopes and Kafka Connect JsonConverter ``{"schema", "payload"}`` wrappers are both read
(:mod:`mesh_assets.lib.cdc.debezium_forms`); values in every encoding (:mod:`mesh_assets.lib.cdc.values`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from mesh_assets.lib.cdc import values as v
from mesh_assets.lib.cdc.contracts import ALLOWED_VALUES, CONTRACTS, TopicContract
from mesh_assets.lib.cdc.debezium_forms import FieldSchemas, decode, unwrap
from mesh_assets.lib.cdc.records import SourceRecord

#: Ops that change rows (``t``: truncate, a row with an empty image).
VALID_OPS = frozenset({"c", "u", "d", "r"})
ROW_OPS = VALID_OPS | {"t"}
#: Ops that change no row and are recorded as skips.
SKIP_OPS = {"m": "message"}

#: Envelope columns that precede the contract fields in every parsed row (``ts_us``: the event time
#: in microseconds, from ``ts_us``/``ts_ns``/``ts_ms``; ``ts_ms`` is it in milliseconds).
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
    "ts_us",
)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that did not make it into bronze, with the reason why."""

    record: SourceRecord
    reason_code: str
    reason: str


@dataclass(frozen=True, slots=True)
class Skip:
    """A record that deliberately carries no row (``kind``: tombstone, empty, message, null_payload)."""

    record: SourceRecord
    kind: str


#: Names an additive field may not take: they are the bronze table's own columns.
RESERVED_COLUMNS = frozenset({*ENVELOPE_COLUMNS, "event_ts", "ingested_at", "batch_id"})


@dataclass
class ParsedBatch:
    """Rows (column lists in contract order), dead letters and skips of one batch.

    ``extra_columns`` holds additive fields that are not in the contract (schema evolution), as the
    JSON text of each value, ``None`` where a row lacks the field.
    """

    contract: TopicContract
    columns: dict[str, list[Any]]
    dead_letters: list[DeadLetter] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    extra_columns: dict[str, list[str | None]] = field(default_factory=dict)
    max_ts_ms: int | None = None

    @property
    def row_count(self) -> int:
        """Number of valid rows."""
        return len(self.columns["source_offset"])

    @property
    def tombstones(self) -> int:
        """Number of tombstones (records with a key and no value)."""
        return sum(1 for s in self.skips if s.kind == "tombstone")


def value_skip_kind(record: SourceRecord) -> str | None:
    """The skip kind of a record with no value (``tombstone`` or ``empty``), else ``None``."""
    if record.value is not None:
        return None
    return "tombstone" if record.key is not None else "empty"


def _fragment(value: Any) -> Any:
    if isinstance(value, Decimal):
        return orjson.Fragment(str(value))
    raise TypeError


def json_text(name: str, value: Any) -> str:
    """A decoded JSON value as sorted JSON text (numbers as sent); raises :class:`~values.Rejected`."""
    if isinstance(value, str):
        return v.to_string(name, value, None)
    try:
        return orjson.dumps(value, default=_fragment, option=orjson.OPT_SORT_KEYS).decode()
    except (orjson.JSONEncodeError, TypeError) as exc:
        code = "out_of_range" if "64-bit" in str(exc) else "invalid_text"
        raise v.Rejected(code, f"field '{name}' cannot be kept as JSON text: {str(exc)[:60]}") from None


def _convert(contract: TopicContract, spec_name: str, kind: str, value: Any, allowed: frozenset[str] | None,
             schemas: FieldSchemas, precision: int, scale: int) -> Any:  # fmt: skip
    logical, parameters = schemas.get(spec_name, (None, None))
    if kind == "string":
        return v.to_string(spec_name, value, allowed)
    if kind == "int":
        return v.to_int64(spec_name, value)
    if kind == "decimal":
        return v.to_decimal(spec_name, value, precision, scale, logical, parameters)
    return v.to_date(spec_name, value, logical)


def _lsn(source: dict) -> int:
    lsn = source.get("lsn")
    if lsn is None:
        raise v.Rejected("invalid_envelope", "field 'source.lsn' is missing")
    return v.to_int64("source.lsn", lsn, "an int64 log sequence number")


def parse_one(record: SourceRecord, contract: TopicContract) -> tuple[list[Any], list[Any], dict[str, Any]] | Skip:
    """One record with a value: (envelope values, contract values, additive fields), or a :class:`Skip`.

    Raises :class:`~mesh_assets.lib.cdc.values.Rejected` for a record that must be a dead letter.
    """
    decoded = decode(record.value)  # type: ignore[arg-type]
    envelope, schemas = unwrap(decoded)
    if envelope is None and decoded is not envelope:
        return Skip(record, "null_payload")
    if not isinstance(envelope, dict):
        raise v.Rejected("invalid_envelope", f"value is {v.excerpt(envelope)}, not an envelope object")
    op = envelope.get("op")
    if op in SKIP_OPS:
        return Skip(record, SKIP_OPS[op])
    if op not in ROW_OPS:
        raise v.Rejected("unknown_op", f"field 'op' must be one of c/u/d/r/t/m: got {v.excerpt(op, True)}")
    source = envelope.get("source")
    if not isinstance(source, dict):
        raise v.Rejected("invalid_envelope", f"field 'source' must be an object: got {v.excerpt(source)}")
    ts_us = v.event_time_us(envelope, source)
    lsn = _lsn(source)
    tx_id = v.to_tx_id(source.get("txId"))
    table = source.get("table")
    if table not in (None, contract.table):
        raise v.Rejected("wrong_table",
                         f"field 'source.table' must be '{contract.table}': got {v.excerpt(table, True)}")
    before = envelope.get("before")
    before_json = json_text("before", before) if before is not None else None
    key = record.key.decode("utf-8", "replace") if record.key is not None else None
    head = [record.topic, record.partition, record.offset, record.timestamp_ms, key, op, ts_us // 1000, lsn, tx_id,
            before_json, ts_us]  # fmt: skip
    if op == "t":
        return head, [None] * len(contract.fields), {}
    image_name = "before" if op == "d" else "after"
    image = envelope.get(image_name)
    if not isinstance(image, dict):
        raise v.Rejected("missing_image", f"op '{op}' needs a '{image_name}' row image: got {v.excerpt(image)}")
    row = []
    for spec in contract.fields:
        value = image.get(spec.name)
        if value is None:
            if spec.required:
                raise v.Rejected("missing_required_field", f"missing required field '{spec.name}' in {image_name}")
            row.append(None)
            continue
        row.append(_convert(contract, spec.name, spec.type, value, ALLOWED_VALUES.get((contract.topic, spec.name)),
                            schemas, spec.precision, spec.scale))  # fmt: skip
    known = contract.field_names
    extras = {k: val for k, val in image.items() if k not in known and val is not None}
    reserved = sorted(k for k in extras if k in RESERVED_COLUMNS)
    if reserved:
        raise v.Rejected("reserved_field", f"field(s) {reserved} in {image_name} clash with bronze columns")
    return head, row, {name: json_text(name, val) for name, val in extras.items()}


def parse_batch(records: Iterable[SourceRecord], contract: TopicContract | None = None) -> ParsedBatch:
    """Parse records of one topic into column lists; each record is a row, a dead letter or a skip.

    ``contract`` defaults to the contract registered for the records' topic; a record from a topic
    with no contract is itself a dead letter.
    """
    columns: dict[str, list[Any]] = {}
    dead: list[DeadLetter] = []
    skips: list[Skip] = []
    env_cols: list[list[Any]] = [[] for _ in ENVELOPE_COLUMNS]
    field_cols: list[list[Any]] | None = None
    extra_cols: dict[str, list[str | None]] = {}
    rows = 0
    for record in records:
        record_contract = contract or CONTRACTS.get(record.topic)
        if record_contract is None:
            dead.append(DeadLetter(record, "unknown_topic", f"{record.position()}: no contract for topic"))
            continue
        if field_cols is None:
            contract = record_contract
            field_cols = [[] for _ in contract.fields]
        kind = value_skip_kind(record)
        if kind is not None:
            skips.append(Skip(record, kind))
            continue
        try:
            outcome = parse_one(record, record_contract)
        except v.Rejected as rejected:
            dead.append(DeadLetter(record, rejected.code, f"{record.position()}: {rejected.reason}"))
            continue
        if isinstance(outcome, Skip):
            skips.append(outcome)
            continue
        envelope_values, values, extras = outcome
        for col, value in zip(env_cols, envelope_values, strict=True):
            col.append(value)
        for col, value in zip(field_cols, values, strict=True):
            col.append(value)
        if extras or extra_cols:
            for name in extras.keys() - extra_cols.keys():
                extra_cols[name] = [None] * rows
            for name, col in extra_cols.items():
                col.append(extras.get(name))
        rows += 1
    if contract is None:
        raise ValueError("parse_batch needs a contract when the batch holds no record of a known topic")
    columns.update(zip(ENVELOPE_COLUMNS, env_cols, strict=True))
    columns.update(zip(contract.field_names, field_cols or [[] for _ in contract.fields], strict=True))
    return ParsedBatch(contract, columns, dead, skips, dict(sorted(extra_cols.items())),
                       max(columns["ts_ms"]) if columns["ts_ms"] else None)  # fmt: skip
