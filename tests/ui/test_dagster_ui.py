"""The Dagster UI in a real browser: ``dagster-webserver`` over the materialized small firm, driven by Chromium.

The session's end-of-day world (tests/support/eod_world.py: bronze sources, then ``eod_batch``) plus one
GIPS composite-year report, in the same Dagster instance. The webserver runs as a subprocess on
127.0.0.1 with DAGSTER_HOME set to that instance's folder and loads the code location from
``workspace.yaml``; Debian's ``chromium`` (``make test`` installs it) visits the lineage graph, an
asset's checks and the report's materialization. Screenshots go to ``test-artifacts/ui/``.
"""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest
from dagster import AssetCheckKey, AssetKey, AssetSelection
from playwright.sync_api import Page, expect, sync_playwright

from mesh_dev.gips_runs import run_gips_report
from resources.settings import overridden_environment as environment
from tests.support.processes import stop_process_group
from tests.support.warehouse import query

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "ui"
CHROMIUM = Path("/usr/bin/chromium")  # Debian's package; Playwright never downloads a browser here
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
STARTUP_TIMEOUT = 120
# Before the first page: skip the "Join the Dagster community" dialog (shown on 127.0.0.1) and draw the
# lineage left to right (upstream on the left), the layout the edge geometry below reads.
BROWSER_STORAGE = """
window.localStorage.setItem('communityNux', JSON.stringify('1'));
window.localStorage.setItem('asset-graph-direction', JSON.stringify('horizontal'));
"""
LAYERS = ("bronze", "silver", "gold", "gips")
# Every asset on a path from the bronze portfolios to the GIPS report or to the NAV history.
LINEAGE_SELECTION = ('key:"bronze/reference/portfolios"+ and '
                     '+(key:"gips/annual_report" or key:"gold/performance/nav_history")')
NAV = AssetKey(["gold", "performance", "nav_history"])
DAILY_RETURNS = AssetKey(["gold", "performance", "daily_returns"])
ANNUAL_REPORT = AssetKey(["gips", "annual_report"])
DBT_NAV_CHECK = "assert_nav_is_sum_of_valuations"  # a dbt data test on gold.nav_history


@pytest.fixture(scope="session")  # checked before the session's end-of-day world is built
def chromium() -> Path:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"{CHROMIUM} is missing: the UI tests drive Debian's chromium package, which `make test` "
                    "installs (make system-deps); Playwright's own browser download is not used")
    return CHROMIUM


@pytest.fixture(scope="module")
def ui_world(chromium, eod_world):
    """The session's end-of-day world (not re-run) plus the first composite's report for the last day's year."""
    composite = query(eod_world["warehouse"], "select min(composite_id) from silver.composites")[0][0]
    year = int(eod_world["days"][-1][:4])
    with environment(eod_world["env"]):
        results = run_gips_report(composite, year, eod_world["instance"], defs=eod_world["defs"])
    assert results and all(r.success for r in results), [r.dagster_run.run_id for r in results]
    [report] = [e for e in results[-1].get_asset_materialization_events() if e.asset_key == ANNUAL_REPORT]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return {"world": eod_world, "composite": composite, "year": year, "report": report.materialization}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _graphql(url: str, document: str) -> dict:
    request = urllib.request.Request(f"{url}/graphql", data=json.dumps({"query": document}).encode(),
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = json.load(response)
    assert "errors" not in payload, payload["errors"]
    return payload["data"]


LOCATIONS = """{ workspaceOrError { ... on Workspace { locationEntries {
    name loadStatus locationOrLoadError { __typename ... on PythonError { message } } } } } }"""


def _wait_until_loaded(process: subprocess.Popen, url: str, stderr: Path) -> None:
    """``/server_info`` answers, then the code location has loaded (or the error is reported)."""
    deadline = time.monotonic() + STARTUP_TIMEOUT
    up = False
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"dagster-webserver exited with {process.returncode}:\n{stderr.read_text()[-4000:]}")
        try:
            if not up:
                with urllib.request.urlopen(f"{url}/server_info", timeout=5) as response:
                    up = response.status == 200
            if up:
                [entry] = _graphql(url, LOCATIONS)["workspaceOrError"]["locationEntries"]
                if entry["loadStatus"] == "LOADED":
                    loaded = entry["locationOrLoadError"]
                    assert loaded["__typename"] == "RepositoryLocation", loaded
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.5)
    pytest.fail(f"dagster-webserver did not load {url} within {STARTUP_TIMEOUT} s:\n{stderr.read_text()[-4000:]}")


