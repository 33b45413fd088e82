"""The one place that chooses each resource's backend: ``MESH_ENV=local`` (default), ``aws`` or ``cluster``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dagster import EnvVar

from resources.adx import AdxResource
from resources.alerts import AlertWebhookResource
from resources.cdc_source import CdcSourceResource
from resources.dbt import DbtWarehouseResource
from resources.iceberg import IcebergCatalogResource
from resources.kafka_client import KafkaClientSettings
from resources.kafka_publisher import KafkaPublisherResource
from resources.reports import ReportStoreResource
from resources.s3 import LandingZoneResource
from resources.salesforce import SalesforceResource
from resources.settings import MeshSettings, aws_required_settings, cluster_required_settings, mesh_settings
from resources.warehouse import WarehouseResource

#: What ``aws`` needs from the environment, and what each variable is for (from :class:`MeshSettings`).
AWS_SETTINGS = aws_required_settings()
#: What ``cluster`` needs from the environment (Trino and the Iceberg JDBC catalog's database).
CLUSTER_SETTINGS = cluster_required_settings()


def local_resources(data_dir: Path | None = None, firm_dir: Path | None = None) -> dict[str, Any]:
    """The embedded environment: SQLite Iceberg catalog, DuckDB, landing folder, and CDC from the local
    Kafka broker when ``MESH_KAFKA_BOOTSTRAP`` is set, else a replay of the firm's capture files."""
    settings = mesh_settings()
    data = (data_dir or settings.data_dir()).resolve()
    firm = (firm_dir or settings.firm_dir()).resolve()
    distribution = settings.distribution_bootstrap()
    lakehouse = data / "lakehouse"
    return {
        "iceberg": IcebergCatalogResource(
            catalog_type="sql",
            uri=f"sqlite:///{lakehouse / 'catalog.db'}",
            warehouse=f"file://{lakehouse / 'warehouse'}",
        ),
        "warehouse": WarehouseResource(engine="duckdb", duckdb_path=str(data / "warehouse.duckdb"),
                                       duckdb_memory_limit=settings.mesh_duckdb_memory_limit),
        "dbt": DbtWarehouseResource(
            target="duckdb",
            duckdb_path=str(data / "warehouse.duckdb"),
            duckdb_memory_limit=settings.mesh_duckdb_memory_limit,
            iceberg_catalog_uri=f"sqlite:///{lakehouse / 'catalog.db'}",
            iceberg_warehouse=f"file://{lakehouse / 'warehouse'}",
            parse_cache_dir=str(data / "dbt" / "parse-cache"),
        ),
        "landing": LandingZoneResource(root=str(firm)),
        "reports": ReportStoreResource(root=str(data / "reports")),
        # immutable revision folders and a grants table under .data/adx
        "adx": AdxResource(backend="local", root=str(data / "adx")),
        # optional locally: without a webhook, alerts are only logged
        "alerts": AlertWebhookResource(
            url=EnvVar("MESH_ALERT_WEBHOOK_URL") if settings.mesh_alert_webhook_url else None
        ),
        "cdc_source": (
            CdcSourceResource(backend="kafka", bootstrap_servers=settings.mesh_kafka_bootstrap,
                              topic_prefix=settings.mesh_kafka_topic_prefix)
            if settings.mesh_kafka_bootstrap
            else CdcSourceResource(backend="replay", capture_dir=str(firm / "aladdin" / "cdc"))
        ),
        # distribution topics (NAV, performance): the broker when one is configured, else JSON-lines outbox files
        "distribution_publisher": (
            KafkaPublisherResource(backend="kafka", bootstrap_servers=distribution,
                                   topic_prefix=settings.mesh_kafka_topic_prefix)
            if distribution
            else KafkaPublisherResource(backend="outbox", outbox_dir=str(data / "outbox"))
        ),
        # the local Salesforce-compatible server (`mesh salesforce serve`) through simple-salesforce when
        # MESH_SALESFORCE_URL is set, else the firm's Salesforce export read as query results
        "salesforce": (
            SalesforceResource(
                backend="api", login_url=EnvVar("MESH_SALESFORCE_URL"),
                ca_bundle=EnvVar("MESH_SALESFORCE_CA_BUNDLE") if settings.mesh_salesforce_ca_bundle else None,
                username=EnvVar("SALESFORCE_USERNAME"), password=EnvVar("SALESFORCE_PASSWORD"),
                security_token=EnvVar("SALESFORCE_SECURITY_TOKEN"),
            )
            if settings.mesh_salesforce_url
            else SalesforceResource(backend="export", export_dir=str(firm / "salesforce"))
        ),
    }


#: Optional: the distribution topics on another cluster than the CDC topics (default ``MESH_KAFKA_BOOTSTRAP``).
DISTRIBUTION_BOOTSTRAP_SETTING = "MESH_DISTRIBUTION_KAFKA_BOOTSTRAP"


def distribution_bootstrap() -> str | None:
    """Bootstrap servers of the distribution topics: ``MESH_DISTRIBUTION_KAFKA_BOOTSTRAP``, else
    ``MESH_KAFKA_BOOTSTRAP``, else None (locally: the outbox)."""
    return mesh_settings().distribution_bootstrap()


#: Optional in ``aws``: an AWS endpoint override for S3 and Glue (VPC endpoint, LocalStack, moto).
AWS_ENDPOINT_SETTING = "MESH_AWS_ENDPOINT_URL"


