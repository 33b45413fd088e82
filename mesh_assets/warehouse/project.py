"""The dbt project behind silver and gold, and its manifest (prepared by `make dbt-manifest`).

Nothing here imports dagster-dbt or dbt-core: together they take about three seconds to import,
more than the whole code location may take to load. They are imported only when dbt runs.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from resources.dbt import DBT_PROJECT_DIR

MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"


class ManifestMissingError(RuntimeError):
    """The dbt manifest has not been prepared; the message says how to prepare it."""


def manifest_path() -> Path:
    """``dbt_project/target/manifest.json``; :class:`ManifestMissingError` when it was never prepared."""
    if not MANIFEST_PATH.is_file():
        raise ManifestMissingError(
            f"dbt manifest {MANIFEST_PATH} is missing: run `make dbt-manifest` "
            "(dbt parse --project-dir dbt_project --profiles-dir dbt_project)"
        )
    return MANIFEST_PATH


@cache
def load_manifest() -> dict[str, Any]:
    """The parsed manifest (read once per process)."""
    return json.loads(manifest_path().read_text())