@pytest.fixture(scope="module")
def webserver(ui_world, tmp_path_factory):
    """``dagster-webserver -w workspace.yaml`` on a free port over the world's instance; stopped at the end."""
    world = ui_world["world"]
    home = Path(world["instance"].root_directory)
    # instance_for_test wrote this dagster.yaml (telemetry, code servers) and nothing about storage, so a
    # second process with the same DAGSTER_HOME opens the same SQLite run, event and schedule storage.
    assert (home / "dagster.yaml").is_file() and "storage" not in (home / "dagster.yaml").read_text()
    logs = tmp_path_factory.mktemp("webserver")
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, **world["env"], "DAGSTER_HOME": str(home)}
    command = [str(Path(sys.executable).with_name("dagster-webserver")), "-h", "127.0.0.1", "-p", str(port),
               "-w", str(REPO / "workspace.yaml")]
    with (logs / "stdout.log").open("wb") as stdout, (logs / "stderr.log").open("wb") as stderr:
        # its own process group: the webserver and the code server it spawns are stopped together
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=stdout, stderr=stderr,
                                   start_new_session=True)
    try:
        _wait_until_loaded(process, url, logs / "stderr.log")
        yield {"url": url, "logs": logs}
    finally:
        stop_process_group(process)


@pytest.fixture(scope="module")
def browser(chromium, webserver):
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        context = launched.new_context(base_url=webserver["url"], viewport={"width": 1920, "height": 1080},
                                       device_scale_factor=1.5)
        context.add_init_script(BROWSER_STORAGE)
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()
            launched.close()


@pytest.fixture
def page(browser) -> Page:
    tab = browser.new_page()
    yield tab
    tab.close()


def _screenshot(page: Page, name: str) -> None:
    page.wait_for_load_state("networkidle")
    page.screenshot(path=ARTIFACTS / f"{name}.png", full_page=True)


def test_the_webserver_reads_the_batch_instance(ui_world, webserver):
    runs = _graphql(webserver["url"], "{ runsOrError { ... on Runs { results { runId jobName status } } } }")
    seen = {r["runId"]: (r["jobName"], r["status"]) for r in runs["runsOrError"]["results"]}
    instance = ui_world["world"]["instance"]
    assert set(seen) == {run.run_id for run in instance.get_runs()}
    assert seen[ui_world["world"]["eod"].run_id] == ("eod_batch", "SUCCESS")
    assert ("gips_report", "SUCCESS") in seen.values()


# The graph's nodes and group boxes are <foreignObject>s placed in layout coordinates (zoom does not change
# them); an edge is a <path marker-end> from the right side of its source to just left of its target.
GRAPH_GEOMETRY = """() => {
  const place = (f) => ({x: +f.getAttribute('x'), y: +f.getAttribute('y'),
                         w: +f.getAttribute('width'), h: +f.getAttribute('height')});
  const nodes = [...document.querySelectorAll('foreignObject')]
    .filter((f) => f.querySelector('[class*="AssetNode_assetName"]'))
    .map((f) => ({label: f.querySelector('[class*="AssetNode_assetName"]').textContent, ...place(f)}));
  const groups = [...document.querySelectorAll('foreignObject.group')]
    .map((f) => ({name: f.querySelector('[data-tooltip]').getAttribute('data-tooltip'), ...place(f)}));
  const edges = [...document.querySelectorAll('path[marker-end]')].map((p) => p.getAttribute('d'));
  return {nodes, groups, edges};
}"""


def _label_names(label: str, name: str) -> bool:
    """The UI shortens long names in the middle: ``portfolio…_returns`` is ``portfolio_monthly_returns``."""
    head, ellipsis, tail = label.partition("…")
    return name == label if not ellipsis else name.startswith(head) and name.endswith(tail)


