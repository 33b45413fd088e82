"""One ``dbt build`` inside a Dagster step: the selected models, vars from the partition window, and
dbt's results turned into materializations (with row counts) and check results."""

from __future__ import annotations

import json
import shutil
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

from mesh_assets.warehouse.dbt_stream import read_in_background, stop_dbt
from mesh_assets.warehouse.dbt_test_details import describe_test
from mesh_assets.warehouse.dbt_windows import EarlierPieces, build_windows
from resources.dbt import DbtWarehouseResource
from resources.iceberg import IcebergCatalogResource
from resources.warehouse import WarehouseResource


def window_vars(context: AssetExecutionContext) -> dict[str, str]:
    """``start_date``/``end_date`` of the run's partition range (one day, or a single-run backfill); none for
    an unpartitioned run (the models' defaults: all history). ``has_partition_key_range`` is false for a
    one-day run, so both are asked: a day's run builds that day, not all history."""
    if context.assets_def.partitions_def is None:
        return {}
    if context.has_partition_key_range:
        keys = context.partition_key_range
        return {"start_date": keys.start, "end_date": keys.end}
    if context.has_partition_key:
        return {"start_date": context.partition_key, "end_date": context.partition_key}
    return {}


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


def source_tables(manifest: Mapping[str, Any], unique_id: str) -> set[str]:
    """``schema.table`` of every dbt source (bronze Iceberg table) a node reads directly."""
    parents = manifest["nodes"][unique_id].get("depends_on", {}).get("nodes", [])
    return {f"{manifest['sources'][p]['schema']}.{manifest['sources'][p]['name']}" for p in parents
            if p.startswith("source.")}


def bronze_snapshot_ids(iceberg: IcebergCatalogResource | None, manifest: Mapping[str, Any],
                        unique_ids: list[str]) -> dict[str, int | None]:
    """Current snapshot id of every bronze Iceberg table the selected models read (directly)."""
    if iceberg is None:
        return {}
    catalog = iceberg.catalog()
    ids: dict[str, int | None] = {}
    for identifier in sorted(set().union(*(source_tables(manifest, u) for u in unique_ids))):
        snapshot = catalog.load_table(identifier).current_snapshot() if catalog.table_exists(identifier) else None
        ids[identifier] = snapshot.snapshot_id if snapshot else None
    return ids


def ensure_worker_tables(iceberg: IcebergCatalogResource | None, manifest: Mapping[str, Any],
                         unique_ids: list[str]) -> list[str]:
    """Have the catalog create the worker-written tables the selected models read (see
    :meth:`resources.iceberg.IcebergCatalogResource.ensure_worker_tables`); the identifiers it created."""
    if iceberg is None:
        return []
    return iceberg.ensure_worker_tables(set().union(*(source_tables(manifest, u) for u in unique_ids)))


#: The line macros/row_counts.sql logs after each model: this prefix and a JSON object.
ROW_COUNTS_LOG = "mesh.row_counts "


def _dbt_events(invocation: Any, manifest: Mapping[str, Any], translator: Any, errors: list[str],
                counts: dict[str, dict[str, Any]]) -> Iterator[Any]:
    """dagster-dbt's events of the invocation; the models' logged row counts go to ``counts`` by unique id."""
    for raw in invocation.stream_raw_events():
        info = raw.raw_event.get("info", {})
        message = info.get("msg", "")
        if isinstance(message, str) and message.startswith(ROW_COUNTS_LOG):
            record = json.loads(message[len(ROW_COUNTS_LOG):])
            counts[record["unique_id"]] = record
            continue
        if info.get("level") == "error":
            errors.append(message)
        yield from raw.to_default_asset_events(manifest=manifest, dagster_dbt_translator=translator,
                                               target_path=invocation.target_path)


