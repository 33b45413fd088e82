"""The auditor: a partitioned check shows a verdict (Passed or Failed) for every day it checked, in GraphQL and
in the UI, never Skipped; `mesh audit export` over the business days returns exactly the evaluations GraphQL
shows for those days, each with its partition and code location."""

import csv
import datetime as dt
import re
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.acceptance.graphql import LOCATION, wait_for

# the first test of the session also waits for the shared world (tests/acceptance/conftest.py)
pytestmark = [pytest.mark.integration, pytest.mark.acceptance, pytest.mark.timeout(1800)]

NAV = ("gold", "performance", "nav_history")
CHECK = "every_fund_has_nav"  # partitioned by trading day, like the NAV history it checks
VERDICTS = {"SUCCEEDED", "FAILED"}


def test_a_partitioned_check_has_a_verdict_for_every_checked_day(mesh):
    executions = mesh["gql"].check_executions(NAV, CHECK)
    by_day = {}
    for execution in executions:
        partition = (execution["evaluation"] or {}).get("partition")
        if partition and partition not in by_day:  # newest first: the latest verdict of each day
            by_day[partition] = execution["status"]
    missing = [day for day in mesh["days"] if by_day.get(day) not in VERDICTS]
    assert missing == [], f"{len(missing)} checked days without Passed/Failed, e.g. {missing[:3]}: {by_day}"


def test_the_ui_shows_the_checks_verdict_per_day_never_skipped(mesh, page):
    day = mesh["days"][-1]
    page.goto(f"/assets/{'/'.join(NAV)}?view=checks&checkDetail={CHECK}")
    page.get_by_role("tab", name="Execution history").click()
    rows = page.get_by_role("row").filter(has_text=re.compile(r"Passed|Failed|Skipped"))
    expect(rows.first).to_be_visible()
    expect(page.get_by_role("row").filter(has_text=day).filter(has_text=re.compile(r"Passed|Failed"))
           .first).to_be_visible()
    assert page.get_by_role("row").filter(has_text="Skipped").count() == 0


def _graphql_rows(mesh) -> set[tuple]:
    """(run, asset, check, partition, passed) of every evaluation GraphQL shows about the firm's days: the
    evaluation's partition, else the run's partition or range (as the run's page shows it)."""
    from mesh_assets.lib.audit.business_dates import business_period, overlaps

    first, last = (dt.date.fromisoformat(d) for d in (mesh["days"][0], mesh["days"][-1]))
    assert last < dt.date.today()  # evaluations without a dated partition ran today: outside the firm's days
    gql, rows = mesh["gql"], set()
    for run in gql.runs():
        tags = run["tags"]
        start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
        of_run = tags.get("dagster/partition") or (start if start == end else f"{start}...{end}" if start else None)
        for evaluation in gql.check_evaluations(run["runId"]):
            partition = evaluation["partition"] or of_run
            period = business_period(partition)
            if period and overlaps(period, first, last):
                rows.add((run["runId"], evaluation["asset"], evaluation["check"], partition, evaluation["passed"]))
    return rows


def _export(mesh, out: Path) -> list[dict]:
    command = [str(Path(sys.executable).with_name("mesh")), "audit", "export", "--from", mesh["days"][0],
               "--to", mesh["days"][-1], "--out", str(out)]
    result = subprocess.run(command, env=mesh["env"], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    with out.open() as handle:
        return list(csv.DictReader(handle))


def test_the_audit_export_by_business_day_matches_graphql_row_for_row(mesh, tmp_path):
    expected = _graphql_rows(mesh)
    assert expected, "no check evaluation about the firm's days"

    def archived():  # the audit sensor archives every few seconds in this world
        rows = _export(mesh, tmp_path / "extract.csv")
        return rows if len(rows) >= len(expected) else None

    exported = wait_for(archived, 120, f"{len(expected)} evaluations in the audit export", interval=5)
    assert all(row["partition_key"] for row in exported), "rows without a partition key"
    assert {row["code_location"] for row in exported} == {LOCATION}
    got = {(r["run_id"], r["asset_key"], r["check_name"], r["partition_key"], r["passed"] == "true")
           for r in exported}
    assert len(got) == len(exported)
    assert got == expected
