"""Guards of the vectorized CDC parser (:mod:`mesh_assets.lib.cdc.columnar`): what it must not take, and the
conversions it shares with the per-record path, so that both give the same row or dead letter."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from mesh_assets.lib.cdc.envelope import DeadLetter, ParsedBatch
from mesh_assets.lib.cdc.records import SourceRecord
from mesh_assets.lib.cdc.values import MAX_US

if TYPE_CHECKING:
    import pyarrow as pa

_DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def arrow_rows(
    batch: ParsedBatch, schema: pa.Schema, dead: list[DeadLetter], records: Sequence[SourceRecord]
) -> list[pa.Table]:
    """The rows of a per-record batch as Arrow tables of ``schema`` (additive fields as text).

    The parser converted every value to its column's type; should Arrow still refuse a row, that row
    (found by converting the rows one by one) becomes a dead letter ``unconvertible`` in ``dead``,
    never the batch's exception."""
    import pyarrow as pa

    def build(rows: list[int] | None) -> pa.Table:
        def pick(values: list) -> list:
            return values if rows is None else [values[i] for i in rows]

        columns = {f.name: pa.array(pick(batch.columns[f.name]), f.type) for f in schema}
        for name, texts in batch.extra_columns.items():
            columns[name] = pa.array(pick(texts), pa.string())
        return pa.table(columns)

    try:
        return [build(None)]
    except (pa.ArrowException, OverflowError, ValueError, TypeError, UnicodeError):
        pass
    good: list[int] = []
    for i in range(batch.row_count):
        try:
            build([i])
        except (pa.ArrowException, OverflowError, ValueError, TypeError, UnicodeError) as exc:
            position = (batch.columns["source_partition"][i], batch.columns["source_offset"][i])
            record = next(r for r in records if (r.partition, r.offset) == position)
            dead.append(DeadLetter(record, "unconvertible", f"{record.position()}: a value does not fit its "
                                                            f"column ({type(exc).__name__})"))
        else:
            good.append(i)
    return [build(good)] if good else []


def event_time_us(us: pa.Array, ns: pa.Array, ms: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(event time in microseconds, ok): the envelope's ``ts_us``, else ``ts_ns``, else ``ts_ms``, as the
    per-record parser picks it; ``ok`` only where the chosen one is not negative and within year 9999."""
    import pyarrow as pa
    import pyarrow.compute as pc

    def within(values: pa.Array, high: int) -> pa.Array:
        return pc.and_(pc.greater_equal(values, 0), pc.less_equal(values, high))

    ok_ms = within(ms, MAX_US // 1000)
    if us.null_count == len(us) and ns.null_count == len(ns):  # Debezium 1.x: ts_ms only
        return pc.multiply(ms, 1000), ok_ms  # ok_ms false where the product could overflow
    ok_us = within(us, MAX_US)
    ok_ns = within(ns, 2**63 - 1)
    ok = pc.if_else(us.is_valid(), ok_us, pc.if_else(ns.is_valid(), ok_ns, ok_ms))
    none = pa.scalar(None, pa.int64())
    chosen = pc.coalesce(
        pc.if_else(pc.fill_null(ok_us, False), us, none),
        pc.divide(pc.if_else(pc.fill_null(ok_ns, False), ns, none), 1000),
        pc.multiply(pc.if_else(pc.fill_null(ok_ms, False), ms, none), 1000),
    )
    return chosen, ok


def suspicious(joined: bytes, values: list[bytes]) -> set[int]:
    """Values the vectorized path must not take: line breaks, ``NaN``/``Infinity``, invalid UTF-8.

    ``joined`` is :func:`mesh_assets.lib.cdc.columnar_schema.json_lines` of ``values`` (the wrapper adds none of these).
    """
    out: set[int] = set()
    if joined.count(b"\n") != len(values) - 1 or b"\r" in joined:
        out |= {i for i, v in enumerate(values) if b"\n" in v or b"\r" in v}
    if (b"N" in joined and b"NaN" in joined) or (b"I" in joined and b"Infinity" in joined):  # memchr first
        out |= {i for i, v in enumerate(values) if b"NaN" in v or b"Infinity" in v}
    if b"\\" in joined:  # a one-byte search (memchr): escapes are rare in CDC values
        out |= {i for i, v in enumerate(values) if _SURROGATE_ESCAPE.search(v)}
    if not joined.isascii():
        try:
            joined.decode("utf-8")
        except UnicodeDecodeError:
            out |= {i for i, v in enumerate(values) if not is_utf8(v)}
    return out


def iso_dates(text: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(dates, exact): ``exact`` is true where the text is a date ``YYYY-MM-DD`` that
    ``datetime.date.fromisoformat`` reads as the same date (year 0000 does not exist there)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    shape = pc.and_(pc.match_substring_regex(text, _DATE_PATTERN), pc.invert(pc.starts_with(text, "0000")))
    try:
        return text.cast(pa.date32()), shape  # strict: every non-null text is a valid calendar date
    except pa.ArrowInvalid:
        dates = pc.strptime(text, format="%Y-%m-%d", unit="s", error_is_null=True).cast(pa.date32())
        return dates, pc.and_(shape, pc.equal(dates.cast(pa.string()), text))  # 02-30 would read as 03-02


def is_utf8(value: bytes) -> bool:
    try:
        value.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def key_text(keys: list[bytes | None]) -> pa.Array:
    """Record keys as text; invalid UTF-8 is replaced, as the per-record path does."""
    import pyarrow as pa

    try:
        return pa.array(keys, pa.binary()).cast(pa.string())
    except pa.ArrowInvalid:
        return pa.array([k.decode("utf-8", "replace") if k is not None else None for k in keys], pa.string())
