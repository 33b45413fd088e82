"""One ``dbt build`` inside a Dagster step: the selected models, vars from the partition window, and
dbt's results turned into materializations (with row counts) and check results."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from dagster import (
    AssetCheckEvaluation,
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    AssetMaterialization,
    Failure,
    MaterializeResult,
    MetadataValue,
)

from resources.dbt import DbtWarehouseResource
from resources.warehouse import WarehouseResource


def window_vars(context: AssetExecutionContext) -> dict[str, str]:
    """``start_date``/``end_date`` of the run's partition range (one day, or a single-run backfill)."""
    if context.assets_def.partitions_def is None or not context.has_partition_key_range:
        return {}
    keys = context.partition_key_range
    return {"start_date": keys.start, "end_date": keys.end}


def relation_of(key: AssetKey) -> str:
    """``layer.table`` of a silver/gold asset key ``[layer, domain, table]``."""
    layer, _domain, table = key.path
    return f"{layer}.{table}"


def row_counts(
    warehouse: WarehouseResource, keys: list[AssetKey], window: Mapping[str, str], daily_column: str = "as_of_date"
) -> dict[AssetKey, dict[str, int]]:
    """Rows of each built table (and of the window's days, for daily tables), read after dbt exits."""
    if not keys:
        return {}
    parts = []
    for key in keys:
        relation = relation_of(key)
        window_count = (
            f"sum(case when {daily_column} between date '{window['start_date']}' and date '{window['end_date']}' "
            "then 1 else 0 end)" if window else "cast(null as bigint)"
        )
        parts.append(f"select '{relation}' as relation, count(*) as total_rows, {window_count} as window_rows "
                     f"from {relation}")
    result = warehouse.query(" union all ".join(parts)).to_pylist()
    by_relation = {row["relation"]: row for row in result}
    return {key: by_relation.get(relation_of(key), {}) for key in keys}


def _dbt_events(invocation: Any, manifest: Mapping[str, Any], translator: Any, errors: list[str]) -> Iterator[Any]:
    for raw in invocation.stream_raw_events():
        info = raw.raw_event.get("info", {})
        if info.get("level") == "error":
            errors.append(info.get("msg", ""))
        yield from raw.to_default_asset_events(manifest=manifest, dagster_dbt_translator=translator,
                                               target_path=invocation.target_path)


def run_dbt(
    context: AssetExecutionContext,
    dbt: DbtWarehouseResource,
    warehouse: WarehouseResource,
    manifest: Mapping[str, Any],
    unique_id_by_key: Mapping[AssetKey, str],
    extra_vars: Mapping[str, Any] | None = None,
) -> Iterator[Any]:
    """``dbt build`` of the selected models with their tests.

    Yields a materialization per built model (row counts, the window of days, the dbt vars, dbt's
    timing) and a check result per dbt test. A failed model or error-severity test fails the step
    after everything that did build has been reported, naming the failing nodes and their messages.
    """
    from mesh_assets.silver_gold.translator import dagster_dbt_translator

    window = window_vars(context)
    dbt_vars = {**window, **(extra_vars or {})}
    selected = sorted(manifest["nodes"][unique_id_by_key[key]]["name"] for key in context.selected_asset_keys)
    # Unit tests (hand-built cases) run in the test suite, not in production builds.
    args = ["build", "--select", " ".join(selected), "--exclude", "test_type:unit",
            "--indirect-selection", "buildable", *(["--vars", json.dumps(dbt_vars)] if dbt_vars else [])]
    context.log.info(f"dbt {' '.join(args)}")
    invocation = dbt.cli(args, manifest=manifest, dagster_dbt_translator=dagster_dbt_translator(),
                         raise_on_error=False)
    errors: list[str] = []
    events = list(_dbt_events(invocation, manifest, invocation.dagster_dbt_translator, errors))
    built = [e.asset_key for e in events if isinstance(e, AssetMaterialization)]
    counts = row_counts(warehouse, built, window)
    expected_checks = set(context.selected_asset_check_keys)
    for event in events:
        if isinstance(event, AssetMaterialization):
            count = counts.get(event.asset_key, {})
            metadata = {**event.metadata, "dagster/row_count": MetadataValue.int(int(count.get("total_rows") or 0)),
                        "dbt_vars": MetadataValue.json(dbt_vars)}
            if count.get("window_rows") is not None:
                metadata["window_row_count"] = MetadataValue.int(int(count["window_rows"]))
            yield MaterializeResult(asset_key=event.asset_key, metadata=metadata)
        elif isinstance(event, AssetCheckEvaluation):
            if event.asset_check_key in expected_checks:
                yield AssetCheckResult(asset_key=event.asset_key, check_name=event.check_name, passed=event.passed,
                                       severity=event.severity, metadata=event.metadata,
                                       description=event.description)
        else:
            yield event
    if not invocation.is_successful():
        failures = _failures(invocation) or errors or [str(invocation.get_error())]
        raise Failure(
            description=f"dbt build failed: {'; '.join(failures[:5]) or 'see the dbt logs'}",
            metadata={"failed_nodes": MetadataValue.json(failures), "dbt_errors": MetadataValue.json(errors[:20])},
        )


def _failures(invocation: Any) -> list[str]:
    try:
        results = invocation.get_artifact("run_results.json")["results"]
    except Exception:
        return []
    return [f"{r['unique_id']}: {r.get('message') or r['status']}" for r in results
            if r["status"] in ("error", "fail", "runtime error")]
