"""Wheel build hook: ship the dbt project (with its parsed manifest) and the Lake Formation filter specification
inside the wheel, under ``mesh_assets/_project/`` where :mod:`mesh_assets.lib.project_files` finds them.

Only the regular wheel gets them: an editable install (``uv sync``) reads them from the checkout, and a fresh
checkout installs before ``make dbt-manifest`` has produced the manifest. A wheel built without the manifest
would load no dbt assets, so that build stops with one sentence saying how to prepare it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

PACKAGED = "mesh_assets/_project"
SHIPPED = (
    "dbt_project/dbt_project.yml",
    "dbt_project/profiles.yml",
    "dbt_project/macros",
    "dbt_project/models",
    "dbt_project/seeds",
    "dbt_project/tests",
    "dbt_project/target/manifest.json",
    "deploy/lakeformation/data_cells_filters.json",
)


class ProjectFilesHook(BuildHookInterface):
    """Adds :data:`SHIPPED` to the wheel under :data:`PACKAGED`."""

    PLUGIN_NAME = "custom"

    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        """Force-include the project files (standard wheels only)."""
        if self.target_name != "wheel" or version == "editable":
            return
        root = Path(self.root)
        for relative in SHIPPED:
            source = root / relative
            if not source.exists():
                raise FileNotFoundError(f"{relative} is missing: run `make dbt-manifest` before building the wheel")
            build_data["force_include"][str(source)] = f"{PACKAGED}/{relative}"
