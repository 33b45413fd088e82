"""A rebuild on ``cluster`` replaces a silver table in place: readers never find it missing, and the table keeps its
history (dbt-trino's ``on_table_exists: replace``, one atomic ``CREATE OR REPLACE TABLE`` on Iceberg; its default,
``rename``, drops the old table after moving a new one into place). Runs dbt's ``trino`` target over the session's
cluster world (tests/support/cluster_world.py), where ``eod_batch`` built the table once already.
"""

from __future__ import annotations

import os
import subprocess
import threading

import pytest

from tests.support.cluster_world import trino_rows

pytestmark = pytest.mark.integration

MODEL, TABLE = "silver_trades", 'silver."trades"'


def test_a_rebuilt_silver_table_is_replaced_in_place_and_never_missing(cluster_world, monkeypatch, tmp_path):
    from resources.dbt import DBT_PROJECT_DIR, dbt_executable
    from resources.environment import resources_for

    info = cluster_world["info"]
    for name, value in cluster_world["env"].items():
        monkeypatch.setenv(name, value)
    dbt = resources_for()["dbt"].process_config_and_initialize()
    snapshots_sql = 'SELECT count(*) FROM silver."trades$snapshots"'
    [[rows_before]] = trino_rows(info, f"SELECT count(*) FROM {TABLE}")
    [[snapshots_before]] = trino_rows(info, snapshots_sql)
    assert rows_before > 0

    reads: list[int] = []
    errors: list[str] = []
    done = threading.Event()

    def read_while_rebuilding() -> None:
        while not done.is_set():
            try:
                reads.append(trino_rows(info, f"SELECT count(*) FROM {TABLE}")[0][0])
            except Exception as error:  # the table missing for a moment is what this test looks for
                errors.append(f"{type(error).__name__}: {error}"[:300])

    reader = threading.Thread(target=read_while_rebuilding, daemon=True)
    reader.start()
    try:
        # its own target path: dbt_project/target/manifest.json is the code location's (duckdb) manifest
        proc = subprocess.run([dbt_executable(), "run", "--select", MODEL, "--target", "trino", "--no-use-colors",
                               "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
                               "--target-path", str(tmp_path / "target")],
                              env={**os.environ, **dbt.dbt_environment()},
                              capture_output=True, text=True, timeout=600)
    finally:
        done.set()
        reader.join(timeout=60)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-2000:]
    assert errors == [] and reads, errors[:3]
    assert set(reads) == {rows_before}  # every read saw the whole table: old rows until the new ones committed
    [[snapshots_after]] = trino_rows(info, snapshots_sql)
    assert snapshots_after > snapshots_before  # the same table, one more snapshot: replaced, not dropped and renamed
    assert trino_rows(info, f"SELECT count(*) FROM {TABLE}") == [[rows_before]]
    leftovers = trino_rows(info, "SELECT table_name FROM information_schema.tables WHERE table_schema = 'silver' "
                                 "AND (table_name LIKE '%__dbt_tmp%' OR table_name LIKE '%__dbt_backup%')")
    assert leftovers == []
