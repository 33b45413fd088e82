"""Ad-hoc SQL over the lakehouse: DuckDB locally, Athena (dagster-aws) in aws."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from dagster import ConfigurableResource
from pydantic import Field

if TYPE_CHECKING:
    import pyarrow as pa


class WarehouseResource(ConfigurableResource):
    """Runs SQL where the lakehouse is queried: an embedded DuckDB file, or Athena."""

    engine: str = Field(description="'duckdb' (local) or 'athena' (aws)")
    duckdb_path: str | None = Field(default=None, description="DuckDB database file (local)")
    athena_workgroup: str | None = Field(default=None, description="Athena workgroup (aws)")
    region: str | None = Field(default=None, description="AWS region (aws)")

    def query(self, sql: str, tables: Mapping[str, pa.Table] | None = None) -> pa.Table:
        """Run ``sql`` and return its result as Arrow; ``tables`` are registered as views first (DuckDB)."""
        if self.engine == "duckdb":
            # Read-only when the file exists: readers never take the writer's lock.
            from pathlib import Path

            import duckdb

            read_only = bool(self.duckdb_path) and Path(self.duckdb_path).exists()
            with duckdb.connect(self.duckdb_path or ":memory:", read_only=read_only) as connection:
                for name, table in (tables or {}).items():
                    connection.register(name, table)
                return connection.sql(sql).to_arrow_table()
        if self.engine == "athena":
            import pyarrow as pa
            from dagster_aws.athena import AthenaClientResource

            if tables:
                raise ValueError("Athena reads tables from the Glue catalog; in-memory tables cannot be registered")
            client = AthenaClientResource(workgroup=self.athena_workgroup or "primary").get_client()
            rows = client.execute_query(sql, fetch_results=True)
            columns = list(zip(*rows, strict=True)) if rows else []
            return pa.table({f"c{i}": list(col) for i, col in enumerate(columns)})
        raise ValueError(f"unknown warehouse engine {self.engine!r}; expected 'duckdb' or 'athena'")
