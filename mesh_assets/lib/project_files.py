"""Files of the project beside the code: the dbt project and the Lake Formation filter specification.

From a checkout (or an editable install) they are read where they live (``<repo>/dbt_project``, ``<repo>/deploy``);
an installed wheel carries a copy under ``mesh_assets/_project/`` (``deploy/hatch_build.py`` puts it there).
Pure Python, no Dagster import.
"""

from __future__ import annotations

from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[2]
PACKAGED = Path(__file__).resolve().parents[1] / "_project"


def project_path(*parts: str) -> Path:
    """``<checkout>/<parts>`` when this code runs from a checkout, else the installed wheel's copy."""
    packaged = PACKAGED.joinpath(*parts)
    return packaged if PACKAGED.is_dir() else CHECKOUT.joinpath(*parts)
