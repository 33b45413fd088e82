"""The uniqueness test's Trino form (macros/unique_combination.sql: with a date first, one bit per day in 64-day blocks
per group, then the suspect groups and the rows with a null grouped exactly) finds exactly the rows the plain group-by
finds, nulls included, on the session's Trino; with a first column that is no date it is the plain group-by."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.support.cluster_world import trino_rows

pytestmark = pytest.mark.integration

#: Duplicates with a day, with a null day, with a null portfolio; a null security with distinct days; a null day
#: beside a dated row of the same group (not a duplicate).
ROWS = ("(values (date '2024-01-02', 'p1', 's1'), (date '2024-01-02', 'p1', 's1'), (date '2024-01-03', 'p1', 's1'), "
        "(cast(null as date), 'p1', 's2'), (cast(null as date), 'p1', 's2'), (cast(null as date), 'p1', 's3'), "
        "(date '2024-01-02', 'p1', 's3'), (date '2024-01-02', null, 's4'), (date '2024-01-02', null, 's4'), "
        "(date '2024-01-02', 'p2', null), (date '2024-01-03', 'p2', null), (date '2024-01-04', '', 's5'), "
        "(date '2024-01-04', null, 's5'), (date '1969-12-31', 'p3', 's6'), (date '1970-01-01', 'p3', 's6'), "
        "(date '1969-11-04', 'p3', 's6'), (date '1969-11-04', 'p3', 's6'), (date '2024-03-05', 'p4', 's7'), "
        "(date '2024-03-05' + interval '64' day, 'p4', 's7')) as t(d, p, s)")
#: The same shapes with text first (no date: every group of two rows or more is checked exactly).
TEXT_ROWS = ("(values ('a', 'p1', 's1'), ('a', 'p1', 's1'), ('b', 'p1', 's1'), ('2024-01-02', 'p2', 's2'), "
             "('2024-01-02', 'p2', 's2'), (null, 'p3', 's3'), (null, 'p3', 's3'), ('c', 'p4', 's4')) as t(d, p, s)")


def compiled(macro: str, info, tmp_path, rows: str = ROWS) -> str:
    from resources.dbt import DBT_PROJECT_DIR, dbt_executable

    proc = subprocess.run(
        [dbt_executable(), "--quiet", "compile", "--target", "trino", "--no-use-colors",
         "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR),
         "--target-path", str(tmp_path / macro), "--inline", f'{{{{ {macro}("{rows}", ["d", "p", "s"]) }}}}'],
        env={**os.environ, **info.environment(), "MESH_DBT_TARGET": "trino"}, capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return proc.stdout.strip()


def test_the_trino_form_finds_the_same_duplicates_as_the_plain_group_by(trino_cluster, tmp_path):
    trino_sql = compiled("trino__unique_combination_failures", trino_cluster, tmp_path)
    plain_sql = compiled("default__unique_combination_failures", trino_cluster, tmp_path)
    assert "bitwise_or_agg" in trino_sql and "bitwise_or_agg" not in plain_sql
    found = sorted(map(tuple, trino_rows(trino_cluster, trino_sql)), key=str)
    expected = sorted(map(tuple, trino_rows(trino_cluster, plain_sql)), key=str)
    assert found == expected
    assert {(str(d), p, s, n) for d, p, s, n in found} == {
        ("2024-01-02", None, "s4", 2), ("2024-01-02", "p1", "s1", 2), ("None", "p1", "s2", 2),
        ("1969-11-04", "p3", "s6", 2)}


def test_with_no_date_first_the_trino_form_is_the_plain_group_by(trino_cluster, tmp_path):
    trino_sql = compiled("trino__unique_combination_failures", trino_cluster, tmp_path / "trino", TEXT_ROWS)
    plain_sql = compiled("default__unique_combination_failures", trino_cluster, tmp_path / "plain", TEXT_ROWS)
    assert trino_sql == plain_sql  # the first column's type, asked of Trino, is varchar
    found = sorted(map(tuple, trino_rows(trino_cluster, trino_sql)), key=str)
    assert set(found) == {("a", "p1", "s1", 2), ("2024-01-02", "p2", "s2", 2), (None, "p3", "s3", 2)}
