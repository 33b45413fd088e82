"""AWS Data Exchange publication: one revision asset per data product (``adx/<product>/revision``) and its checks.

The exchange clients (local and aws) are resources: ``resources/adx_exchange/``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing a pure module of this package must not import Dagster
    from dagster import Definitions


def defs() -> Definitions:
    """The ADX revision assets."""
    from mesh_assets.adx import assets

    return assets.defs()
