"""Asset and check specs of the dbt project, read straight from its manifest (no dagster-dbt import)."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dagster import AssetCheckSpec, AssetDep, AssetKey, AssetSpec, PartitionsDefinition

from mesh_assets.warehouse.translator import (
    FRESHNESS,
    is_daily,
    node_asset_key,
    node_group,
    node_meta,
    node_owners,
    node_tags,
)

ASSET_RESOURCE_TYPES = ("model", "seed", "snapshot")


@dataclass
class DbtSpecs:
    """The assets and checks of one slice of the dbt project, and how they map back to dbt nodes."""

    assets: list[AssetSpec] = field(default_factory=list)
    checks: list[AssetCheckSpec] = field(default_factory=list)
    unique_id_by_key: dict[AssetKey, str] = field(default_factory=dict)


def _is_asset(props: Mapping[str, Any]) -> bool:
    materialized = (props.get("config") or {}).get("materialized")
    return props["resource_type"] in ASSET_RESOURCE_TYPES and materialized != "ephemeral"


def _node(manifest: Mapping[str, Any], unique_id: str) -> Mapping[str, Any]:
    return manifest["nodes"].get(unique_id) or manifest["sources"][unique_id]


def _description(props: Mapping[str, Any]) -> str:
    code = props.get("raw_code") or ""
    lead = props.get("description") or f"dbt {props['resource_type']} {props['name']}"
    return f"{lead}\n\n#### Raw SQL:\n```sql\n{code}\n```" if code else lead


def _code_version(props: Mapping[str, Any]) -> str | None:
    """sha1 of the SQL; a seed (no SQL) is versioned by dbt's checksum of its file (dagster-dbt's rule)."""
    code = props.get("raw_code") or ""
    return hashlib.sha1(code.encode()).hexdigest() if code else (props.get("checksum") or {}).get("checksum")


def _attached_node(manifest: Mapping[str, Any], test: Mapping[str, Any]) -> str | None:
    """The node a dbt test checks: its attached node, or its only parent (same rule as dagster-dbt)."""
    parents = set(test.get("depends_on", {}).get("nodes", []))
    if len(parents) == 1:
        return next(iter(parents))
    ref = (node_meta(test).get("dagster") or {}).get("ref")
    if ref:
        for unique_id, props in manifest["nodes"].items():
            if props["name"] == ref["name"] and props["resource_type"] in ASSET_RESOURCE_TYPES:
                return unique_id
    return test.get("attached_node")


def dbt_specs(manifest: Mapping[str, Any], daily: bool, partitions_def: PartitionsDefinition | None) -> DbtSpecs:
    """Specs of the models and seeds tagged ``daily`` (``daily=True``, with ``partitions_def``) or of
    all the others, with one check per dbt test attached to them."""
    specs = DbtSpecs()
    adapter = manifest.get("metadata", {}).get("adapter_type") or "dbt"
    for unique_id, props in manifest["nodes"].items():
        if not _is_asset(props) or is_daily(props) != daily:
            continue
        key = node_asset_key(props)
        deps = []
        for parent_id in props.get("depends_on", {}).get("nodes", []):
            parent = _node(manifest, parent_id)
            if parent["resource_type"] in (*ASSET_RESOURCE_TYPES, "source") and (
                parent["resource_type"] == "source" or _is_asset(parent)
            ):
                deps.append(AssetDep(node_asset_key(parent)))
        specs.assets.append(AssetSpec(
            key=key,
            deps=deps,
            description=_description(props),
            group_name=node_group(props),
            owners=node_owners(props),
            kinds={"dbt", adapter},
            tags=node_tags(props),
            metadata={
                "dbt/unique_id": unique_id,
                "dbt/materialized": (props.get("config") or {}).get("materialized", ""),
                "dagster/relation_identifier": f"{props['schema']}.{props.get('alias') or props['name']}",
                "dbt/path": props.get("original_file_path", ""),
            },
            code_version=_code_version(props),
            partitions_def=partitions_def if daily else None,
            freshness_policy=FRESHNESS.get(key),
            skippable=True,
        ))
        specs.unique_id_by_key[key] = unique_id
    keys_by_id = {unique_id: key for key, unique_id in specs.unique_id_by_key.items()}
    for unique_id, test in manifest["nodes"].items():
        if test["resource_type"] != "test":
            continue
        attached = _attached_node(manifest, test)
        if attached not in keys_by_id:
            continue
        parents = test.get("depends_on", {}).get("nodes", [])
        others = {node_asset_key(_node(manifest, p)) for p in parents if p != attached}
        severity = ((test.get("config") or {}).get("severity") or "error").lower()
        specs.checks.append(AssetCheckSpec(
            name=test["name"],
            asset=keys_by_id[attached],
            description=test.get("description") or f"dbt test {test['name']}",
            additional_deps=sorted(others - {keys_by_id[attached]}, key=str),
            blocking=severity == "error",
            metadata={"dbt/unique_id": unique_id, "dbt/severity": severity},
        ))
    return specs
