"""The files of one data product's publication: Parquet, CSV and a manifest, byte-identical for the same rows.

Rows are sorted by every column (schema order) and schema metadata is dropped, so the same rows in any
order, read from any engine, give the same bytes. The content hash is the SHA-256 of the canonical data:
the schema (column names and Arrow types) followed by the canonical CSV. It does not depend on the
Parquet writer's version string, so upgrading pyarrow does not republish unchanged data. Nothing in the
manifest varies with time.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pyarrow as pa

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1

#: Fixed Parquet writer settings: changing any of these changes the published bytes.
PARQUET_SETTINGS = {
    "compression": "zstd",
    "compression_level": 3,
    "version": "2.6",
    "data_page_version": "1.0",
    "use_dictionary": True,
    "write_statistics": True,
    "store_schema": True,
    "row_group_size": 1_000_000,
}

_PRODUCT_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]*$")


@dataclass(frozen=True)
class ProductFiles:
    """One publication of a data product: file name -> bytes, the manifest (also in ``files``) and its hash."""

    files: dict[str, bytes]
    manifest: dict
    content_hash: str
    row_count: int

    @property
    def product(self) -> str:
        """The data product these files publish."""
        return self.manifest["product"]

    @property
    def partition(self) -> str:
        """The partition (day) these files publish."""
        return self.manifest["partition"]


def build_product_files(product: str, partition: str, table: pa.Table) -> ProductFiles:
    """The Parquet, CSV and manifest files publishing ``table`` as ``product`` for ``partition``."""
    if not _PRODUCT_NAME.match(product):
        raise ValueError(f"data product name {product!r} must be lower-case letters, digits, '_' or '-'")
    if not partition or "/" in partition or partition.startswith("."):
        raise ValueError(f"data product {product!r}: partition {partition!r} is not a valid partition key")
    canonical = canonical_table(table)
    schema = [{"name": field.name, "type": str(field.type), "nullable": field.nullable} for field in canonical.schema]
    csv_bytes = _csv_bytes(canonical)
    parquet_bytes = _parquet_bytes(canonical)
    content_hash = _content_hash(schema, csv_bytes)
    data_files = {f"{product}.parquet": parquet_bytes, f"{product}.csv": csv_bytes}
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "product": product,
        "partition": partition,
        "row_count": canonical.num_rows,
        "schema": schema,
        "content_hash": content_hash,
        "content_hash_algorithm": "sha256(schema json + '\\n' + csv)",
        "files": [
            {"name": name, "bytes": len(content), "sha256": hashlib.sha256(content).hexdigest()}
            for name, content in sorted(data_files.items())
        ],
    }
    manifest_bytes = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
    return ProductFiles(
        files={**data_files, MANIFEST_NAME: manifest_bytes},
        manifest=manifest,
        content_hash=content_hash,
        row_count=canonical.num_rows,
    )


def canonical_table(table: pa.Table) -> pa.Table:
    """``table`` without schema or field metadata, rows sorted by every column, in one chunk."""
    import pyarrow as pa

    names = table.column_names
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"columns {duplicates} appear more than once; a product's columns must be unique")
    schema = pa.schema([pa.field(field.name, field.type, field.nullable) for field in table.schema])
    plain = pa.Table.from_arrays(table.columns, schema=schema)
    if plain.num_rows > 1 and names:
        try:
            plain = plain.sort_by([(name, "ascending") for name in names])
        except pa.ArrowNotImplementedError as error:
            raise ValueError(f"cannot sort the rows into a canonical order: {error}") from error
    return plain.combine_chunks()


def _csv_bytes(table: pa.Table) -> bytes:
    import pyarrow.csv as pacsv

    sink = io.BytesIO()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=True, delimiter=",", quoting_style="needed"))
    return sink.getvalue()


def _parquet_bytes(table: pa.Table) -> bytes:
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(table, sink, **PARQUET_SETTINGS)
    return sink.getvalue()


def _content_hash(schema: list[dict], csv_bytes: bytes) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps(schema, sort_keys=True, separators=(",", ":")).encode())
    digest.update(b"\n")
    digest.update(csv_bytes)
    return digest.hexdigest()
