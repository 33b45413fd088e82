"""Table maintenance: the weekly compaction and snapshot expiry of every Iceberg table, as an asset with checks."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagster import Definitions


def defs() -> Definitions:
    """The table maintenance asset and its checks."""
    from mesh_assets.maintenance import assets

    return assets.defs()
