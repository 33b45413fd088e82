"""Where published documents (GIPS reports) are written: a local folder, or S3 in aws."""

from __future__ import annotations

import hashlib

from dagster import ConfigurableResource
from pydantic import Field


class ReportStoreResource(ConfigurableResource):
    """A document store rooted at a folder (``/path``) or an S3 prefix (``s3://bucket/prefix``)."""

    root: str = Field(description="folder or s3://bucket/prefix under which documents are written")
    region: str | None = Field(default=None, description="AWS region (s3 roots)")
    endpoint_url: str | None = Field(default=None, description="S3 endpoint override (optional)")

    def write(self, relative_path: str, content: bytes, content_type: str = "application/octet-stream") -> dict:
        """Write ``content`` at ``relative_path`` atomically (local: temp file + rename); its URI and SHA-256."""
        digest = hashlib.sha256(content).hexdigest()
        if self.root.startswith("s3://"):
            import boto3

            bucket, _, prefix = self.root.removeprefix("s3://").partition("/")
            key = f"{prefix.rstrip('/')}/{relative_path}" if prefix else relative_path
            boto3.client("s3", region_name=self.region, endpoint_url=self.endpoint_url).put_object(
                Bucket=bucket, Key=key, Body=content, ContentType=content_type, ChecksumSHA256=_b64(digest)
            )
            return {"uri": f"s3://{bucket}/{key}", "sha256": digest, "bytes": len(content)}
        import os
        import tempfile
        from pathlib import Path

        target = Path(self.root) / relative_path
        target.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", delete=False) as handle:
            handle.write(content)
            temporary = handle.name
        os.replace(temporary, target)
        return {"uri": target.resolve().as_uri(), "sha256": digest, "bytes": len(content)}


def _b64(hex_digest: str) -> str:
    import base64

    return base64.b64encode(bytes.fromhex(hex_digest)).decode()
