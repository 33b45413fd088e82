"""The reference book's warehouse in cluster: Trino through the ``trino`` client (no Dagster resource in the worker)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from trade_worker.reference_source import MissingRelationError

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class TrinoWarehouse:
    """Runs the reference SQL on Trino in ``catalog`` (where dbt's silver and gold live); a relation the batch never
    built is :class:`~trade_worker.reference_source.MissingRelationError`."""

    host: str
    port: int
    catalog: str
    user: str

    def __call__(self, sql: str) -> pa.Table:
        """Rows of ``sql`` as Arrow, columns named as Trino names them."""
        import pyarrow as pa
        import trino
        from trino.exceptions import TrinoUserError

        try:
            with trino.dbapi.connect(host=self.host, port=self.port, user=self.user, catalog=self.catalog) as conn:
                cursor = conn.cursor()
                cursor.execute(sql)
                rows = cursor.fetchall()
                names = [column[0] for column in cursor.description or []]
        except TrinoUserError as exc:
            if exc.error_name in ("TABLE_NOT_FOUND", "SCHEMA_NOT_FOUND"):
                raise MissingRelationError(f"{self.catalog}: {exc.message}") from exc
            raise
        return pa.table({name: [row[index] for row in rows] for index, name in enumerate(names)})
