"""The silver/gold assets built from the manifest (mesh_assets/warehouse/assets.py, no dagster-dbt at load) equal
the ones dagster-dbt builds with ``DbtProject`` + ``@dbt_assets`` + the project's translator: the same keys, deps,
groups, owners, kinds, tags, partitions, backfill policy, code versions, freshness and dbt-test checks."""

from collections.abc import Mapping
from typing import Any

import pytest
from dagster import AssetKey, AssetsDefinition

from mesh_assets.warehouse.assets import build_dbt_assets
from tests.support.dbt_reference_assets import reference_dbt_assets


def _by_name(assets: list[AssetsDefinition]) -> dict[str, AssetsDefinition]:
    return {a.node_def.name: a for a in assets}


@pytest.fixture(scope="module")
def both() -> tuple[dict[str, AssetsDefinition], dict[str, AssetsDefinition]]:
    return _by_name(build_dbt_assets()), _by_name(reference_dbt_assets())


def _spec_view(spec: Any, unique_id: str) -> dict[str, Any]:
    return {
        "unique_id": unique_id,
        "deps": sorted(str(d.asset_key) for d in spec.deps),
        "group": spec.group_name,
        "owners": sorted(spec.owners),
        "kinds": sorted(spec.kinds),
        "tags": dict(spec.tags),
        "code_version": spec.code_version,
        "partitions": spec.partitions_def,
        "freshness": spec.freshness_policy,
        "skippable": spec.skippable,
        "lead": (spec.description or "").split("\n\n")[0],
    }


def _specs(assets: AssetsDefinition, unique_id_key: str) -> dict[AssetKey, dict[str, Any]]:
    return {s.key: _spec_view(s, s.metadata[unique_id_key]) for s in assets.specs}


def _dbt_checks(assets: AssetsDefinition, unique_id_key: str) -> dict[Any, dict[str, Any]]:
    """The checks that are dbt tests (ours also carries Python checks, which dagster-dbt knows nothing of)."""
    return {c.key: {"unique_id": c.metadata[unique_id_key], "blocking": c.blocking,
                    "additional_deps": sorted(str(d.asset_key) for d in c.additional_deps)}
            for c in assets.check_specs if unique_id_key in (c.metadata or {})}


def test_same_multi_assets(both):
    ours, reference = both
    assert set(ours) == set(reference) == {"silver_gold_tables", "gold_daily"}


@pytest.mark.parametrize("name", ["silver_gold_tables", "gold_daily"])
def test_same_asset_specs(both, name):
    ours, reference = both[0][name], both[1][name]
    mine, theirs = _specs(ours, "dbt/unique_id"), _specs(reference, "dagster_dbt/unique_id")
    assert set(mine) == set(theirs)
    assert len(mine) > 5
    for key in mine:
        assert mine[key] == theirs[key], key


@pytest.mark.parametrize("name", ["silver_gold_tables", "gold_daily"])
def test_same_partitions_backfill_policy_and_pool(both, name):
    ours, reference = both[0][name], both[1][name]
    assert ours.partitions_def == reference.partitions_def
    assert ours.backfill_policy == reference.backfill_policy
    assert ours.can_subset == reference.can_subset is True
    assert ours.node_def.pools == reference.node_def.pools
    if name == "gold_daily":
        assert ours.partitions_def is not None and ours.backfill_policy is not None
    else:
        assert ours.partitions_def is None


@pytest.mark.parametrize("name", ["silver_gold_tables", "gold_daily"])
def test_same_dbt_test_checks(both, name):
    ours, reference = both[0][name], both[1][name]
    mine, theirs = _dbt_checks(ours, "dbt/unique_id"), _dbt_checks(reference, "dagster_dbt/unique_id")
    assert len(theirs) > 10
    assert set(mine) == set(theirs)
    for key in mine:
        assert mine[key] == theirs[key], key


def test_translator_maps_every_manifest_node_like_the_specs():
    """The translator dbt runs with (events -> asset keys) resolves every model, seed and source to the key
    the specs declare."""
    from mesh_assets.warehouse.project import load_manifest
    from mesh_assets.warehouse.translator import dagster_dbt_translator, node_asset_key

    manifest: Mapping[str, Any] = load_manifest()
    translator = dagster_dbt_translator()
    nodes = {**manifest["sources"], **{u: n for u, n in manifest["nodes"].items()
                                       if n["resource_type"] in ("model", "seed")}}
    for unique_id, props in nodes.items():
        assert translator.get_asset_spec(manifest, unique_id, None).key == node_asset_key(props), unique_id
