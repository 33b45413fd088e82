"""The landing zone where vendors and exports drop files: a local folder, or an S3 prefix in aws."""

from __future__ import annotations

import hashlib
from pathlib import Path

from dagster import ConfigurableResource
from pydantic import Field

from mesh_assets.lib.user_errors import UserError


class LandingFileMissingError(UserError, FileNotFoundError):
    """An expected delivery is not in the landing zone; the message names the file. A user's matter (the vendor
    or the operator delivers it), so the load is not retried; other S3 errors are."""


class LandingZoneResource(ConfigurableResource):
    """Reads delivered files by path relative to the landing root (``file`` folder or ``s3://bucket/prefix``)."""

    root: str = Field(description="local folder, or s3://bucket/prefix")
    region: str | None = Field(default=None, description="AWS region of the bucket (aws)")
    endpoint_url: str | None = Field(default=None, description="S3 endpoint override (optional)")

    def uri(self, relative_path: str) -> str:
        """Full location of a landing file, for error messages and lineage metadata."""
        return f"{self.root.rstrip('/')}/{relative_path}"

    def read_bytes(self, relative_path: str) -> bytes:
        """The file's bytes; :class:`LandingFileMissingError` naming it when absent."""
        if self.root.startswith("s3://"):
            return self._read_s3(relative_path)
        path = Path(self.root) / relative_path
        if not path.is_file():
            raise LandingFileMissingError(f"expected delivery {path} is not in the landing zone")
        return path.read_bytes()

    def _read_s3(self, relative_path: str) -> bytes:
        import boto3

        bucket, _, prefix = self.root.removeprefix("s3://").partition("/")
        key = f"{prefix.rstrip('/')}/{relative_path}" if prefix else relative_path
        client = boto3.client("s3", region_name=self.region, endpoint_url=self.endpoint_url)
        try:
            return client.get_object(Bucket=bucket, Key=key)["Body"].read()
        except client.exceptions.NoSuchKey:
            raise LandingFileMissingError(f"expected delivery s3://{bucket}/{key} is not in the landing zone") from None


def sha256_hex(data: bytes) -> str:
    """SHA-256 of ``data`` as hex, recorded with every file-fed load."""
    return hashlib.sha256(data).hexdigest()
