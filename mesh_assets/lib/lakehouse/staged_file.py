"""A Parquet data file written piece by piece while its rows are still being read, committed later.

``Transaction.append`` writes the whole data file inside the commit, after the last row is known:
for a 100K-record CDC batch that is ~0.25 s during which nothing is read. A staged file takes the
rows of each parsed unit as it comes (the reader keeps reading meanwhile) and at the end only its
footer is written; the commit then adds the finished file to a snapshot (a fast append of one data
file, the same manifest entry ``append`` would write: same field ids, same column statistics).

A staged file fits only the table it was opened for: same schema, same unpartitioned spec. The
writer falls back to a plain append from the rows it holds when it does not fit (the schema
evolved, part of the range was committed meanwhile); an unused staged file is deleted. A crash
before the commit leaves an unreferenced file, like a crash inside ``append`` would.

It uses pyiceberg's own Parquet writer and schema projection (``pyiceberg.io.pyarrow``, 0.12), with one
change: dictionary encoding only for the columns that repeat (:func:`dictionary_columns`, decided on the
first rows written). pyarrow's default tries a dictionary for every column and falls back for unique ones
(trade ids, record keys, offsets): for CDC bronze rows that made the write ~40% slower and the file ~40%
larger than dictionaries for the repeating columns only.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.manifest import DataFile
    from pyiceberg.table import Table


#: A column whose first rows hold at most this share of distinct values is dictionary-encoded.
DICTIONARY_MAX_DISTINCT_SHARE = 0.5


def dictionary_columns(rows: pa.Table) -> list[str]:
    """Columns of ``rows`` worth a Parquet dictionary: distinct non-null values at most
    :data:`DICTIONARY_MAX_DISTINCT_SHARE` of the non-null ones (an all-null column counts as repeating).
    A column Arrow cannot count distinct values of (nested types) is written plain."""
    import pyarrow as pa
    import pyarrow.compute as pc

    chosen = []
    for name, column in zip(rows.column_names, rows.columns, strict=True):
        present = len(column) - column.null_count
        try:
            repeating = present == 0 or pc.count_distinct(column).as_py() <= DICTIONARY_MAX_DISTINCT_SHARE * present
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid, pa.ArrowTypeError):
            repeating = False
        if repeating:
            chosen.append(name)
    return chosen


class StagedDataFile:
    """One data file of an unpartitioned Iceberg table, filled by :meth:`write`, finished by :meth:`close`."""

    def __init__(self, table: Table) -> None:
        from pyiceberg.io.pyarrow import ParquetFormatModel
        from pyiceberg.table.locations import load_location_provider

        metadata = table.metadata
        if not metadata.spec().is_unpartitioned():
            raise ValueError(f"{'.'.join(table.name())}: a staged data file needs an unpartitioned table")
        self.table_name = ".".join(table.name())
        self.metadata = metadata
        self.schema = metadata.schema()
        self.io = table.io
        provider = load_location_provider(table_location=metadata.location, table_properties=metadata.properties)
        self.path = provider.new_data_location(data_file_name=f"00000-0-{uuid.uuid4()}.parquet")
        self._output = self.io.new_output(self.path)
        self._format = ParquetFormatModel()
        self._writer = self._format.create_writer(self._output, self.schema, metadata.properties)
        self.rows = 0
        self._target = self.schema.as_arrow()
        #: the file's Arrow schema (field ids) when projecting rows cast to the table's types only relabels
        #: their columns: later writes then skip pyiceberg's per-batch projection (same file, ~0.2 us a row less)
        self._relabel: pa.Schema | None = None
        #: the columns written with a dictionary (``None``: pyarrow's default, every column)
        self.dictionary_columns: list[str] | None = None
        self._data_file: DataFile | None = None

    def write(self, rows: pa.Table) -> None:
        """Append ``rows`` to the file: columns named as the table's (those missing are null), types Arrow casts."""
        import pyarrow as pa
        from pyiceberg.io.pyarrow import _to_requested_schema, pyarrow_to_schema

        if self._data_file is not None:
            raise RuntimeError(f"{self.path}: the staged file is closed")
        if not rows.num_rows:
            return
        target = self._target
        unknown = sorted(set(rows.column_names) - set(target.names))
        if unknown:
            raise ValueError(f"{self.table_name}: rows carry columns {unknown} that the table does not have")
        columns = [rows[f.name].cast(f.type) if f.name in rows.column_names else pa.nulls(rows.num_rows, f.type)
                   for f in target]  # fmt: skip
        if self._relabel is not None:
            projected = pa.Table.from_arrays(columns, schema=self._relabel)
        else:
            rows = pa.Table.from_arrays(columns, schema=target)
            file_schema = pyarrow_to_schema(rows.schema, name_mapping=self.schema.name_mapping)
            batches = [
                _to_requested_schema(self.schema, file_schema, batch, include_field_ids=True, format_model=self._format)
                for batch in rows.to_batches()
            ]
            projected = pa.Table.from_batches(batches)
            if [f.type for f in projected.schema] == [f.type for f in target] and all(
                projected.column(i).chunks == rows.column(i).chunks for i in range(len(target))
            ):  # the projection only named the columns: the same schema fits every later write
                self._relabel = projected.schema
        if not self.rows:
            self._choose_dictionaries(projected)
        self._writer.write(projected)
        self.rows += projected.num_rows

    def _choose_dictionaries(self, first_rows: pa.Table) -> None:
        """Dictionary-encode only the repeating columns of the file (before its Parquet writer opens). Left
        at pyarrow's default (all columns) if this pyiceberg's writer keeps its options elsewhere."""
        options = getattr(self._writer, "_parquet_writer_kwargs", None)
        if isinstance(options, dict) and getattr(self._writer, "_writer", None) is None:
            self.dictionary_columns = dictionary_columns(first_rows)
            self._writer._parquet_writer_kwargs = {**options, "use_dictionary": self.dictionary_columns}

    def close(self) -> DataFile | None:
        """Write the footer; return the data file's manifest entry (``None``: no row was written)."""
        if self._data_file is not None or not self.rows:
            return self._data_file
        from pyiceberg.manifest import DataFile, DataFileContent, FileFormat
        from pyiceberg.typedef import Record

        with self._writer:
            pass  # leaving the block closes the writer and keeps its statistics
        statistics = self._writer.result()
        self._data_file = DataFile.from_args(
            content=DataFileContent.DATA, file_path=self.path, file_format=FileFormat.PARQUET, partition=Record(),
            file_size_in_bytes=len(self._output), sort_order_id=None, spec_id=self.metadata.default_spec_id,
            equality_ids=None, key_metadata=None, **statistics.to_serialized_dict(),
        )  # fmt: skip
        return self._data_file

    def columns(self) -> set[str]:
        """The table's column names."""
        return set(self.schema.column_names)

    def fits(self, table: Table) -> bool:
        """True when the file can be added to ``table`` as it is now (same schema and spec as when staged)."""
        metadata = table.metadata
        return (
            metadata.current_schema_id == self.metadata.current_schema_id
            and metadata.default_spec_id == self.metadata.default_spec_id
            and metadata.spec().is_unpartitioned()
        )

    def discard(self) -> None:
        """Delete the file (best effort): it was not committed and never will be."""
        with contextlib.suppress(Exception):
            if self._data_file is None and self.rows:
                self._writer.close()
        with contextlib.suppress(Exception):
            self.io.delete(self.path)


def add_staged_file(transaction: Any, data_file: DataFile, snapshot_properties: dict[str, str]) -> None:
    """Add a finished staged file to ``transaction`` as one fast-append snapshot with ``snapshot_properties``."""
    with transaction.update_snapshot(snapshot_properties=snapshot_properties).fast_append() as append:
        append.append_data_file(data_file)
