"""AWS Data Exchange: immutable revision folders and a SQLite grants table locally, boto3 ``dataexchange`` in aws."""

from __future__ import annotations

import datetime as dt
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

from dagster import ConfigurableResource
from pydantic import Field

if TYPE_CHECKING:
    from resources.adx_exchange.exchange import DataGrant, Exchange, PublishedRevision
    from resources.adx_exchange.product_files import ProductFiles

BACKENDS = ("local", "aws")


@cache
def _aws_exchange(
    region: str | None,
    endpoint_url: str | None,
    dataexchange_endpoint_url: str | None,
    staging_root: str,
    import_timeout_s: float,
    poll_interval_s: float,
) -> Exchange:
    """One ``AwsExchange`` per process and configuration, so its data set ids are listed once."""
    import boto3

    from resources.adx_exchange.aws_exchange import AwsExchange

    return AwsExchange(
        client=boto3.client("dataexchange", region_name=region, endpoint_url=dataexchange_endpoint_url),
        s3_client=boto3.client("s3", region_name=region, endpoint_url=endpoint_url),
        staging_root=staging_root,
        import_timeout_s=import_timeout_s,
        poll_interval_s=poll_interval_s,
    )


class AdxResource(ConfigurableResource):
    """Where data products are published and data grants are kept: ``local`` folders or AWS Data Exchange."""

    backend: str = Field(description="'local' (revision folders + SQLite grants) or 'aws' (AWS Data Exchange)")
    root: str | None = Field(default=None, description="local: folder holding data_sets/ and grants.db")
    region: str | None = Field(default=None, description="aws: AWS region of the data sets")
    endpoint_url: str | None = Field(default=None, description="aws: S3 endpoint override for staging (optional)")
    dataexchange_endpoint_url: str | None = Field(
        default=None, description="aws: AWS Data Exchange endpoint override, e.g. a VPC endpoint (optional)"
    )
    staging_root: str | None = Field(default=None, description="aws: s3://bucket/prefix where files are staged")
    import_timeout_s: float = Field(default=600, description="aws: how long an import job may run before cancel")
    poll_interval_s: float = Field(default=5, description="aws: seconds between get_job polls")
    lock_timeout_s: float = Field(default=30, description="local: seconds a grant call waits for the grants.db lock")

    def exchange(self) -> Exchange:
        """The backend: ``LocalExchange`` or ``AwsExchange`` (boto3 clients built here, not at import)."""
        if self.backend == "local":
            from resources.adx_exchange.local_exchange import LocalExchange

            if not self.root:
                raise ValueError("AdxResource backend 'local' needs root (the folder of revisions and grants)")
            return LocalExchange(Path(self.root), lock_timeout_s=float(self.lock_timeout_s))
        if self.backend == "aws":
            if not self.staging_root or not self.staging_root.startswith("s3://"):
                raise ValueError(
                    f"AdxResource backend 'aws' needs staging_root as s3://bucket/prefix, got {self.staging_root!r}"
                )
            return _aws_exchange(
                self.region,
                self.endpoint_url,
                self.dataexchange_endpoint_url,
                self.staging_root,
                float(self.import_timeout_s),
                float(self.poll_interval_s),
            )
        raise ValueError(f"unknown ADX backend {self.backend!r}; expected one of {', '.join(BACKENDS)}")

    def publish(self, data_set: str, product_files: ProductFiles, comment: str) -> PublishedRevision:
        """Publish the product files as a finalized revision of ``data_set`` (or find the identical one)."""
        return self.exchange().publish(data_set, product_files, comment)

    def revisions(self, data_set: str) -> list[PublishedRevision]:
        """The data set's finalized revisions, oldest first."""
        return self.exchange().revisions(data_set)

    def list_grants(self) -> list[DataGrant]:
        """Every data grant, expired ones flagged."""
        return self.exchange().list_grants()

    def create_grant(
        self, data_set: str, receiver_account: str, name: str, ends_at: dt.datetime | None, description: str
    ) -> DataGrant:
        """Grant ``data_set`` to the AWS account ``receiver_account`` until ``ends_at`` (contract end)."""
        return self.exchange().create_grant(data_set, receiver_account, name, ends_at, description)

    def delete_grant(self, grant_id: str) -> None:
        """Delete a data grant."""
        self.exchange().delete_grant(grant_id)
