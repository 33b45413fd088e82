"""The data engineer reads the lineage through GraphQL and the UI: every asset comes from a source, every
asset has its group, kinds and owners, and nothing floats unconnected."""

import re
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import expect

# the first test of the session also waits for the shared world (tests/acceptance/conftest.py)
pytestmark = [pytest.mark.integration, pytest.mark.acceptance, pytest.mark.timeout(1800)]


REPO = Path(__file__).resolve().parents[2]
DEAD_LETTERS = "bronze/aladdin/dead_letters"


def _key(node: dict) -> str:
    return "/".join(node["assetKey"]["path"])


def test_every_asset_is_reachable_from_a_source_and_none_is_an_orphan(mesh):
    nodes = {_key(n): n for n in mesh["gql"].asset_nodes()}
    parents = {k: {"/".join(d["path"]) for d in n["dependencyKeys"]} for k, n in nodes.items()}
    children = {k: {"/".join(d["path"]) for d in n["dependedByKeys"]} for k, n in nodes.items()}
    # Sources: the Kafka topics (external assets), the bronze loaders of vendor files and APIs, and the dbt
    # seeds (CSV files in the repository). An asset reading nothing else must be one of them.
    seed_files = {path.stem.split("_", 1)[1] for path in (REPO / "dbt_project" / "seeds").glob("*.csv")}
    seeds = {k for k in nodes if k.split("/")[0] == "silver" and k.rsplit("/", 1)[1] in seed_files}
    assert len(seeds) == len(seed_files)
    roots = {k for k in nodes if not parents[k]}
    not_sources = sorted(k for k in roots if nodes[k]["groupName"] not in ("sources", "bronze") and k not in seeds)
    assert not_sources == [], f"assets that read from no source: {not_sources}"
    topics = {k for k in nodes if nodes[k]["groupName"] == "sources"}
    assert topics and topics <= roots and not any(nodes[k]["isExecutable"] for k in topics)  # declared, not built
    reached, frontier = set(roots), list(roots)
    while frontier:
        here = frontier.pop()
        for child in children[here] - reached:
            reached.add(child)
            frontier.append(child)
    assert reached == set(nodes)
    orphans = sorted(k for k in nodes if not parents[k] and not children[k])
    assert orphans == [], f"assets with neither an upstream nor a downstream asset: {orphans}"
    # the CDC step writes its dead letters from the same topics as the trades it parses
    assert parents["bronze/aladdin/dead_letters"] >= {k for k in parents["bronze/aladdin/trades"]
                                                        if nodes[k]["isObservable"] or not nodes[k]["isExecutable"]}
    assert parents["bronze/aladdin/dead_letters"], "dead letters have no source"


def test_every_asset_has_a_group_kinds_and_owners(mesh):
    nodes = mesh["gql"].asset_nodes()
    missing = [(_key(n), n["groupName"], n["kinds"], n["owners"]) for n in nodes
               if not n["groupName"] or n["groupName"] == "default" or not n["kinds"] or not n["owners"]]
    assert missing == []
    groups = {n["groupName"] for n in nodes}
    assert {"bronze", "silver", "gold", "gips"} <= groups


def test_the_ui_draws_the_dead_letters_downstream_of_the_kafka_topics(mesh, page):
    nodes = {_key(n): n for n in mesh["gql"].asset_nodes()}
    parents = sorted("/".join(p["path"]) for p in nodes[DEAD_LETTERS]["dependencyKeys"])
    assert parents, "dead letters have no upstream asset"
    groups = sorted({nodes[k]["groupName"] for k in [DEAD_LETTERS, *parents]})
    selection = f'+key:"{DEAD_LETTERS}"'  # the asset and its direct parents, as typed in the UI's search
    expanded = ",".join(f"global@global:{group}" for group in groups)
    page.goto(f"/asset-groups~{quote(selection, safe='')}/?expanded={expanded}")
    names = page.locator('[class*="AssetNode_assetName"]')
    expect(names).to_have_count(1 + len(parents))
    for key in [DEAD_LETTERS, *parents]:
        expect(names.filter(has_text=re.compile(f"^{re.escape(key.rsplit('/', 1)[1])}$"))).to_be_visible()
    expect(page.locator("path[marker-end]")).to_have_count(len(parents))  # one edge from each topic
