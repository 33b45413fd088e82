"""Read-only SQL against an embedded warehouse file (DuckDB) from the tests."""

from pathlib import Path

import duckdb


def query(warehouse: Path, sql: str) -> list[tuple]:
    """Rows of ``sql`` from the DuckDB file ``warehouse``, opened read-only."""
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        return connection.execute(sql).fetchall()