def run_dbt(
    context: AssetExecutionContext,
    dbt: DbtWarehouseResource,
    warehouse: WarehouseResource,
    manifest: Mapping[str, Any],
    unique_id_by_key: Mapping[AssetKey, str],
    extra_vars: Mapping[str, Any] | None = None,
    iceberg: IcebergCatalogResource | None = None,
) -> Iterator[Any]:
    """``dbt build`` of the selected models with their tests.

    Yields a materialization per built model (row counts, the window of days, the dbt vars, dbt's
    timing, and, for models reading bronze, the Iceberg snapshot ids they read) and a check result per
    dbt test. A failed model or error-severity test fails the step
    after everything that did build has been reported, naming the failing nodes and their messages.
    A range longer than the resource's ``days_per_build`` is built a piece at a time
    (:mod:`mesh_assets.warehouse.dbt_windows`) and reported as one build.
    """
    window = window_vars(context)
    selected_ids = [unique_id_by_key[key] for key in context.selected_asset_keys]
    selected = sorted(manifest["nodes"][u]["name"] for u in selected_ids)
    if not selected:  # only Python checks of this step were selected: nothing for dbt to build
        context.log.info("no dbt model selected: dbt does not run")
        return
    ensure_worker_tables(iceberg, manifest, selected_ids)
    snapshots_before = bronze_snapshot_ids(iceberg, manifest, selected_ids)
    days = list(context.partition_keys) if window and context.has_partition_key_range else []
    pieces = build_windows(window, days, dbt.days_per_build)
    build = _Build(context, dbt, warehouse, manifest, unique_id_by_key, iceberg, snapshots_before,
                   reported_vars={**window, **(extra_vars or {})}, pieces=pieces)
    for number in range(1, len(pieces) + 1):
        yield from build.invoke(selected, number, extra_vars or {})


class _Build:
    """One step's dbt build, in one invocation or one per piece of its range."""

    def __init__(self, context: AssetExecutionContext, dbt: DbtWarehouseResource, warehouse: WarehouseResource,
                 manifest: Mapping[str, Any], unique_id_by_key: Mapping[AssetKey, str],
                 iceberg: IcebergCatalogResource | None, snapshots_before: Mapping[str, int | None],
                 reported_vars: Mapping[str, Any], pieces: list[dict[str, str]]) -> None:
        self.context, self.dbt, self.warehouse, self.manifest = context, dbt, warehouse, manifest
        self.unique_id_by_key, self.iceberg, self.snapshots_before = unique_id_by_key, iceberg, snapshots_before
        self.reported_vars = dict(reported_vars)
        if len(pieces) > 1:
            self.reported_vars["built_in_pieces"] = pieces
        self.pieces = pieces
        self.earlier = EarlierPieces()

    def _report(self, event: AssetMaterialization, count: Mapping[str, Any]) -> MaterializeResult:
        unique_id = self.unique_id_by_key[event.asset_key]
        return _materialization(event, self.earlier.count(unique_id, count), self.reported_vars, self.manifest,
                                unique_id, self.iceberg, self.snapshots_before)

    def invoke(self, selected: list[str], number: int, extra_vars: Mapping[str, Any]) -> Iterator[Any]:
        """One ``dbt build`` over piece ``number`` (from 1). The final piece reports as dbt goes; an earlier one is
        recorded, and reported only if it fails (then the step fails there)."""
        from mesh_assets.warehouse.translator import dagster_dbt_translator

        piece, final, several = self.pieces[number - 1], number == len(self.pieces), len(self.pieces) > 1
        if several:
            self.context.log.info(f"dbt builds {piece['start_date']}..{piece['end_date']} "
                                  f"({number} of {len(self.pieces)})")
        # The tenant views are (re)created by the first piece (they exist once its tables do) and the last.
        middle = {"tenant_views": False} if 1 < number < len(self.pieces) else {}
        dbt_vars = {**piece, **extra_vars, **middle}
        # Unit tests (hand-built cases) run in the test suite, not in production builds.
        args = ["build", "--select", " ".join(selected), "--exclude", "test_type:unit",
                "--indirect-selection", "buildable", *(["--vars", json.dumps(dbt_vars)] if dbt_vars else [])]
        self.context.log.info(f"dbt {' '.join(args)}")
        invocation = self.dbt.cli(args, manifest=self.manifest, dagster_dbt_translator=dagster_dbt_translator(),
                                  raise_on_error=False)
        try:
            errors: list[str] = []
            counts: dict[str, dict[str, Any]] = {}
            checks: list[AssetCheckEvaluation] = []
            # A model whose counts were not logged, and every one after it (the order must stay topological), is
            # counted once dbt has exited; an earlier piece's models all wait for it.
            deferred: list[AssetMaterialization] = []
            stream = _dbt_events(invocation, self.manifest, invocation.dagster_dbt_translator, errors, counts)
            for event in read_in_background(stream):
                if isinstance(event, AssetMaterialization):
                    unique_id = self.unique_id_by_key[event.asset_key]
                    if deferred or unique_id not in counts or not final:
                        deferred.append(event)
                        continue
                    yield self._report(event, counts[unique_id])
                elif isinstance(event, AssetCheckEvaluation):
                    checks.append(event)  # described below: a failing test's rows are read from the warehouse
                else:
                    yield event
            # dbt has exited: the warehouse can be read (DuckDB has one writer) and run_results.json exists
            late = row_counts(self.warehouse, [e.asset_key for e in deferred
                                               if self.unique_id_by_key[e.asset_key] not in counts], dict(piece))
            piece_counts = {self.unique_id_by_key[e.asset_key]: counts.get(self.unique_id_by_key[e.asset_key])
                            or late.get(e.asset_key, {}) for e in deferred}
            results = self._check_results(invocation, checks)
            failed = not invocation.is_successful()
            if not (final or failed):
                self.earlier.add(piece, piece_counts, results)
                return
            for event in deferred:
                yield self._report(event, piece_counts[self.unique_id_by_key[event.asset_key]])
            for result in results:
                yield self.earlier.combined(piece, result)
            if failed:
                failures = _failures(invocation) or errors or [str(invocation.get_error())]
                where = f" on {piece['start_date']}..{piece['end_date']} (piece {number} of {len(self.pieces)}; " \
                        "the later pieces were not built)" if several else ""
                raise Failure(
                    description=f"dbt build failed{where}: {'; '.join(failures[:5]) or 'see the dbt logs'}",
                    metadata={"failed_nodes": MetadataValue.json(failures),
                              "dbt_errors": MetadataValue.json(errors[:20])},
                )
        finally:
            stop_dbt(invocation)
            # Each invocation has its own target folder (artifacts, logs); its events are read by now.
            self.dbt.keep_parse(args, invocation)
            shutil.rmtree(invocation.target_path, ignore_errors=True)

    def _check_results(self, invocation: Any, checks: list[AssetCheckEvaluation]) -> list[AssetCheckResult]:
        """The selected tests' results, each with what it asserts and, when it failed, a sample of its rows."""
        expected_checks = set(self.context.selected_asset_check_keys)
        test_results = _run_results_by_id(invocation)
        results = []
        for event in checks:
            if event.asset_check_key in expected_checks:
                unique_id = event.metadata.get("unique_id")
                described, details = describe_test(self.manifest, test_results, self.warehouse, unique_id.value) \
                    if unique_id is not None else (None, {})
                results.append(AssetCheckResult(
                    asset_key=event.asset_key, check_name=event.check_name, passed=event.passed,
                    severity=event.severity, metadata={**event.metadata, **details},
                    description=event.description or described))
        return results