def _drawn_graph(geometry: dict) -> tuple[dict[str, dict], set[tuple[str, str]]]:
    """Nodes as ``group/label`` (group: the box that holds the node) and the edges between them."""
    def holder(node):
        cx, cy = node["x"] + node["w"] / 2, node["y"] + node["h"] / 2
        [group] = [g["name"] for g in geometry["groups"]
                   if g["x"] <= cx <= g["x"] + g["w"] and g["y"] <= cy <= g["y"] + g["h"]]
        return group

    nodes = {f"{holder(n)}/{n['label']}": n for n in geometry["nodes"]}
    assert len(nodes) == len(geometry["nodes"]), "two nodes of one group share a label"

    def at(x: float, y: float, side: str) -> str:
        def gap(node):
            edge_x = node["x"] + node["w"] if side == "source" else node["x"]
            return abs(edge_x - x) + abs(node["y"] + node["h"] / 2 - y)

        name = min(nodes, key=lambda n: gap(nodes[n]))
        assert gap(nodes[name]) < 20, (side, x, y, name)
        return name

    edges = set()
    for path in geometry["edges"]:
        numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", path)]
        edges.add((at(numbers[0], numbers[1], "source"), at(numbers[-2], numbers[-1], "target")))
    return nodes, edges


def test_the_lineage_graph_runs_bronze_silver_gold_gips(ui_world, page):
    asset_graph = ui_world["world"]["defs"].resolve_asset_graph()
    selected = AssetSelection.from_string(LINEAGE_SELECTION).resolve(asset_graph)
    expanded = ",".join(f"global@global:{group}" for group in LAYERS)  # the URL the UI writes when expanding
    page.goto(f"/asset-groups~{quote(LINEAGE_SELECTION, safe='')}/?expanded={expanded}")
    names = page.locator('[class*="AssetNode_assetName"]')
    expect(names).to_have_count(len(selected))
    for label in ("annual_report", "nav_history", "daily_returns"):
        expect(names.filter(has_text=re.compile(f"^{label}$"))).to_be_visible()
    expect(names.filter(has_text=re.compile("^portfolios$"))).to_have_count(2)  # bronze and silver
    for group in LAYERS:
        expect(page.locator(f'foreignObject.group [data-tooltip="{group}"]')).to_be_visible()  # expanded boxes
    expect(page.locator("path[marker-end]")).to_have_count(
        sum(len(asset_graph.get(k).parent_keys & selected) for k in selected))
    _screenshot(page, "lineage-bronze-to-gips")

    nodes, edges = _drawn_graph(page.evaluate(GRAPH_GEOMETRY))

    def drawn(key: AssetKey) -> str:
        group = asset_graph.get(key).group_name
        [name] = [n for n in nodes if n.split("/")[0] == group and _label_names(n.split("/", 1)[1], key.path[-1])]
        return name

    # exactly the selected assets, each in its group's box, and exactly their dependencies as edges
    assert sorted(drawn(k) for k in selected) == sorted(nodes)
    assert edges == {(drawn(p), drawn(k)) for k in selected for p in asset_graph.get(k).parent_keys & selected}
    assert {("bronze/portfolios", "silver/portfolios"), ("silver/portfolios", "gold/daily_returns"),
            ("gold/daily_returns", "gold/nav_history"), ("gold/daily_returns", "gips/portfolio…_returns"),
            } <= edges
    # data flows left to right, layer by layer: no edge points back to an earlier layer
    boxes = {g["name"]: g["x"] for g in page.evaluate(GRAPH_GEOMETRY)["groups"]}
    assert sorted(boxes, key=boxes.get) == list(LAYERS)
    assert all(LAYERS.index(s.split("/")[0]) <= LAYERS.index(t.split("/")[0]) for s, t in edges)
    assert all(nodes[s]["x"] < nodes[t]["x"] for s, t in edges)
    reachable, frontier = set(), ["bronze/portfolios"]
    while frontier:
        here = frontier.pop()
        reachable.add(here)
        frontier += [t for s, t in edges if s == here and t not in reachable]
    assert {"gips/annual_report", "gold/nav_history"} <= reachable


