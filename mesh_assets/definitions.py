"""The Investment Data Mesh code location: every domain's ``defs()``, the jobs, the sensors and the resources, merged.

Loading this module does no I/O: resources are configured from the environment (``MESH_ENV``)
and heavy libraries are imported inside the functions that use them.
"""

from __future__ import annotations

from dagster import Definitions

from jobs import defs as jobs_defs
from mesh_assets.adx import defs as adx_defs
from mesh_assets.bronze import defs as bronze_defs
from mesh_assets.distribution import defs as distribution_defs
from mesh_assets.entitlements import defs as entitlements_defs
from mesh_assets.gips import defs as gips_defs
from mesh_assets.maintenance import defs as maintenance_defs
from mesh_assets.stream import defs as stream_defs
from mesh_assets.warehouse import defs as warehouse_defs
from resources.environment import resources_for
from sensors import defs as sensors_defs


def build_definitions(resources: dict | None = None) -> Definitions:
    """All definitions, with ``resources`` (default: those of ``MESH_ENV``)."""
    return Definitions.merge(
        bronze_defs(),
        warehouse_defs(),
        gips_defs(),
        adx_defs(),
        entitlements_defs(),
        stream_defs(),
        distribution_defs(),
        maintenance_defs(),
        jobs_defs(),
        sensors_defs(),
        Definitions(resources=resources if resources is not None else resources_for()),
    )


defs = build_definitions()
