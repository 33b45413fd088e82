"""Iceberg catalog: pyiceberg ``SqlCatalog`` on SQLite locally and on PostgreSQL in cluster (the JDBC catalog Trino
shares: same database, same catalog name), AWS Glue with an S3 warehouse in aws."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache
from typing import TYPE_CHECKING

from dagster import ConfigurableResource
from pydantic import Field

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog
    from pyiceberg.table import Table

    from mesh_assets.lib.lakehouse.tables import TableSpec


@cache
def _load_catalog(
    catalog_type: str, name: str, uri: str | None, warehouse: str, region: str | None, endpoint_url: str | None = None
) -> Catalog:
    from pyiceberg.catalog import load_catalog

    if catalog_type == "sql":
        _prepare_local_paths(uri, warehouse)
        return load_catalog(name, type="sql", uri=uri, warehouse=warehouse)
    if catalog_type == "glue":
        properties = {"type": "glue", "warehouse": warehouse}
        if region:
            properties.update({"glue.region": region, "s3.region": region, "client.region": region})
        if endpoint_url:  # an AWS-compatible endpoint (VPC endpoint, LocalStack, moto); credentials stay in the env
            properties.update({"glue.endpoint": endpoint_url, "s3.endpoint": endpoint_url})
        return load_catalog(name, **properties)
    raise ValueError(f"unknown Iceberg catalog type {catalog_type!r}; expected 'sql' or 'glue'")


def sql_catalog(name: str, uri: str, warehouse: str) -> Catalog:
    """The SQL catalog ``name`` at ``uri`` (cached per process, as every catalog here)."""
    return _load_catalog("sql", name, uri, warehouse, None)


def _prepare_local_paths(uri: str | None, warehouse: str) -> None:
    """Create the folders of a SQLite catalog and a file:// warehouse (the embedded environment)."""
    from pathlib import Path

    if uri and uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if warehouse.startswith("file://"):
        Path(warehouse.removeprefix("file://")).mkdir(parents=True, exist_ok=True)


class IcebergCatalogResource(ConfigurableResource):
    """The lakehouse's Iceberg catalog, and the tables it holds."""

    catalog_type: str = Field(description="'sql' (SQLite in local, PostgreSQL in cluster) or 'glue' (AWS)")
    name: str = Field(default="mesh", description="catalog name (cluster: the same as Trino's catalog)")
    uri: str | None = Field(
        default=None, description="SQLAlchemy URI of the SQL catalog: sqlite:///... or postgresql+psycopg2://...")
    warehouse: str = Field(description="warehouse root: file:///... locally, s3://bucket/prefix in aws")
    region: str | None = Field(default=None, description="AWS region for Glue and S3")
    endpoint_url: str | None = Field(default=None, description="AWS endpoint override for Glue and S3 (optional)")

    def catalog(self) -> Catalog:
        """The pyiceberg catalog (one per process and configuration)."""
        return _load_catalog(self.catalog_type, self.name, self.uri, self.warehouse, self.region, self.endpoint_url)

    def table(self, spec: TableSpec) -> Table:
        """The table of ``spec``, created with its namespace on first use."""
        from mesh_assets.lib.lakehouse.tables import ensure_table

        return ensure_table(self.catalog(), spec)

    def loader(self, spec: TableSpec) -> Callable[[], Table]:
        """A function that creates the table if needed and returns it freshly loaded, for commit retries."""
        self.table(spec)
        catalog = self.catalog()
        return lambda: catalog.load_table(spec.identifier)

    def ensure_worker_tables(self, identifiers: Iterable[str]) -> list[str]:
        """Create, empty, the tables among ``identifiers`` that long-lived workers write (not Dagster runs).

        The trade worker owns ``stream.trades_enriched`` (its schema: ``mesh_assets.lib.trade_stream.hot_table``);
        a dbt model reading it must build, with no streamed rows, before the worker's first commit. Other tables
        are left alone: a missing bronze table means a bronze asset never ran, and the reader should say so.
        """
        from mesh_assets.lib.trade_stream.hot_table import ENRICHED_TRADES

        wanted = set(identifiers)
        created = []
        for spec in (ENRICHED_TRADES,):
            if spec.identifier in wanted:
                self.table(spec)
                created.append(spec.identifier)
        return created
