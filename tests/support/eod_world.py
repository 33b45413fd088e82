"""The small firm after the end-of-day batch, built once per test session and shared (read-mostly).

Bronze sources, then ``eod_batch`` over every trading day in one run, in a private data folder and
Dagster instance. The environment variables are set only while it is built: the definitions it
returns carry their resolved paths, so later tests see an untouched environment.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

from resources.settings import overridden_environment

QUIET = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def run_eod(defs: Any, instance: Any, first: str, last: str) -> Any:
    """``eod_batch`` over ``first..last`` (one run), in process."""
    tags = {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last} if first != last else {}
    return defs.resolve_job_def("eod_batch").execute_in_process(
        instance=instance, raise_on_error=False, run_config=QUIET, tags=tags,
        partition_key=first if first == last else None,
    )


@contextmanager
def eod_world(small_firm: Path, root: Path) -> Iterator[dict[str, Any]]:
    """Build the world under ``root`` and yield it (definitions, instance, results, paths, env)."""
    from dagster import instance_for_test

    from mesh_assets.definitions import build_definitions
    from mesh_assets.lib.trading_calendar import trading_days

    (root / "dagster_home").mkdir(parents=True)
    manifest = json.loads((small_firm / "firm.json").read_text())
    days = [d.isoformat() for d in trading_days(dt.date.fromisoformat(manifest["start_date"]),
                                                 dt.date.fromisoformat(manifest["end_date"]))]
    env = {"MESH_ENV": "local", "MESH_DATA_DIR": str(root / "data"), "MESH_FIRM_DIR": str(small_firm)}
    with instance_for_test(temp_dir=str(root / "dagster_home")) as instance:
        with overridden_environment(env):
            defs = build_definitions()
            sources = defs.resolve_job_def("bronze_sources").execute_in_process(instance=instance, run_config=QUIET)
            eod = run_eod(defs, instance, days[0], days[-1])
        yield {"defs": defs, "instance": instance, "eod": eod, "sources": sources, "days": days, "root": root,
               "manifest": manifest, "warehouse": root / "data" / "warehouse.duckdb", "env": env}
