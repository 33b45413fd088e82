"""The Investment Data Mesh code location: every domain's definitions, merged, with resources.

Loading this module does no I/O: resources are configured from the environment (``MESH_ENV``)
and heavy libraries are imported inside the functions that use them.
"""

from __future__ import annotations

from dagster import Definitions

from jobs import defs as jobs_defs
from mesh_assets.adx.assets import defs as adx_defs
from mesh_assets.bronze import defs as bronze_defs
from mesh_assets.distribution.assets import defs as distribution_defs
from mesh_assets.entitlements.assets import defs as entitlements_defs
from mesh_assets.gips import defs as gips_defs
from mesh_assets.stream.assets import defs as streaming_defs
from mesh_assets.warehouse import defs as silver_gold_defs
from resources.environment import resources_for
from sensors import defs as sensors_defs


def build_definitions(resources: dict | None = None) -> Definitions:
    """All definitions, with ``resources`` (default: those of ``MESH_ENV``)."""
    return Definitions.merge(
        bronze_defs(),
        silver_gold_defs(),
        gips_defs(),
        adx_defs(),
        entitlements_defs(),
        streaming_defs(),
        distribution_defs(),
        jobs_defs(),
        sensors_defs(),
        Definitions(resources=resources if resources is not None else resources_for()),
    )


defs = build_definitions()
