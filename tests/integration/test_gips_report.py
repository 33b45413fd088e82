"""GIPS reports for the small firm, for real: gold tables -> GIPS Iceberg tables -> PDF/HTML/CSV/JSON.

The small firm here ends on Friday 2026-02-20, so its 60 sessions span a year end (December 2025 is
its first full month) and February 2026 is still in progress: reports run 2025 then 2026, the 2026
report presents both years, and the unfinished month belongs to no composite. The figures are checked
against an independent computation in this file (plain loops over gold.daily_returns and the scalar
engine), and the membership against the firm generator's own edge cases.
"""

import datetime as dt
import json
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import pytest
from dagster import AssetKey, DagsterInstance, build_sensor_context, instance_for_test

from mesh_assets.gips import tables
from mesh_assets.gips.partitions import COMPOSITES_PARTITION_SET, YEARS_PARTITION_SET, composite_year_key
from mesh_assets.gips.storage import GipsStore, MissingPartitionError
from mesh_assets.lib.gips import composite_return, link_returns
from mesh_assets.lib.trading_calendar import trading_days
from mesh_dev.firm import generate_firm
from mesh_dev.gips_runs import run_gips_report
from tests.conftest import SMALL_SEED
from tests.support.eod_world import eod_world
from tests.support.warehouse import query as warehouse_query

pytestmark = pytest.mark.integration

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "gips"
FIRM_END = dt.date(2026, 2, 20)
YEARS = (2025, 2026)
GIPS_ASSETS = {"composite_definition", "portfolio_monthly_returns", "composite_membership", "composite_monthly_returns",
               "composite_annual_statistics", "annual_report"}
GIPS_CHECKS = {"monthly_returns_plausible", "member_months_have_returns", "composite_assets_reconcile",
               "benchmark_series_complete", "firm_assets_cover_composite"}


def query(world, sql: str) -> list[tuple]:
    return warehouse_query(world["warehouse"], sql)


@pytest.fixture(scope="module")
def gips(tmp_path_factory):
    """The year-end small firm after the end-of-day batch, then every composite's 2026 report (runs 2025, 2026)."""
    firm = tmp_path_factory.mktemp("firm_year_end") / "small"
    generate_firm(firm, scale="small", seed=SMALL_SEED, end_date=FIRM_END)
    with eod_world(firm, tmp_path_factory.mktemp("gips_world")) as world:
        assert world["eod"].success
        composites = [c for (c,) in query(world, "select composite_id from silver.composites order by 1")]
        results = {c: run_gips_report(c, YEARS[-1], world["instance"], defs=world["defs"]) for c in composites}
        reports = world["root"] / "data" / "reports" / "gips"
        yield {"world": world, "year": YEARS[-1], "composites": composites, "results": results, "reports": reports}


def report_json(gips, composite_id: str, year: int | None = None) -> dict:
    folder = gips["reports"] / composite_id / str(year or gips["year"])
    return json.loads((folder / "gips_report.json").read_text())


def test_every_composite_year_materializes_and_every_check_passes(gips):
    assert len(gips["composites"]) == 3
    for composite_id, results in gips["results"].items():
        assert [r.dagster_run.tags["dagster/partition/year"] for r in results] == [str(y) for y in YEARS]
        for result in results:
            assert result.success, composite_id
            assert {e.asset_key.path[-1] for e in result.get_asset_materialization_events()} == GIPS_ASSETS
            evaluations = result.get_asset_check_evaluations()
            assert {e.check_name for e in evaluations} == GIPS_CHECKS
            failed = [(e.check_name, e.description) for e in evaluations if not e.passed]
            assert not failed, (composite_id, failed)
            for evaluation in evaluations:
                assert evaluation.metadata["reason"].value  # every verdict says why
        for year in YEARS:
            files = {p.name for p in (gips["reports"] / composite_id / str(year)).iterdir()}
            assert files == {"gips_report.pdf", "gips_report.html", "gips_report.json", "gips_statistics.csv"}
        # the 2026 report presents 2025 (December: the first full month) and 2026 (January: February is open)
        years = report_json(gips, composite_id)["statistics"]
        assert [(r["year"], r["period_start"], r["period_end"]) for r in years] == [
            (2025, "2025-12-01", "2025-12-31"), (2026, "2026-01-02", "2026-01-30")]
        assert report_json(gips, composite_id)["composite"]["inception_date"] == "2025-12-01"