def _materialization(event: AssetMaterialization, count: Mapping[str, Any], dbt_vars: Mapping[str, Any],
                     manifest: Mapping[str, Any], unique_id: str, iceberg: IcebergCatalogResource | None,
                     snapshots_before: Mapping[str, int | None]) -> MaterializeResult:
    """dbt's materialization of one model with its row counts, the window and the bronze snapshots it read (the
    snapshot ids now, read when the model is reported, tell whether bronze committed while it was built)."""
    reads = sorted(source_tables(manifest, unique_id))
    after = bronze_snapshot_ids(iceberg, manifest, [unique_id]) if reads else {}
    return MaterializeResult(asset_key=event.asset_key, metadata={
        **event.metadata,
        **_audit_metadata(count, dbt_vars, {t: snapshots_before.get(t) for t in reads}, after),
    })


def _audit_metadata(count: Mapping[str, Any], dbt_vars: Mapping[str, Any], reads: Mapping[str, int | None],
                    snapshots_after: Mapping[str, int | None]) -> dict[str, Any]:
    """Row counts, the dbt vars (window) and the bronze snapshots a model read. The snapshot ids are
    exact unless bronze committed while dbt ran; then the table is named with both ids."""
    metadata: dict[str, Any] = {"dagster/row_count": MetadataValue.int(int(count.get("total_rows") or 0)),
                                "dbt_vars": MetadataValue.json(dict(dbt_vars))}
    if count.get("window_rows") is not None:
        metadata["window_row_count"] = MetadataValue.int(int(count["window_rows"]))
    if reads:
        metadata["bronze_snapshot_ids"] = MetadataValue.json(dict(reads))
        changed = {t: [sid, snapshots_after.get(t)] for t, sid in reads.items() if snapshots_after.get(t) != sid}
        if changed:
            metadata["bronze_changed_during_run"] = MetadataValue.json(changed)
    return metadata


def _run_results_by_id(invocation: Any) -> dict[str, Any]:
    """dbt's ``run_results.json`` of the invocation, by node unique id (empty if dbt wrote none)."""
    try:
        return {r["unique_id"]: r for r in invocation.get_artifact("run_results.json")["results"]}
    except Exception:
        return {}


def _failures(invocation: Any) -> list[str]:
    try:
        results = invocation.get_artifact("run_results.json")["results"]
    except Exception:
        return []
    return [f"{r['unique_id']}: {r.get('message') or r['status']}" for r in results
            if r["status"] in ("error", "fail", "runtime error")]