def test_an_assets_lineage_tab_lists_its_downstream_assets(ui_world, page):
    asset_graph = ui_world["world"]["defs"].resolve_asset_graph()
    children = asset_graph.get(DAILY_RETURNS).child_keys
    assert AssetKey(["gips", "portfolio_monthly_returns"]) in children
    page.goto("/assets/gold/performance/daily_returns?view=lineage&lineageScope=downstream&lineageDepth=1")
    expect(page.get_by_role("tab", name="Lineage", selected=True)).to_be_visible()
    shown = {DAILY_RETURNS, *children}  # depth 1 downstream: the asset and its direct children, nothing else
    names = page.locator('[class*="AssetNode_assetName"]')
    expect(names).to_have_count(len(shown))
    for key in shown:  # long names are shown with a middle ellipsis ("performan…_metrics")
        name = key.path[-1]
        label = re.compile(rf"^{re.escape(name)}$|^{re.escape(name[:4])}[^…]*…[^…]*{re.escape(name[-4:])}$")
        expect(names.filter(has_text=label)).to_be_visible()
    groups = page.locator('[class*="ExpandedGroupNode_groupNodeHeaderBox"] [data-tooltip]')
    expect(groups.first).to_be_visible()
    assert set(groups.evaluate_all("els => els.map((e) => e.dataset.tooltip)")) == {"gold", "gips", "distribution"} == {
        asset_graph.get(k).group_name for k in shown}
    _screenshot(page, "daily_returns-downstream")


def test_an_assets_check_history_is_visible(ui_world, page):
    world = ui_world["world"]
    verdicts = {e.check_name: e.passed for e in world["eod"].get_asset_check_evaluations() if e.asset_key == NAV}
    assert verdicts.get(DBT_NAV_CHECK) is True, verdicts
    asset_graph = world["defs"].resolve_asset_graph()
    page.goto("/assets/gold/performance/nav_history?view=checks")
    rows = page.locator('[class*="AssetChecks_checkRow"]')
    expect(rows).to_have_count(len(verdicts))
    shown = dict(rows.evaluate_all("""rows => rows.map((r) => [
        r.querySelector('[title]').getAttribute('title'), r.querySelector('span > span').textContent])"""))
    assert set(shown) == set(verdicts)
    # An unpartitioned check shows its latest verdict. A partitioned one (every_fund_has_nav) is shown for
    # its latest partition (tests/acceptance/test_auditor.py checks it day by day).
    for name, passed in verdicts.items():
        if asset_graph.get(AssetCheckKey(NAV, name)).partitions_def is None:
            assert shown[name] == ("Succeeded" if passed else "Failed"), (name, shown[name])
    _screenshot(page, "nav_history-checks")

    page.goto(f"/assets/gold/performance/nav_history?view=checks&checkDetail={DBT_NAV_CHECK}")
    expect(page.get_by_text(f"dbt test {DBT_NAV_CHECK}")).to_be_visible()  # the check's description
    expect(page.get_by_text("Latest execution")).to_be_visible()
    expect(page.get_by_text("Passed", exact=True)).to_be_visible()
    page.get_by_role("tab", name="Execution history").click()
    expect(page.get_by_role("tab", name="Execution history", selected=True)).to_be_visible()
    records = world["instance"].event_log_storage.get_asset_check_execution_history(
        AssetCheckKey(NAV, DBT_NAV_CHECK), limit=20)  # eod_batch's, and any re-run's of a day (test_end_of_day)
    evaluated = [r for r in records if r.status.value == "SUCCEEDED"]
    assert evaluated and len(evaluated) == len(records)
    expect(page.get_by_role("row").filter(has_text="Passed")).to_have_count(len(evaluated))
    _screenshot(page, "nav_history-check-execution-history")


def test_the_gips_report_page_shows_its_materialization_metadata(ui_world, page):
    metadata = ui_world["report"].metadata
    partition = f"{ui_world['composite']}|{ui_world['year']}"
    page.set_viewport_size({"width": 1920, "height": 1440})  # the metadata table down to json_sha256, unscrolled
    page.goto("/assets/gips/annual_report")
    expect(page.get_by_text(partition, exact=True)).to_be_in_viewport()  # the latest materialization
    for key in ("years_presented", "report_pdf", "report_html", "json_sha256"):
        expect(page.get_by_text(key, exact=True)).to_be_in_viewport()
    expect(page.get_by_text(metadata["json_sha256"].value, exact=True)).to_be_in_viewport()
    pdf = metadata["report_pdf"].value
    assert pdf.endswith(f"/{ui_world['composite']}/{ui_world['year']}/gips_report.pdf")
    expect(page.get_by_role("link", name=pdf)).to_be_in_viewport()
    _screenshot(page, "gips-annual_report")
