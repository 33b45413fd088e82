"""The trade stream's Dagster side: the companion's runless materializations and checks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # importing a pure module of this package must not import Dagster
    from dagster import Definitions


def defs() -> Definitions:
    """The streamed assets and their checks."""
    from mesh_assets.stream import assets

    return assets.defs()
