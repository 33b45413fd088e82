"""Where the worker finds the Iceberg catalog and the warehouse: the same settings as the code location's
resources (``resources/environment.py``), read from the environment without importing Dagster.

``MESH_ENV=local`` (default): pyiceberg ``SqlCatalog`` on ``<MESH_DATA_DIR>/lakehouse/catalog.db`` with a
``file://`` warehouse beside it, and the DuckDB warehouse file ``<MESH_DATA_DIR>/warehouse.duckdb``.
``MESH_ENV=aws``: the Glue catalog on ``MESH_ICEBERG_WAREHOUSE`` in ``AWS_REGION`` (optional endpoint
``MESH_AWS_ENDPOINT_URL``), and Athena (workgroup ``MESH_ATHENA_WORKGROUP``) for the reference data.
``MESH_ENV=cluster``: ``SqlCatalog`` named ``MESH_TRINO_CATALOG`` on the PostgreSQL of ``MESH_ICEBERG_CATALOG_URI``
with the warehouse ``MESH_ICEBERG_WAREHOUSE`` (the catalog Trino shares), and Trino for the reference data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from resources.settings import data_dir, mesh_env, mesh_settings

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

#: What the worker needs in aws (a subset of ``resources.environment.AWS_SETTINGS``).
AWS_STREAM_SETTINGS = {
    "AWS_REGION": "AWS region of Glue, S3 and Athena",
    "MESH_ICEBERG_WAREHOUSE": "s3:// warehouse root of the Glue Iceberg catalog",
    "MESH_KAFKA_BOOTSTRAP": "MSK bootstrap servers (aladdin.trades in, trades.execution and risk.alerts out)",
}


#: What the worker needs in cluster: the Iceberg JDBC catalog it shares with Trino.
CLUSTER_CATALOG_SETTINGS = {
    "MESH_ICEBERG_CATALOG_URI": "SQLAlchemy URI of the Iceberg JDBC catalog's PostgreSQL database",
    "MESH_ICEBERG_WAREHOUSE": "warehouse root of the Iceberg catalog (s3:// or file://)",
}


@dataclass(frozen=True)
class CatalogSettings:
    """An Iceberg catalog: ``sql`` (SQLite in local, PostgreSQL in cluster) or ``glue`` (AWS), as
    ``IcebergCatalogResource`` takes it."""

    catalog_type: str
    warehouse: str
    uri: str | None = field(default=None, repr=False)  # a PostgreSQL URI holds its password
    region: str | None = None
    endpoint_url: str | None = None
    name: str = "mesh"

    @classmethod
    def local(cls, root: Path | None = None) -> CatalogSettings:
        """The embedded environment's catalog under ``<root>/lakehouse`` (default ``MESH_DATA_DIR``)."""
        lakehouse = (root or data_dir()).resolve() / "lakehouse"
        return cls("sql", f"file://{lakehouse / 'warehouse'}", f"sqlite:///{lakehouse / 'catalog.db'}")

    @classmethod
    def from_environment(cls) -> CatalogSettings:
        """The catalog of ``MESH_ENV``."""
        if mesh_env() == "local":
            return cls.local()
        settings = mesh_settings()
        if settings.mesh_env == "cluster":
            settings.require(CLUSTER_CATALOG_SETTINGS, "cluster")
            return cls("sql", settings.mesh_iceberg_warehouse, settings.mesh_iceberg_catalog_uri.get_secret_value(),
                       name=settings.mesh_trino_catalog)
        settings.require({k: v for k, v in AWS_STREAM_SETTINGS.items() if k != "MESH_KAFKA_BOOTSTRAP"}, "aws")
        return cls("glue", settings.mesh_iceberg_warehouse, region=settings.aws_region,
                   endpoint_url=settings.mesh_aws_endpoint_url)

    def catalog(self) -> Catalog:
        """The pyiceberg catalog (one per process and settings)."""
        return _load_catalog(self)


@cache
def _load_catalog(settings: CatalogSettings) -> Catalog:
    from pyiceberg.catalog import load_catalog

    if settings.catalog_type == "sql":
        if settings.uri and settings.uri.startswith("sqlite:///"):
            Path(settings.uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        if settings.warehouse.startswith("file://"):
            Path(settings.warehouse.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
        return load_catalog(settings.name, type="sql", uri=settings.uri, warehouse=settings.warehouse)
    if settings.catalog_type == "glue":
        properties = {"type": "glue", "warehouse": settings.warehouse}
        if settings.region:
            properties.update({"glue.region": settings.region, "s3.region": settings.region,
                               "client.region": settings.region})
        if settings.endpoint_url:
            properties.update({"glue.endpoint": settings.endpoint_url, "s3.endpoint": settings.endpoint_url})
        return load_catalog(settings.name, **properties)
    raise ValueError(f"unknown Iceberg catalog type {settings.catalog_type!r}; expected 'sql' or 'glue'")


def local_warehouse_path() -> Path:
    """The embedded environment's DuckDB warehouse file."""
    return data_dir() / "warehouse.duckdb"