def test_pdf_renders_to_png_and_names_the_composite_and_year(gips):
    assert shutil.which("pdftoppm"), "pdftoppm missing: install poppler-utils (make test does)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for composite_id in gips["composites"]:
        pdf = gips["reports"] / composite_id / str(gips["year"]) / "gips_report.pdf"
        prefix = ARTIFACTS / f"{composite_id}-{gips['year']}"
        subprocess.run(["pdftoppm", "-png", "-r", "60", "-f", "1", "-l", "1", str(pdf), str(prefix)], check=True)
        [png] = list(ARTIFACTS.glob(f"{composite_id}-{gips['year']}*.png"))
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
        text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
        name = report_json(gips, composite_id)["composite"]["composite_name"]
        assert name in text and str(gips["year"]) in text and "Definition of the firm" in text


def _independent_year(world, composite_id: str, year: int) -> dict | None:
    """The composite's year recomputed from gold.daily_returns with loops and the scalar engine."""
    policy = dict(zip(("min_size", "flow_pct"), query(world, f"""
        select min_portfolio_size, significant_cash_flow_pct from silver.composites
        where composite_id = '{composite_id}'""")[0], strict=True))
    portfolios = {p: (disc, inc, term) for p, disc, inc, term in query(world, f"""
        select portfolio_id, discretionary, inception_date, termination_date from silver.portfolios
        where composite_id = '{composite_id}'""")}
    rows = query(world, f"""
        select d.portfolio_id, d.as_of_date, d.begin_value, d.end_value, d.external_flow, d.return_status
        from gold.daily_returns d join silver.portfolios p using (portfolio_id)
        where p.composite_id = '{composite_id}' and year(d.as_of_date) = {year} order by 1, 2""")
    sessions = trading_days(dt.date(year, 1, 1), dt.date(year, 12, 31))
    first_session = {}
    last_session = {}
    for day in sessions:
        key = day.strftime("%Y-%m")
        first_session.setdefault(key, day)
        last_session[key] = day
    months: dict[tuple[str, str], list] = defaultdict(list)
    for row in rows:
        months[(row[0], row[1].strftime("%Y-%m"))].append(row)
    composite_months: dict[str, tuple[list[float], list[float], float, int]] = {}
    for (portfolio, month), days in sorted(months.items()):
        discretionary, inception, termination = portfolios[portfolio]
        if last_session[month] > FIRM_END:  # the month is still in progress
            continue
        begin = days[0][2]
        days_in_month = (first_session[month].replace(day=28) + dt.timedelta(days=4)).replace(day=1) - dt.timedelta(1)
        weighted = sum(f * (days_in_month.day - d.day) / days_in_month.day for _, d, _, _, f, _ in days)
        flow_ratio = max((abs(f) / b for _, _, b, _, f, _ in days if b and b > 0), default=0.0)
        member = (discretionary and inception < first_session[month]  # funded at the close of inception day
                  and (termination is None or termination > last_session[month])  # liquidated at its close
                  and begin >= policy["min_size"] and flow_ratio < policy["flow_pct"] / 100)
        if not member:
            continue
        daily = [(e - f) / b - 1 for _, _, b, e, f, status in days if status == "ok"]
        assert len(daily) == sum(1 for d in sessions if d.strftime("%Y-%m") == month)
        returns, weights, assets, count = composite_months.get(month, ([], [], 0.0, 0))
        composite_months[month] = ([*returns, link_returns(daily)], [*weights, begin + weighted],
                                   assets + days[-1][3], count + 1)
    if not composite_months:
        return None
    monthly = {m: composite_return(r, w) for m, (r, w, _, _) in sorted(composite_months.items())}
    last = max(composite_months)
    return {"gross": link_returns(list(monthly.values())), "months": sorted(monthly),
            "portfolios": composite_months[last][3], "assets": composite_months[last][2]}


