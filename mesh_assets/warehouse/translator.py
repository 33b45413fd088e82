"""How dbt nodes become Dagster assets: keys ``[layer, domain, table]``, groups, owners, freshness.

Plain functions over manifest dictionaries, used both to declare the assets (without dagster-dbt)
and by the dagster-dbt translator that maps dbt's events back to those assets when dbt runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from dagster import AssetKey, FreshnessPolicy

from mesh_assets.lib.ownership import CLIENT_SERVICES, DATA_PLATFORM, INVESTMENT_OPERATIONS, MARKET_DATA, PERFORMANCE

#: dbt tag of the models rebuilt per trading-day window (the ``gold_daily`` multi-asset).
DAILY_TAG = "daily"

#: Owner team of each domain.
DOMAIN_OWNERS = {
    "aladdin": INVESTMENT_OPERATIONS,
    "holdings": INVESTMENT_OPERATIONS,
    "market": MARKET_DATA,
    "performance": PERFORMANCE,
    "analytics": PERFORMANCE,
    "salesforce": CLIENT_SERVICES,
    "clients": CLIENT_SERVICES,
    "products": CLIENT_SERVICES,  # the data products published to ADX
    "reference": DATA_PLATFORM,
    "quality": DATA_PLATFORM,
}

#: NAV of a trading day is due by 17:00 New York the next weekday (the EOD batch runs at 18:00).
NAV_FRESHNESS = FreshnessPolicy.cron(
    deadline_cron="0 17 * * 2-6", lower_bound_delta=timedelta(hours=24), timezone="America/New_York"
)
FRESHNESS = {AssetKey(["gold", "performance", "nav_history"]): NAV_FRESHNESS}


def node_meta(props: Mapping[str, Any]) -> Mapping[str, Any]:
    """A node's meta (dbt keeps it under ``config.meta``, and mirrors it at the top level)."""
    return (props.get("config") or {}).get("meta") or props.get("meta") or {}


def relation_name(props: Mapping[str, Any]) -> str:
    """The table a model or seed builds: its alias (the model name without the layer prefix)."""
    layer = node_meta(props).get("layer")
    name = props["name"]
    return props.get("alias") or (name.removeprefix(f"{layer}_") if layer else name)


def node_asset_key(props: Mapping[str, Any]) -> AssetKey:
    """``[layer, domain, table]`` for models and seeds; the bronze asset's key for sources."""
    meta = node_meta(props)
    if props["resource_type"] == "source":
        key = (meta.get("dagster") or {}).get("asset_key")
        return AssetKey(key) if key else AssetKey([props["source_name"], props["name"]])
    if "layer" not in meta or "domain" not in meta:
        raise ValueError(
            f"dbt node {props['unique_id']} has no meta.layer/meta.domain: put it under a folder configured in "
            "dbt_project.yml"
        )
    return AssetKey([meta["layer"], meta["domain"], relation_name(props)])


def node_group(props: Mapping[str, Any]) -> str | None:
    """The layer (``silver`` or ``gold``) is the group."""
    return node_meta(props).get("layer")


def node_owners(props: Mapping[str, Any]) -> list[str]:
    """The team owning the node's domain."""
    return [DOMAIN_OWNERS.get(node_meta(props).get("domain", ""), DATA_PLATFORM)]


def is_daily(props: Mapping[str, Any]) -> bool:
    """A model or seed rebuilt per trading-day window (dbt tag ``daily``, set by ``daily_config()``)."""
    return DAILY_TAG in (props.get("tags") or [])


def node_tags(props: Mapping[str, Any]) -> dict[str, str]:
    """Dagster tags of a model or seed: its layer, and ``mesh/cadence=daily`` for the daily models."""
    return {"mesh/layer": node_meta(props).get("layer", ""), **({"mesh/cadence": "daily"} if is_daily(props) else {})}


def dagster_dbt_translator() -> Any:
    """The dagster-dbt translator giving the same specs as :mod:`mesh_assets.warehouse.dbt_specs` (a unit test
    builds the assets with ``@dbt_assets`` and it, and proves them equal). Imports dagster-dbt: call it only
    when dbt runs."""
    from dagster import AssetSpec
    from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

    class MeshDbtTranslator(DagsterDbtTranslator):
        def get_asset_spec(self, manifest: Mapping[str, Any], unique_id: str, project: Any) -> AssetSpec:
            spec = super().get_asset_spec(manifest, unique_id, project)
            props = self.get_resource_props(manifest, unique_id)
            if props["resource_type"] == "source":
                return spec.replace_attributes(key=node_asset_key(props))
            key = node_asset_key(props)
            return spec.replace_attributes(key=key, group_name=node_group(props), owners=node_owners(props),
                                           tags=node_tags(props), freshness_policy=FRESHNESS.get(key))

        def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> AssetKey:
            return node_asset_key(dbt_resource_props)

    return MeshDbtTranslator(DagsterDbtTranslatorSettings(enable_asset_checks=True))
