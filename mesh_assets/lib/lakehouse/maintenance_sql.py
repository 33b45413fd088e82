"""The SQL each warehouse engine compacts an Iceberg table with (Trino in ``cluster``, Athena in ``aws``).

Snapshot expiry is not here on purpose: Trino's ``expire_snapshots`` and Athena's ``VACUUM`` expire by age
and count only, so they could expire a snapshot that carries committed source positions. Expiry goes
through pyiceberg on the shared catalog (:mod:`mesh_assets.lib.lakehouse.table_maintenance`) everywhere.
"""

from __future__ import annotations

import re

_GLUE_NAME = re.compile(r"[a-z_][a-z0-9_]*")

#: Engines that compact with SQL, and the one that compacts through pyiceberg (the embedded DuckDB cannot).
SQL_ENGINES = ("trino", "athena")


def quoted(name: str) -> str:
    """``name`` as a double-quoted SQL identifier (Trino and Athena DML)."""
    return '"' + name.replace('"', '""') + '"'


def table_reference(identifier: str, catalog: str | None = None) -> str:
    """``namespace.table`` (optionally under a SQL catalog) as quoted SQL."""
    namespace, _, table = identifier.rpartition(".")
    if not namespace:
        raise ValueError(f"table {identifier!r} has no namespace (expected namespace.table)")
    parts = [catalog, namespace, table] if catalog else [namespace, table]
    return ".".join(quoted(p) for p in parts)


def compaction_sql(engine: str, identifier: str, small_file_bytes: int, catalog: str | None = None) -> str:
    """The statement that bin-packs ``identifier``'s files smaller than ``small_file_bytes`` on ``engine``."""
    if small_file_bytes <= 0:
        raise ValueError(f"small_file_bytes must be positive, got {small_file_bytes}")
    if engine == "trino":
        megabytes = max(1, small_file_bytes // (1024 * 1024))
        return (f"ALTER TABLE {table_reference(identifier, catalog)} EXECUTE optimize"
                f"(file_size_threshold => '{megabytes}MB')")
    if engine == "athena":
        # Athena's OPTIMIZE takes its file-size threshold from the table properties (optimize_rewrite_*); Glue
        # names are lower-case words, written bare (Athena's DDL and DML quote differently)
        namespace, _, table = identifier.rpartition(".")
        for part in (namespace, table):
            if not _GLUE_NAME.fullmatch(part):
                raise ValueError(f"table {identifier!r}: {part!r} is not a Glue name (lower-case letters, digits, _)")
        return f"OPTIMIZE {namespace}.{table} REWRITE DATA USING BIN_PACK"
    raise ValueError(f"engine {engine!r} does not compact with SQL; expected one of {', '.join(SQL_ENGINES)}")