def test_composite_figures_equal_an_independent_computation(gips):
    for composite_id in gips["composites"]:
        rows = {r["year"]: r for r in report_json(gips, composite_id)["statistics"]}
        for year in YEARS:
            expected = _independent_year(gips["world"], composite_id, year)
            row = rows[year]
            assert row["gross_return"] == pytest.approx(expected["gross"], rel=1e-9, abs=1e-12), (composite_id, year)
            assert [row["period_start"][:7], row["period_end"][:7]] == [expected["months"][0], expected["months"][-1]]
            assert row["portfolios"] == expected["portfolios"]
            assert row["composite_assets"] == pytest.approx(expected["assets"], abs=0.01)
            assert row["net_return"] < row["gross_return"]  # fees are charged
            assert row["partial_period"] is True and row["dispersion"] is None  # 1 month, 5 or fewer members
            assert row["composite_3yr_std"] is None and "36" in row["std_note"]
            firm = query(gips["world"], f"select sum(end_value) from gold.portfolio_daily_values "
                                        f"where as_of_date = date '{row['period_end']}'")[0][0]
            assert row["firm_assets"] == pytest.approx(firm) and row["firm_assets"] >= row["composite_assets"]
        assert report_json(gips, composite_id, 2025)["statistics"] == [rows[2025]]  # the 2025 report: one year


def test_the_month_in_progress_belongs_to_no_composite(gips):
    catalog = gips["world"]["defs"].resources["iceberg"]
    membership = catalog.table(tables.COMPOSITE_MEMBERSHIP).scan().to_arrow().to_pylist()
    february = [r for r in membership if r["month"] == "2026-02"]
    assert february and {r["status"] for r in february} == {"month_in_progress"}
    months = catalog.table(tables.COMPOSITE_MONTHLY_RETURNS).scan().to_arrow().column("month").to_pylist()
    assert "2026-02" not in months and {"2025-12", "2026-01"} <= set(months)


def test_membership_follows_the_firms_entries_exits_and_large_flows(gips):
    world = gips["world"]
    edge = world["manifest"]["edge_cases"]
    catalog = world["defs"].resources["iceberg"]
    membership = catalog.table(tables.COMPOSITE_MEMBERSHIP).scan().to_arrow().to_pylist()
    status = {(r["portfolio_id"], r["month"]): (r["status"], r["event"]) for r in membership}
    for portfolio in edge["composite_entries"]:
        (inception,) = query(world, f"select inception_date from silver.portfolios "
                                    f"where portfolio_id = '{portfolio}'")[0]
        # funded at the close of its inception day: the inception month is never a full month
        assert status[(portfolio, inception.strftime("%Y-%m"))] == ("before_first_full_month", ""), portfolio
    for portfolio in edge["composite_exits"]:
        (termination,) = query(world, f"select termination_date from silver.portfolios "
                                      f"where portfolio_id = '{portfolio}'")[0]
        month = termination.strftime("%Y-%m")
        expected = "month_in_progress" if month == FIRM_END.strftime("%Y-%m") else "after_last_full_month"
        assert status[(portfolio, month)][0] == expected, portfolio
    flows = query(world, f"""
        select d.portfolio_id, strftime(d.as_of_date, '%Y-%m'), abs(d.external_flow) / d.begin_value,
               c.significant_cash_flow_pct
        from gold.daily_returns d join silver.portfolios p using (portfolio_id)
        join silver.composites c using (composite_id)
        join silver.cash_flows f on f.portfolio_id = d.portfolio_id and f.flow_date = d.as_of_date
        where f.flow_id in ({', '.join(f"'{f}'" for f in edge['large_cash_flows'])}) and d.begin_value > 0""")
    assert flows, "the firm's large cash flows reach gold"
    removed = 0
    for portfolio, month, ratio, pct in flows:
        current = status.get((portfolio, month), ("", ""))[0]
        if ratio >= pct / 100 and current not in ("", "after_last_full_month", "before_first_full_month",
                                                  "month_in_progress"):
            assert status[(portfolio, month)][0] == "significant_cash_flow", (portfolio, month)
            removed += 1
    assert removed >= 1


