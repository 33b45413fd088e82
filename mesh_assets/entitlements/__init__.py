"""Salesforce contracts turned into AWS Data Exchange data grants (``entitlements/grants`` and its checks)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing a pure module of this package must not import Dagster
    from dagster import Definitions


def defs() -> Definitions:
    """The entitlement reconciler and its checks."""
    from mesh_assets.entitlements import assets

    return assets.defs()
