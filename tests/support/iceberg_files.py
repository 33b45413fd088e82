"""The files of a local Iceberg table as they lie on disk (tests of snapshot expiry)."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def files_on_disk(table: Any) -> set[str]:
    """Data, delete and manifest files and manifest lists under the table's ``file://`` folder, as ``file://`` URIs;
    ``*.metadata.json`` aside (the catalog's history of the table, not reached through snapshots)."""
    root = Path(table.location().removeprefix("file://"))
    return {f"file://{path}" for path in root.rglob("*") if path.is_file() and not path.name.endswith(".json")}