def test_a_rerun_on_the_same_inputs_is_byte_identical_and_commits_nothing(gips):
    composite_id = gips["composites"][0]
    folder = gips["reports"] / composite_id / str(gips["year"])
    before = {name: (folder / name).read_bytes() for name in ("gips_report.json", "gips_statistics.csv",
                                                               "gips_report.pdf")}
    [rerun] = run_gips_report(composite_id, gips["year"], gips["world"]["instance"], defs=gips["world"]["defs"],
                              first_year=gips["year"])
    assert rerun.success
    for name, content in before.items():
        assert (folder / name).read_bytes() == content, name
    for event in rerun.get_asset_materialization_events():
        if event.asset_key.path[-1] not in ("annual_report", "composite_definition"):
            assert event.materialization.metadata["committed"].value is False, event.asset_key
    report = report_json(gips, composite_id)
    snapshot_ids = report["inputs"]["gips"]["gips.composite_annual_statistics"]
    assert list(snapshot_ids) == [f"{composite_id}|{y}" for y in YEARS]
    assert report["inputs"]["fingerprint"].startswith("sha256:")


def test_a_failing_blocking_check_stops_the_report(gips):
    composite_id = gips["composites"][0]
    world = gips["world"]
    result = world["defs"].resolve_job_def("gips_report").execute_in_process(
        instance=world["instance"], partition_key=composite_year_key(composite_id, gips["year"]),
        raise_on_error=False,
        run_config={"ops": {"gips__portfolio_monthly_returns": {"config": {"plausible_monthly_return": 1e-6}}}},
    )
    [evaluation] = [e for e in result.get_asset_check_evaluations() if e.check_name == "monthly_returns_plausible"]
    assert not evaluation.passed and evaluation.metadata["violations"].value > 0
    assert evaluation.metadata["samples"].value and evaluation.metadata["bound"].value == 1e-6
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    # nothing downstream of the failed check ran
    assert materialized == {AssetKey(["gips", "composite_definition"]), AssetKey(["gips", "portfolio_monthly_returns"])}


def test_unknown_composites_and_missing_years_are_named(gips):
    world = gips["world"]
    with pytest.raises(ValueError, match="COMP-99"):
        run_gips_report("COMP-99", gips["year"], world["instance"], defs=world["defs"])
    store = GipsStore(world["defs"].resources["iceberg"])
    with pytest.raises(MissingPartitionError, match=r"COMP-01\|2024.*mesh gips report"):
        store.read(tables.COMPOSITE_MONTHLY_RETURNS, "COMP-01", [2024, gips["year"]])


def test_the_composite_sensor_registers_every_composite_and_year_once(gips):
    from sensors.gips_composite_sensor import current_year, gips_composite_sensor

    iceberg = gips["world"]["defs"].resources["iceberg"]
    with instance_for_test() as instance:
        result = gips_composite_sensor(build_sensor_context(instance=instance, resources={"iceberg": iceberg}))
        composites, years = result.dynamic_partitions_requests
        assert composites.partitions_def_name == COMPOSITES_PARTITION_SET
        assert sorted(composites.partition_keys) == gips["composites"]
        # years from the earliest inception (the firm's first portfolio, 2025) to this year, none before
        assert years.partitions_def_name == YEARS_PARTITION_SET
        assert list(years.partition_keys) == [str(y) for y in range(YEARS[0], current_year() + 1)]
        for request in result.dynamic_partitions_requests:
            instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        again = gips_composite_sensor(build_sensor_context(instance=instance, resources={"iceberg": iceberg}))
        assert "3 composites" in again.skip_message


def test_the_report_states_a_creation_date_of_its_own(gips):
    world = gips["world"]
    for composite_id in gips["composites"]:
        [(created, funded)] = query(world, f"""
            select c.creation_date, min(p.inception_date) from silver.composites c
            join silver.portfolios p using (composite_id) where composite_id = '{composite_id}' group by 1""")
        report = report_json(gips, composite_id)
        assert report["composite"]["creation_date"] == created.isoformat()
        assert created > funded  # a composite groups portfolios: it is created after its first one is funded
        assert created != dt.date.fromisoformat(report["composite"]["inception_date"])