def aws_resources(settings: MeshSettings | None = None) -> dict[str, Any]:
    """Glue + S3 Iceberg, Athena, MSK, Salesforce API; every setting from the environment. Values are passed
    as ``EnvVar`` so the Dagster UI shows the variable's name, never a secret's value."""
    settings = settings or mesh_settings()
    settings.require(AWS_SETTINGS, "aws")
    # Kafka security (SASL_SSL with MSK IAM unless MESH_KAFKA_* say otherwise): a contradiction fails the load
    KafkaClientSettings.from_settings(settings)
    endpoint = settings.mesh_aws_endpoint_url
    return {
        "iceberg": IcebergCatalogResource(
            catalog_type="glue", warehouse=EnvVar("MESH_ICEBERG_WAREHOUSE"), region=EnvVar("AWS_REGION"),
            endpoint_url=endpoint,
        ),
        "warehouse": WarehouseResource(
            engine="athena", athena_workgroup=EnvVar("MESH_ATHENA_WORKGROUP"), region=EnvVar("AWS_REGION"),
            endpoint_url=endpoint,
        ),
        "dbt": DbtWarehouseResource(
            target="athena",
            athena_workgroup=EnvVar("MESH_ATHENA_WORKGROUP"),
            athena_staging_dir=EnvVar("MESH_ATHENA_STAGING_DIR"),
            athena_data_dir=EnvVar("MESH_ATHENA_DATA_DIR"),
            region=EnvVar("AWS_REGION"),
        ),
        "landing": LandingZoneResource(root=EnvVar("MESH_LANDING_ROOT"), region=EnvVar("AWS_REGION"),
                                       endpoint_url=endpoint),
        "reports": ReportStoreResource(root=EnvVar("MESH_REPORTS_ROOT"), region=EnvVar("AWS_REGION"),
                                       endpoint_url=endpoint),
        "adx": AdxResource(backend="aws", region=EnvVar("AWS_REGION"), staging_root=EnvVar("MESH_ADX_STAGING_ROOT"),
                           endpoint_url=endpoint),
        "alerts": AlertWebhookResource(url=EnvVar("MESH_ALERT_WEBHOOK_URL")),
        "cdc_source": CdcSourceResource(backend="kafka", bootstrap_servers=EnvVar("MESH_KAFKA_BOOTSTRAP")),
        "distribution_publisher": KafkaPublisherResource(
            backend="kafka",
            bootstrap_servers=EnvVar(DISTRIBUTION_BOOTSTRAP_SETTING if settings.mesh_distribution_kafka_bootstrap
                                     else "MESH_KAFKA_BOOTSTRAP"),
        ),
        "salesforce": SalesforceResource(
            backend="api",
            username=EnvVar("SALESFORCE_USERNAME"),
            password=EnvVar("SALESFORCE_PASSWORD"),
            security_token=EnvVar("SALESFORCE_SECURITY_TOKEN"),
            domain=EnvVar("SALESFORCE_DOMAIN"),
        ),
    }


def cluster_resources(settings: MeshSettings | None = None) -> dict[str, Any]:
    """A firm's own cluster: Trino is the warehouse engine (queries and dbt's ``trino`` target) over an Iceberg JDBC
    catalog on PostgreSQL that pyiceberg (bronze, the trade worker) shares under the same catalog name; the rest
    (landing zone, reports, ADX, CDC, Salesforce) as in ``local``. The catalog URI holds a password: it is passed as
    an ``EnvVar`` so the Dagster UI shows the variable's name only."""
    settings = settings or mesh_settings()
    settings.require(CLUSTER_SETTINGS, "cluster")
    trino = {"trino_host": EnvVar("MESH_TRINO_HOST"), "trino_port": settings.mesh_trino_port,
             "trino_catalog": settings.mesh_trino_catalog, "trino_user": settings.mesh_trino_user}
    return {
        **local_resources(),
        "iceberg": IcebergCatalogResource(
            catalog_type="sql", name=settings.mesh_trino_catalog, uri=EnvVar("MESH_ICEBERG_CATALOG_URI"),
            warehouse=EnvVar("MESH_ICEBERG_WAREHOUSE"),
        ),
        "warehouse": WarehouseResource(
            engine="trino", iceberg_catalog_uri=EnvVar("MESH_ICEBERG_CATALOG_URI"),
            iceberg_warehouse=EnvVar("MESH_ICEBERG_WAREHOUSE"), **trino),
        # MESH_DBT_DAYS_PER_BUILD bounds the days one dbt build covers (and so one query's memory); by default the
        # whole range: on one node it measured no slower than a year at a time (docs/architecture.md, "cluster").
        "dbt": DbtWarehouseResource(
            target="trino", parse_cache_dir=str(settings.data_dir() / "dbt" / "parse-cache"),
            days_per_build=settings.mesh_dbt_days_per_build or None, **trino,
        ),
    }


def resources_for(env: str | None = None) -> dict[str, Any]:
    """Resources of ``env`` (default: ``MESH_ENV``)."""
    settings = mesh_settings()
    chosen = env or settings.mesh_env
    if chosen == "local":
        return local_resources()
    return cluster_resources(settings) if chosen == "cluster" else aws_resources(settings)
