"""The reference book's warehouse in aws: Athena through ``pyathena`` (no Dagster resource in the worker).

pyathena's default cursor pages ``GetQueryResults`` and types each value from Athena's column metadata, so the
worker needs only the Athena permissions its task role already has (no read of the results bucket).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from trade_worker.reference_source import MissingRelationError

if TYPE_CHECKING:
    import pyarrow as pa


@dataclass(frozen=True)
class AthenaWarehouse:
    """Runs the reference SQL in an Athena workgroup; a relation the batch never built is
    :class:`~trade_worker.reference_source.MissingRelationError`."""

    work_group: str
    region: str | None = None
    endpoint_url: str | None = None

    def __call__(self, sql: str) -> pa.Table:
        """Rows of ``sql`` as Arrow, columns named as Athena names them."""
        import pyarrow as pa
        from pyathena import connect
        from pyathena.error import DatabaseError

        extra = {"endpoint_url": self.endpoint_url} if self.endpoint_url else {}
        try:
            with connect(work_group=self.work_group, region_name=self.region, **extra) as connection:
                cursor = connection.cursor()
                cursor.execute(sql)
                names = [column[0] for column in cursor.description or []]
                rows = cursor.fetchall()
        except DatabaseError as exc:
            if "TABLE_NOT_FOUND" in str(exc) or "does not exist" in str(exc):
                raise MissingRelationError(str(exc)) from exc
            raise
        return pa.table({name: [row[index] for row in rows] for index, name in enumerate(names)})
