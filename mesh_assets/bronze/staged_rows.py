"""Bronze rows written to a staged data file unit by unit, while the rest of the batch is still read.

The parser hands over each unit's rows as soon as they are parsed (:class:`~mesh_assets.lib.cdc.columnar.ColumnarParser`
``on_rows``); here they are converted to the bronze table's schema and written to a
:class:`~mesh_assets.lib.lakehouse.staged_file.StagedDataFile`, so that the commit only adds a finished file.
A unit carrying an additive field the table does not have yet stops the staging (the table's schema must
evolve first): the commit then appends the batch's rows as usual.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from mesh_assets.lib.lakehouse import tables
from mesh_assets.lib.lakehouse.staged_file import StagedDataFile

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.table import Table


def bronze_rows(
    rows: pa.Table, extra_columns: tuple[str, ...], spec: tables.TableSpec, batch_id: str, ingested_at: dt.datetime
) -> pa.Table:
    """Parsed CDC rows in the bronze table's schema: event time, audit columns, additive fields last (text)."""
    import pyarrow as pa

    n = rows.num_rows
    timestamp = tables.arrow_type("timestamp")
    derived = {
        "event_ts": rows["ts_us"].cast(pa.int64()).cast(timestamp),  # checked within years 1-9999 by the parser
        "ingested_at": pa.repeat(pa.scalar(ingested_at, timestamp), n),
        "batch_id": pa.repeat(pa.scalar(batch_id, pa.string()), n),
    }
    columns = [derived[f.name] if f.name in derived else rows[f.name].cast(f.type) for f in spec.schema]
    columns += [rows[name] for name in extra_columns]
    fields = [*spec.schema, *(pa.field(name, pa.string()) for name in extra_columns)]
    return pa.Table.from_arrays(columns, schema=pa.schema(fields))


class StagedBronzeRows:
    """Receives parsed units (``on_rows``) and writes them to one staged data file of the bronze table."""

    def __init__(
        self, load_table: Callable[[], Table], spec: tables.TableSpec, parsed_columns: list[str], batch_id: str,
        ingested_at: dt.datetime,
    ) -> None:  # fmt: skip
        """``parsed_columns``: the parser's own columns (any other column of a unit is an additive field)."""
        self.load_table = load_table
        self.spec = spec
        self.parsed_columns = set(parsed_columns)
        self.batch_id = batch_id
        self.ingested_at = ingested_at
        self.file: StagedDataFile | None = None
        self.stopped = False

    def __call__(self, rows: pa.Table) -> None:
        """Write one unit's rows (or stop staging at the first additive field)."""
        if self.stopped:
            return
        if self.file is None:
            table = self.load_table()
            if not table.metadata.spec().is_unpartitioned():
                self.stopped = True
                return
            self.file = StagedDataFile(table)
        extras = tuple(name for name in rows.column_names if name not in self.parsed_columns)
        if set(extras) - self.file.columns():
            self.stop()
            return
        self.file.write(bronze_rows(rows, extras, self.spec, self.batch_id, self.ingested_at))

    def stop(self) -> None:
        """Give up staging: the file is deleted and the commit appends the rows itself."""
        self.stopped = True
        if self.file is not None:
            self.file.discard()
            self.file = None

    def staged(self) -> StagedDataFile | None:
        """The staged file for the commit, or ``None`` when staging stopped or nothing was written."""
        return None if self.stopped else self.file
