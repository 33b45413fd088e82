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
    endpoint_url: str | None = Field(default=None, description="Athena endpoint override (VPC endpoint; optional)")
    athena_timeout_s: float = Field(default=600, description="how long an Athena query may run (aws)")

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
            if tables:
                raise ValueError("Athena reads tables from the Glue catalog; in-memory tables cannot be registered")
            return self._athena(sql)
        raise ValueError(f"unknown warehouse engine {self.engine!r}; expected 'duckdb' or 'athena'")

    def _athena(self, sql: str) -> pa.Table:
        """Run ``sql`` on Athena and return it as Arrow with Athena's column names and types."""
        import time

        import boto3

        client = boto3.client("athena", region_name=self.region, endpoint_url=self.endpoint_url)
        query_id = client.start_query_execution(QueryString=sql, WorkGroup=self.athena_workgroup or "primary")[
            "QueryExecutionId"]
        deadline = time.monotonic() + self.athena_timeout_s
        while True:
            status = client.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
            if status["State"] in ("SUCCEEDED", "FAILED", "CANCELLED"):
                break
            if time.monotonic() > deadline:
                client.stop_query_execution(QueryExecutionId=query_id)
                raise TimeoutError(f"Athena query {query_id} ran over {self.athena_timeout_s:.0f} s: {sql[:200]}")
            time.sleep(0.5)
        if status["State"] != "SUCCEEDED":
            raise RuntimeError(f"Athena query {query_id} {status['State']}: "
                               f"{status.get('StateChangeReason', 'no reason given')}; query: {sql[:200]}")
        columns: list[dict] = []
        rows: list[list[str | None]] = []
        for page in client.get_paginator("get_query_results").paginate(QueryExecutionId=query_id):
            result = page["ResultSet"]
            page_rows = [[cell.get("VarCharValue") for cell in row.get("Data", [])] for row in result["Rows"]]
            if not columns:
                columns = result["ResultSetMetadata"]["ColumnInfo"]
                names = [c["Name"] for c in columns]
                if page_rows and page_rows[0] == names:  # a SELECT's first row repeats the column names
                    page_rows = page_rows[1:]
            rows.extend(page_rows)
        return athena_table(columns, rows)


#: Athena (Trino) types -> Arrow types; others (decimal, arrays, maps) stay strings, except decimals -> double.
_ATHENA_TYPES = {
    "varchar": "string", "char": "string", "string": "string", "boolean": "bool", "tinyint": "int8",
    "smallint": "int16", "integer": "int32", "int": "int32", "bigint": "int64", "real": "float32",
    "float": "float32", "double": "float64", "decimal": "float64", "date": "date32",
    "timestamp": "timestamp[us]", "timestamp with time zone": "timestamp[us, tz=UTC]",
}


def athena_table(columns: list[dict], rows: list[list[str | None]]) -> pa.Table:
    """Athena's text results as a typed Arrow table: each column named and cast from its ``ColumnInfo`` type."""
    import pyarrow as pa

    arrays = {}
    for index, column in enumerate(columns):
        values = pa.array([row[index] if index < len(row) else None for row in rows], pa.string())
        base = column["Type"].split("(")[0].strip().lower()
        target = _ATHENA_TYPES.get(base, "string")
        if target == "bool":
            values = pa.array([None if v is None else v.lower() == "true" for v in values.to_pylist()], pa.bool_())
        elif target != "string":
            values = values.cast(pa.type_for_alias(target))
        arrays[column["Name"]] = values
    return pa.table(arrays)
