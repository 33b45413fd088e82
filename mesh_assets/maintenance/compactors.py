"""Who compacts a table's small files in each environment: pyiceberg locally, the warehouse's SQL on Trino/Athena.

The maintenance asset only sees :class:`TableCompactor`. A new engine plugs in by giving the warehouse
resource a ``query(sql)`` and adding its statement to :mod:`mesh_assets.lib.lakehouse.maintenance_sql`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from mesh_assets.lib.lakehouse.maintenance_sql import SQL_ENGINES, compaction_sql
from mesh_assets.lib.lakehouse.table_maintenance import CompactionOutcome, compact_small_files, table_figures

if TYPE_CHECKING:
    from pyiceberg.table import Table



class TableCompactor(Protocol):
    """Bin-packs one table's small files; says what it did and, when nothing, why."""

    engine: str

    def compact(self, load_table: Callable[[], Table]) -> CompactionOutcome:
        """Compact the table ``load_table`` returns (freshly loaded on every call)."""
        ...


@dataclass(frozen=True)
class PyicebergCompactor:
    """Local: the table's rows rewritten by pyiceberg (the embedded DuckDB cannot write Iceberg)."""

    small_file_bytes: int
    min_small_files: int
    engine: str = "pyiceberg"

    def compact(self, load_table: Callable[[], Table]) -> CompactionOutcome:
        """Rewrite the table when it holds enough small files (one commit, or none after a conflict)."""
        return compact_small_files(load_table, self.small_file_bytes, self.min_small_files)


@dataclass(frozen=True)
class SqlCompactor:
    """Trino (``ALTER TABLE ... EXECUTE optimize``) or Athena (``OPTIMIZE ... REWRITE DATA USING BIN_PACK``)."""

    run_sql: Callable[[str], object]
    engine: str
    small_file_bytes: int
    min_small_files: int
    catalog: str | None = None

    def compact(self, load_table: Callable[[], Table]) -> CompactionOutcome:
        """Run the engine's bin-packing when the table holds enough small files (counted from its manifests)."""
        table = load_table()
        name = ".".join(table.name())
        before = table_figures(table, self.small_file_bytes)
        if before.small_files < self.min_small_files:
            return CompactionOutcome(name, False, before.data_files, before.data_files,
                                     f"{before.small_files} small files, fewer than {self.min_small_files}: "
                                     "left as they are")
        self.run_sql(compaction_sql(self.engine, name, self.small_file_bytes, self.catalog))
        after = table_figures(load_table(), self.small_file_bytes)
        changed = after.snapshot_id != before.snapshot_id
        reason = (f"{before.small_files} small files bin-packed by {self.engine}" if changed else
                  f"{self.engine} ran the bin-packing of {before.small_files} small files and committed nothing")
        return CompactionOutcome(name, changed, before.data_files, after.data_files, reason, after.snapshot_id)


def compactor_for(warehouse: object, small_file_bytes: int, min_small_files: int,
                  catalog_name: str | None = None) -> TableCompactor:
    """The compactor of the warehouse resource's engine: SQL on Trino and Athena, pyiceberg otherwise.

    On Trino, tables are named in the SQL catalog the warehouse resource names (``trino_catalog``), else in
    ``catalog_name`` (the Iceberg catalog's own name: the local Trino mounts the shared catalog under it).
    """
    engine = str(getattr(warehouse, "engine", "duckdb"))
    if engine in SQL_ENGINES:
        catalog = (getattr(warehouse, "trino_catalog", None) or catalog_name) if engine == "trino" else None
        return SqlCompactor(warehouse.query, engine, small_file_bytes, min_small_files, catalog)  # type: ignore[attr-defined]
    return PyicebergCompactor(small_file_bytes, min_small_files)
