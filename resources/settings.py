"""Where settings come from: the environment, read in one place, failing fast with names."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

ENVIRONMENTS = ("local", "aws")


class MissingSettingError(RuntimeError):
    """A required environment variable is not set; the message names it and says what it is for."""


def mesh_env() -> str:
    """The environment this code location runs in: ``MESH_ENV`` (``local`` by default, or ``aws``)."""
    env = os.environ.get("MESH_ENV", "local").strip().lower() or "local"
    if env not in ENVIRONMENTS:
        raise MissingSettingError(f"MESH_ENV is {env!r}; expected one of {', '.join(ENVIRONMENTS)}")
    return env


def repo_root() -> Path:
    """The repository (or installed project) root: the folder holding ``dbt_project/``."""
    return Path(__file__).resolve().parents[1]


def data_dir() -> Path:
    """Root of the embedded environment's data: ``MESH_DATA_DIR``, default ``<repo>/.data``."""
    return Path(os.environ.get("MESH_DATA_DIR") or repo_root() / ".data").resolve()


def firm_dir() -> Path:
    """The synthetic firm's landing zone: ``MESH_FIRM_DIR``, default ``<data>/firm``."""
    return Path(os.environ.get("MESH_FIRM_DIR") or data_dir() / "firm").resolve()


def require(variables: Mapping[str, str], env: str) -> None:
    """Raise :class:`MissingSettingError` naming every unset variable of ``variables`` (name -> purpose)."""
    missing = [f"{name} ({purpose})" for name, purpose in variables.items() if not os.environ.get(name)]
    if missing:
        raise MissingSettingError(f"MESH_ENV={env} needs these environment variables: " + "; ".join(missing))
