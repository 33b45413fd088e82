"""Parse CDC record chunks straight into Arrow columns: no Python object per valid record.

The values of a unit of chunks (about :data:`UNIT_RECORDS` records) are joined into one JSON-lines
buffer, each line ``{"v": <value>}``, parsed by ``pyarrow.json`` against the topic contract and
validated with ``pyarrow.compute``. A record takes this vectorized path only when the result is
provably the one :func:`mesh_assets.lib.cdc.envelope.parse_batch` gives; every other record (malformed
JSON, contract violation, delete or update with a ``before`` image, additive field, a JSON literal
the two parsers read differently) goes through ``parse_batch`` itself, so its row or its dead letter
(reason code, reason naming ``topic/partition@offset``) is exactly the per-record one.

Guards that keep the two paths identical:

* one line per value: a value holding ``\\n`` or ``\\r`` goes per record; wrapping each value in
  ``{"v": ...}`` makes an empty value, two values on one line or trailing bytes a parse error;
* ``NaN``/``Infinity`` (Arrow accepts them, JSON does not), invalid UTF-8 and ``\\uD8xx``-style
  surrogate escapes go per record;
* decimals are read by Arrow from the number's text; one whose digits exceed the contract's precision
  (Arrow checks only the scale) goes per record; a JsonConverter wrapper has no top-level ``op`` and
  goes per record, like ops ``d``, ``t`` and ``m``;
* the event time must come from the envelope (``ts_us``, else ``ts_ns``, else ``ts_ms``), not negative
  and within year 9999;
* a unit Arrow cannot parse (bad JSON, a type that differs from the contract, duplicate keys) is
  split in halves until the parsable halves are found; pieces of :data:`MIN_SPLIT` records or fewer
  go per record;
* dates must be ``YYYY-MM-DD`` and survive a round trip; doubles equal to ``-0.0`` go per record
  (orjson reads ``-0`` as the integer 0).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mesh_assets.lib.cdc.columnar_guards import arrow_rows, event_time_us, iso_dates, key_text, suspicious
from mesh_assets.lib.cdc.columnar_schema import json_lines, json_schema, rows_schema, with_columns
from mesh_assets.lib.cdc.contracts import ALLOWED_VALUES, TopicContract
from mesh_assets.lib.cdc.envelope import DeadLetter, Skip, parse_batch, value_skip_kind
from mesh_assets.lib.cdc.records import RecordChunk, SourceRecord

if TYPE_CHECKING:
    import pyarrow as pa

#: Records parsed together as one JSON buffer: a larger unit amortizes the per-call cost of Arrow, a
#: smaller one stays in cache and leaves less to parse after the last chunk arrives (8K: least CPU).
UNIT_RECORDS = 8_192
#: The first unit of a batch is this small, and units double up to :data:`UNIT_RECORDS`: the parser starts
#: as soon as the first records arrive instead of waiting for a full unit (~0.1 s at the start of a 100K read,
#: with nothing else to do) at the price of a few more Arrow calls.
FIRST_UNIT_RECORDS = 1_024
#: A failing piece of this many records or fewer is parsed record by record instead of split again.
MIN_SPLIT = 64
#: Ops the vectorized path takes (a delete needs its ``before`` image, kept as JSON text: per record).
VECTOR_OPS = ("c", "u", "r")


@dataclass
class ColumnarBatch:
    """Parsed rows of one batch as an Arrow table, with dead letters and counts.

    ``rows`` holds :func:`rows_schema` columns then the additive fields (JSON text, sorted by name),
    in (topic, partition, offset) order, like :class:`mesh_assets.lib.cdc.envelope.ParsedBatch` (unless
    :meth:`ColumnarParser.finish` was asked not to sort them).
    """

    contract: TopicContract
    rows: pa.Table
    dead_letters: list[DeadLetter] = field(default_factory=list)
    skips: list[Skip] = field(default_factory=list)
    extra_columns: tuple[str, ...] = ()
    max_ts_ms: int | None = None
    vectorized_records: int = 0
    per_record_records: int = 0

    @property
    def row_count(self) -> int:
        """Number of valid rows."""
        return self.rows.num_rows

    @property
    def tombstones(self) -> int:
        """Number of tombstones (records with a key and no value)."""
        return sum(1 for s in self.skips if s.kind == "tombstone")


@dataclass
class _Unit:
    """Flat columns of the non-tombstone records of a unit."""

    topics: list[str]
    partitions: list[int]
    offsets: list[int]
    timestamps_ms: list[int]
    keys: list[bytes | None]
    values: list[bytes]

    def record(self, i: int) -> SourceRecord:
        return SourceRecord(self.topics[i], self.partitions[i], self.offsets[i], self.timestamps_ms[i],
                            self.keys[i], self.values[i])  # fmt: skip


class ColumnarParser:
    """Parses chunks as they arrive (e.g. while the next ones are read); :meth:`finish` returns the batch."""

    def __init__(
        self, contract: TopicContract, unit_records: int = UNIT_RECORDS,
        on_rows: Callable[[pa.Table], None] | None = None, first_unit_records: int = FIRST_UNIT_RECORDS,
    ) -> None:
        """``on_rows`` (optional) receives the rows of each unit as soon as it is parsed (e.g. to write them
        while the next chunks are read); :meth:`finish` still returns all of them, sorted. Units start at
        ``first_unit_records`` records and double up to ``unit_records``."""
        self.contract = contract
        self.on_rows = on_rows
        self.unit_records = unit_records
        self._next_unit = max(1, min(first_unit_records, unit_records))
        self._pending: list[RecordChunk] = []
        self._pending_records = 0
        self._tables: list[pa.Table] = []
        self._dead: list[DeadLetter] = []
        self._skips: list[Skip] = []
        self._vectorized = 0
        self._per_record = 0
        self._json_schema = json_schema(contract)
        self._rows_schema = rows_schema(contract)

    def add(self, chunk: RecordChunk) -> None:
        """Take one chunk; a full unit is parsed at once."""
        if not len(chunk):
            return
        self._pending.append(chunk)
        self._pending_records += len(chunk)
        if self._pending_records >= self._next_unit:
            self._next_unit = min(self.unit_records, self._next_unit * 2)
            self._flush()

    def finish(self, ordered: bool = True) -> ColumnarBatch:
        """Parse what is pending and return the batch, rows in (topic, partition, offset) order.

        ``ordered=False`` keeps the rows in the order they were parsed (unit by unit, one Arrow chunk
        each) and saves sorting and copying the whole batch, for a caller to whom row order means nothing
        (an Iceberg append: a table has no row order).
        """
        import pyarrow as pa
        import pyarrow.compute as pc

        self._flush()
        extras = sorted({name for t in self._tables for name in t.column_names} - set(self._rows_schema.names))
        schema = pa.schema([*self._rows_schema, *(pa.field(name, pa.string()) for name in extras)])
        tables = [with_columns(t, schema) for t in self._tables if t.num_rows]
        rows = pa.concat_tables(tables) if tables else schema.empty_table()
        if ordered and (len(tables) > 1 or self._per_record):
            order = pc.sort_indices(rows, sort_keys=[("source_topic", "ascending"),
                                                     ("source_partition", "ascending"),
                                                     ("source_offset", "ascending")])  # fmt: skip
            rows = rows.take(order).combine_chunks()
        self._dead.sort(key=lambda d: (d.record.topic, d.record.partition, d.record.offset))
        self._skips.sort(key=lambda d: (d.record.topic, d.record.partition, d.record.offset))
        max_ts = pc.max(rows["ts_ms"]).as_py() if rows.num_rows else None
        return ColumnarBatch(self.contract, rows, self._dead, self._skips, tuple(extras), max_ts,
                             self._vectorized, self._per_record)  # fmt: skip

    # -- one unit --------------------------------------------------------------------------------

    def _flush(self) -> None:
        parsed_before = len(self._tables)
        self._parse_pending()
        if self.on_rows is not None:
            for table in self._tables[parsed_before:]:
                if table.num_rows:
                    self.on_rows(table)

    def _parse_pending(self) -> None:
        if not self._pending:
            return
        unit = self._gather(self._pending)
        self._pending = []
        self._pending_records = 0
        if not unit.values:
            return
        buffer = json_lines(unit.values)
        odd = suspicious(buffer, unit.values)
        per_record: list[int] = []
        if odd:
            per_record += sorted(odd)
            self._parse_pieces(unit, [i for i in range(len(unit.values)) if i not in odd], per_record)
        else:
            self._parse_pieces(unit, list(range(len(unit.values))), per_record, buffer)
        if per_record:
            self._parse_per_record(unit, sorted(per_record))

    def _gather(self, chunks: Sequence[RecordChunk]) -> _Unit:
        unit = _Unit([], [], [], [], [], [])
        for chunk in chunks:
            n = len(chunk)
            if None in chunk.values:
                keep = [i for i, value in enumerate(chunk.values) if value is not None]
                for i, value in enumerate(chunk.values):
                    if value is None:
                        record = chunk.record(i)
                        self._skips.append(Skip(record, value_skip_kind(record) or "tombstone"))
                n = len(keep)
                unit.offsets += [chunk.offsets[i] for i in keep]
                unit.timestamps_ms += [chunk.timestamps_ms[i] for i in keep]
                unit.keys += [chunk.keys[i] for i in keep]
                unit.values += [chunk.values[i] for i in keep]  # type: ignore[misc]
            else:
                unit.offsets += chunk.offsets
                unit.timestamps_ms += chunk.timestamps_ms
                unit.keys += chunk.keys
                unit.values += chunk.values  # type: ignore[arg-type]
            unit.topics += [chunk.topic] * n
            unit.partitions += [chunk.partition] * n
        return unit

    def _parse_pieces(
        self, unit: _Unit, indices: list[int], per_record: list[int], buffer: bytes | None = None
    ) -> None:
        """Parse ``indices`` of the unit vectorized (``buffer``: their JSON lines), halving pieces Arrow rejects."""
        stack = [indices]
        while stack:
            piece = stack.pop()
            if not piece:
                continue
            if buffer is None:
                buffer = json_lines([unit.values[i] for i in piece])
            parsed = self._read_json(buffer, len(piece))
            buffer = None
            if parsed is not None:
                self._validate(unit, piece, parsed, per_record)
            elif len(piece) <= MIN_SPLIT:
                per_record.extend(piece)
            else:
                middle = len(piece) // 2
                stack += [piece[middle:], piece[:middle]]

    def _read_json(self, buffer: bytes, count: int) -> Any:
        """The ``v`` struct array of ``count`` JSON lines, or ``None`` when Arrow rejects the buffer."""
        import pyarrow as pa
        import pyarrow.json as pj

        try:
            table = pj.read_json(
                io.BytesIO(buffer),
                read_options=pj.ReadOptions(use_threads=False, block_size=max(1 << 20, len(buffer) + 1)),
                parse_options=pj.ParseOptions(explicit_schema=self._json_schema, unexpected_field_behavior="infer"),
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None
        if table.num_rows != count:
            return None
        return table.column("v").combine_chunks()

    def _validate(self, unit: _Unit, piece: list[int], envelope: Any, per_record: list[int]) -> None:
        """Keep the rows every check passes; send the others to the per-record path."""
        import pyarrow as pa
        import pyarrow.compute as pc

        contract = self.contract
        n = len(piece)

        def child(parent: Any, name: str) -> Any:
            return pc.struct_field(parent, name)

        op = child(envelope, "op")
        source = child(envelope, "source")
        after = child(envelope, "after")
        table_name = child(source, "table")
        ts_us, ts_ok = event_time_us(child(envelope, "ts_us"), child(envelope, "ts_ns"), child(envelope, "ts_ms"))
        checks = [
            envelope.is_valid(),
            pc.is_in(op, value_set=pa.array(VECTOR_OPS)),
            ts_ok,
            source.is_valid(),
            child(source, "lsn").is_valid(),
            pc.or_kleene(table_name.is_null(), pc.equal(table_name, contract.table)),
            child(envelope, "before").is_null(),
            after.is_valid(),
        ]
        values: dict[str, Any] = {}
        for spec in contract.fields:
            column = child(after, spec.name)
            present = column.is_valid()
            if spec.required:
                checks.append(present)
            allowed = ALLOWED_VALUES.get((contract.topic, spec.name))
            if allowed is not None:
                checks.append(pc.or_kleene(pc.invert(present), pc.is_in(column, value_set=pa.array(sorted(allowed)))))
            if spec.type == "date":
                column, exact = iso_dates(column)
                checks.append(pc.or_kleene(pc.invert(present), exact))
            elif spec.type == "decimal":  # Arrow checks the scale, not the precision
                limit = Decimal(10) ** (spec.precision - spec.scale)
                low, high = pc.min_max(column).values()
                if low.is_valid and not -limit < low.as_py() <= high.as_py() < limit:  # rows to find: one by one
                    bound = pa.scalar(limit, pa.decimal128(spec.precision + 1, 0))
                    checks.append(pc.or_kleene(pc.invert(present), pc.less(pc.abs(column), bound)))
            values[spec.name] = column
        known = set(contract.field_names)
        for extra in after.type:
            if extra.name not in known:
                checks.append(child(after, extra.name).is_null())
        ok = checks[0]
        for check in checks[1:]:
            ok = pc.and_kleene(ok, check)
        ok = pc.fill_null(ok, False)
        good = pc.sum(ok).as_py() or 0
        if good < n:
            mask = ok.to_numpy(zero_copy_only=False)
            per_record.extend(i for i, keep in zip(piece, mask, strict=True) if not keep)
        if not good:
            return
        if n == len(unit.values):  # the whole unit (the common case): no gather
            topics, partitions, offsets, timestamps, keys = (unit.topics, unit.partitions, unit.offsets,
                                                              unit.timestamps_ms, unit.keys)  # fmt: skip
        else:
            topics, partitions, offsets, timestamps, keys = (
                [column[i] for i in piece]
                for column in (unit.topics, unit.partitions, unit.offsets, unit.timestamps_ms, unit.keys)
            )
        columns = [
            pa.array(topics, pa.string()),
            pa.array(partitions, pa.int32()),
            pa.array(offsets, pa.int64()),
            pa.array(timestamps, pa.int64()),
            key_text(keys),
            op,
            pc.divide(ts_us, 1000),
            child(source, "lsn"),
            child(source, "txId"),
            pa.nulls(n, pa.string()),
            ts_us,
            *(values[f.name] for f in contract.fields),
        ]
        table = pa.Table.from_arrays(columns, schema=self._rows_schema)
        if good < n:
            table = table.filter(ok)
        self._tables.append(table)
        self._vectorized += good

    def _parse_per_record(self, unit: _Unit, indices: list[int]) -> None:
        """The records the vectorized path does not take, through the per-record parser."""

        records = [unit.record(i) for i in indices]
        batch = parse_batch(records, self.contract)
        self._per_record += len(indices)
        self._dead += batch.dead_letters
        self._skips += batch.skips
        if not batch.row_count:
            return
        self._tables += arrow_rows(batch, self._rows_schema, self._dead, records)


def parse_chunks(chunks: Iterable[RecordChunk], contract: TopicContract) -> ColumnarBatch:
    """Parse chunks of one topic into an Arrow batch; invalid records become dead letters.

    Same rows, dead letters (and reasons) and tombstone count as
    :func:`mesh_assets.lib.cdc.envelope.parse_batch` on the same records with the same contract.
    """
    parser = ColumnarParser(contract)
    for chunk in chunks:
        parser.add(chunk)
    return parser.finish()