def _launch(world, job: str, composite_id: str, year: int) -> tuple[str, subprocess.Popen]:
    """Launch one composite-year the way the UI does: through the instance's run launcher (a separate run
    process loading the code location from workspace.yaml), not execute_in_process. Returns the run id and
    the launching `dagster job launch` process (launches run side by side)."""
    import json
    import os
    import sys
    import uuid

    root = Path(__file__).resolve().parents[2]
    run_id = str(uuid.uuid4())
    tags = {"dagster/partition": f"{composite_id}|{year}", "dagster/partition/composite": composite_id,
            "dagster/partition/year": str(year)}
    env = {**os.environ, **world["env"], "DAGSTER_HOME": str(world["root"] / "dagster_home")}
    launcher = subprocess.Popen([str(Path(sys.executable).parent / "dagster"), "job", "launch", "-w",
                                 str(root / "workspace.yaml"), "-j", job, "--tags", json.dumps(tags),
                                 "--run-id", run_id], cwd=root, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
    return run_id, launcher


def test_bad_requests_launched_through_the_run_launcher_fail_fast_with_one_sentence_and_no_retry(gips):
    import time

    from dagster import DagsterEventType, DagsterRunStatus

    world = gips["world"]
    instance = world["instance"]
    # the instance the CLI loads from DAGSTER_HOME: the world's storage, runs launched at once (no daemon)
    (world["root"] / "dagster_home" / "dagster.yaml").write_text(
        "run_coordinator:\n  module: dagster._core.run_coordinator\n  class: DefaultRunCoordinator\n"
        "telemetry:\n  enabled: false\n")
    requests = {("COMP-99", 2026): "Composite COMP-99 is not one of the firm's composites (silver.composites), so "
                                   "there is no GIPS year 2026 for it.",
                ("COMP-01", 2019): "Composite COMP-01 has no GIPS year 2019: its first portfolio was funded on "}
    launched = {request: _launch(world, "gips_report", *request) for request in requests}
    for _, launcher in launched.values():
        assert launcher.wait(timeout=300) == 0, launcher.stderr.read()
    runs = {request: run_id for request, (run_id, _) in launched.items()}
    deadline = time.monotonic() + 240
    for (composite_id, year), run_id in runs.items():
        while not (run := instance.get_run_by_id(run_id)).is_finished:
            assert time.monotonic() < deadline, f"run {run_id} did not finish"
            time.sleep(0.5)
        assert run.status == DagsterRunStatus.FAILURE
        assert run.tags["dagster/retry_on_asset_or_op_failure"] == "false"  # the daemon does not retry it
        records = instance.get_records_for_run(run_id).records
        failures = [r.event_log_entry.dagster_event for r in records
                    if r.event_log_entry.dagster_event and r.event_log_entry.dagster_event.is_step_failure]
        [failure] = failures  # one step failed, once: the first, before any other started
        assert failure.step_key == "gips__composite_definition"
        data = failure.step_failure_data
        assert data.error.cls_name == "Failure"
        assert data.user_failure_data.description.startswith(requests[(composite_id, year)])
        sentence = data.user_failure_data.description
        assert sentence.count(". ") == 0 and composite_id in sentence and str(year) in sentence
        started = [r for r in records if r.event_log_entry.dagster_event
                   and r.event_log_entry.dagster_event.event_type == DagsterEventType.STEP_START]
        assert len(started) == 1
        assert not [r for r in records if r.event_log_entry.dagster_event
                    and r.event_log_entry.dagster_event.event_type == DagsterEventType.STEP_UP_FOR_RETRY]


def test_mesh_gips_report_cli_prints_the_files(gips, tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from mesh_dev.cli import app

    for key, value in gips["world"]["env"].items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["gips", "report", "--composite", gips["composites"][-1]])
    assert result.exit_code == 0, result.output
    assert "gips_report.pdf" in result.output and f"{gips['composites'][-1]} {gips['year']}" in result.output
    with DagsterInstance.get() as instance:  # the runs are recorded in DAGSTER_HOME's instance
        assert gips["composites"][-1] in instance.get_dynamic_partitions(COMPOSITES_PARTITION_SET)


def _wait_for_run(instance, run_id: str, timeout: float = 300):
    import time

    deadline = time.monotonic() + timeout
    while not (run := instance.get_run_by_id(run_id)).is_finished:
        assert time.monotonic() < deadline, f"run {run_id} did not finish"
        time.sleep(0.5)
    return run


def test_a_later_year_launched_alone_computes_the_earlier_years_and_reports_the_same(gips, tmp_path):
    """2026 launched alone through the run launcher, over a lakehouse whose GIPS tables hold nothing (a copy of the
    world's catalog without them): the run computes 2025 itself and its report equals the in-order one."""
    import os

    from dagster import DagsterEventType, DagsterRunStatus

    from resources.environment import local_resources

    world = gips["world"]
    composite_id, year = gips["composites"][-1], gips["year"]
    source = world["root"] / "data"
    alone = tmp_path / "data"
    (alone / "lakehouse").mkdir(parents=True)
    shutil.copy2(source / "lakehouse" / "catalog.db", alone / "lakehouse" / "catalog.db")
    for name in ("warehouse.duckdb", "warehouse.duckdb.wal"):
        if (source / name).exists():
            shutil.copy2(source / name, alone / name)
    catalog = local_resources(data_dir=alone, firm_dir=Path(world["env"]["MESH_FIRM_DIR"]))["iceberg"].catalog()
    for spec in (tables.PORTFOLIO_MONTHLY_RETURNS, tables.COMPOSITE_MEMBERSHIP, tables.COMPOSITE_MONTHLY_RETURNS,
                 tables.COMPOSITE_ANNUAL_STATISTICS):
        catalog.drop_table(spec.identifier)  # the catalog entry only: the world's own files stay
    (world["root"] / "dagster_home" / "dagster.yaml").write_text(
        "run_coordinator:\n  module: dagster._core.run_coordinator\n  class: DefaultRunCoordinator\n"
        "telemetry:\n  enabled: false\n")
    alone_world = {**world, "env": {**world["env"], "MESH_DATA_DIR": str(alone)}}
    run_id, launcher = _launch(alone_world, "gips_report", composite_id, year)
    assert launcher.wait(timeout=300) == 0, launcher.stderr.read()
    run = _wait_for_run(world["instance"], run_id)
    records = [r.event_log_entry.dagster_event for r in world["instance"].get_records_for_run(run_id).records
               if r.event_log_entry.dagster_event]
    failures = [e.step_failure_data.error.to_string() for e in records if e.is_step_failure]
    assert run.status == DagsterRunStatus.SUCCESS, failures
    partitions = {e.event_specific_data.materialization.partition for e in records
                  if e.event_type == DagsterEventType.ASSET_MATERIALIZATION}
    assert partitions == {f"{composite_id}|{year}"}  # the earlier year is computed, not materialized

    in_order = gips["reports"] / composite_id / str(year)
    launched_alone = alone / "reports" / "gips" / composite_id / str(year)
    assert (launched_alone / "gips_statistics.csv").read_bytes() == (in_order / "gips_statistics.csv").read_bytes()
    by_chain, by_alone = (json.loads((folder / "gips_report.json").read_text()) for folder in (in_order,
                                                                                               launched_alone))
    assert by_alone["inputs"]["computed_in_run"]["years"] == list(range(YEARS[0], year))
    assert "computed_in_run" not in by_chain["inputs"]
    by_chain.pop("inputs"), by_alone.pop("inputs")  # provenance: snapshot ids and the reads differ by design
    assert json.dumps(by_alone, sort_keys=True) == json.dumps(by_chain, sort_keys=True)
    assert len(by_alone["statistics"]) == len(YEARS)
    # nothing of the earlier year was written: its composite-year stays for its own run (or the book) to record
    store = GipsStore(local_resources(data_dir=alone, firm_dir=Path(world["env"]["MESH_FIRM_DIR"]))["iceberg"])
    for spec in (tables.COMPOSITE_MONTHLY_RETURNS, tables.COMPOSITE_ANNUAL_STATISTICS):
        assert store.existing_years(spec, composite_id, list(YEARS)) == [year]
    assert os.path.samefile(world["root"] / "data", source)  # the world's own data was not touched


def test_the_firm_wide_book_computes_every_composite_year_in_one_run_with_the_same_figures(gips):
    """Last in this module: it rewrites the GIPS tables and reports the tests above read."""
    import os
    import sys
    import time
    import uuid

    from dagster import DagsterEventType, DagsterRunStatus

    world = gips["world"]
    instance = world["instance"]
    store = GipsStore(world["defs"].resources["iceberg"])
    keys = [(c, y) for c in gips["composites"] for y in YEARS]
    columns = ["composite_id", "year", "gross_return", "net_return", "benchmark_return", "portfolios",
               "composite_assets", "firm_assets", "dispersion", "composite_3yr_std"]
    by_chain = store.read_existing(tables.COMPOSITE_ANNUAL_STATISTICS, keys)[columns].sort_values(
        ["composite_id", "year"]).reset_index(drop=True)
    chain_reports = {c: report_json(gips, c)["statistics"] for c in gips["composites"]}
    assert len(by_chain) == len(keys)

    (world["root"] / "dagster_home" / "dagster.yaml").write_text(
        "run_coordinator:\n  module: dagster._core.run_coordinator\n  class: DefaultRunCoordinator\n"
        "telemetry:\n  enabled: false\n")
    root = Path(__file__).resolve().parents[2]
    run_id = str(uuid.uuid4())
    tags = {"dagster/asset_partition_range_start": str(YEARS[0]), "dagster/asset_partition_range_end": str(YEARS[-1])}
    env = {**os.environ, **world["env"], "DAGSTER_HOME": str(world["root"] / "dagster_home")}
    subprocess.run([str(Path(sys.executable).parent / "dagster"), "job", "launch", "-w", str(root / "workspace.yaml"),
                    "-j", "gips_book", "--tags", json.dumps(tags), "--run-id", run_id],
                   cwd=root, env=env, check=True, capture_output=True, timeout=300)
    deadline = time.monotonic() + 300
    while not (run := instance.get_run_by_id(run_id)).is_finished:
        assert time.monotonic() < deadline
        time.sleep(0.5)
    records = [r.event_log_entry.dagster_event for r in instance.get_records_for_run(run_id).records
               if r.event_log_entry.dagster_event]
    assert run.status == DagsterRunStatus.SUCCESS, [e.step_failure_data.error.to_string() for e in records
                                                    if e.is_step_failure]
    assert [e.step_key for e in records if e.event_type == DagsterEventType.STEP_START] == ["gips__annual_book"]
    evaluations = [e.event_specific_data for e in records if e.event_type == DagsterEventType.ASSET_CHECK_EVALUATION]
    book = AssetKey(["gips", "annual_book"])
    [check] = [c for c in evaluations if c.asset_key == book]
    assert check.passed, check.description
    # each composite-year the book computed shows as materialized by this run, asset by asset, partition by
    # partition (what the UI's partition grid reads), with its row count and the commit's snapshot id
    materialized = defaultdict(set)
    for event in records:
        if event.event_type == DagsterEventType.ASSET_MATERIALIZATION and event.asset_key.path[0] == "gips":
            materialization = event.event_specific_data.materialization
            materialized[event.asset_key.path[-1]].add(materialization.partition)
            if event.asset_key.path[-1] in ("portfolio_monthly_returns", "composite_annual_statistics"):
                assert materialization.metadata["snapshot_id"].value.isdigit()
                assert "dagster/row_count" in materialization.metadata
    expected = {str(composite_year_key(c, y)) for c, y in keys}
    for asset in GIPS_ASSETS:
        assert materialized[asset] == expected, asset
        assert expected <= instance.get_materialized_partitions(AssetKey(["gips", asset])), asset
    per_partition = {(c.check_name, c.partition) for c in evaluations if c.asset_key != book}
    assert per_partition == {(name, key) for name in GIPS_CHECKS for key in expected}
    assert all(c.passed for c in evaluations)

    by_book = store.read_existing(tables.COMPOSITE_ANNUAL_STATISTICS, keys)[columns].sort_values(
        ["composite_id", "year"]).reset_index(drop=True)
    import pandas as pd

    pd.testing.assert_frame_equal(by_book, by_chain, check_exact=False, rtol=1e-12)
    for composite_id in gips["composites"]:
        assert report_json(gips, composite_id)["statistics"] == chain_reports[composite_id]
        files = {p.name for p in (gips["reports"] / composite_id / str(gips["year"])).iterdir()}
        assert files == {"gips_report.pdf", "gips_report.html", "gips_report.json", "gips_statistics.csv"}
