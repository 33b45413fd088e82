"""Where settings come from: the environment, read in one place, failing fast with names."""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
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


@contextmanager
def overridden_environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in ``os.environ`` for the block, then restore the previous values (or their absence)."""
    previous = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def cdc_retry_policy():
    """How the CDC sensor retries a failing range: ``MESH_CDC_MAX_ATTEMPTS`` (default 5 failures for the same
    reason, then it stops asking), ``MESH_CDC_RETRY_BACKOFF_S`` (default 30: wait 30 s, 60 s, 120 s, ... after
    each failure) and ``MESH_CDC_RETRY_BACKOFF_MAX_S`` (default 1800, the longest wait)."""
    from mesh_assets.lib.cdc.retry_policy import RetryPolicy

    return RetryPolicy(
        max_attempts=int(os.environ.get("MESH_CDC_MAX_ATTEMPTS", "5")),
        base_backoff_s=float(os.environ.get("MESH_CDC_RETRY_BACKOFF_S", "30")),
        max_backoff_s=float(os.environ.get("MESH_CDC_RETRY_BACKOFF_MAX_S", "1800")),
    )


def cdc_stall_after_s() -> float:
    """Seconds a CDC partition may be behind the broker with no commit before ``partition_stalled`` turns red:
    ``MESH_CDC_STALL_AFTER_S`` (default 900)."""
    return float(os.environ.get("MESH_CDC_STALL_AFTER_S", "900"))
