"""The weekly maintenance of every Iceberg table the catalog holds: compaction, then snapshot expiry.

One asset walks the catalog (bronze, CDC, dead letters, audit, GIPS, the trade hot table, whatever it holds):
each table is compacted by the environment's :class:`~mesh_assets.maintenance.compactors.TableCompactor`,
then its snapshots are expired through pyiceberg by the keep rule of
:mod:`mesh_assets.lib.lakehouse.snapshot_retention`. Its checks re-read every table afterwards.
"""

import datetime as dt
from dataclasses import dataclass, field

from dagster import (
    AssetCheckResult,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    Definitions,
    MaterializeResult,
    MetadataValue,
    asset,
)

from mesh_assets.lib.ownership import DATA_PLATFORM
from resources.iceberg import IcebergCatalogResource
from resources.warehouse import WarehouseResource

MAINTENANCE_KEY = AssetKey(["maintenance", "iceberg", "tables"])
POSITIONS_CHECK = "source_position_snapshots_kept"
ROWS_CHECK = "row_counts_unchanged"
FILES_CHECK = "files_and_snapshots"


@dataclass
class TableReport:
    """What maintenance did to one table, and what the tables looked like before and after."""

    table: str
    files_before: int = 0
    files_after: int = 0
    snapshots_before: int = 0
    snapshots_after: int = 0
    rows_before: int = 0
    rows_after: int = 0
    compaction: str = ""
    expired: list[int] = field(default_factory=list)
    files_deleted: int = 0
    files_not_deleted: list[str] = field(default_factory=list)
    kept_reasons: dict[str, int] = field(default_factory=dict)
    needed: dict[int, list[str]] = field(default_factory=dict)
    position_carriers: list[int] = field(default_factory=list)
    missing_needed: list[int] = field(default_factory=list)
    snapshot_id_after: int | None = None
    error: str | None = None

    def as_row(self) -> dict:
        """The table's figures for the materialization's metadata (snapshot ids as strings)."""
        return {"table": self.table, "files_before": self.files_before, "files_after": self.files_after,
                "snapshots_before": self.snapshots_before, "snapshots_after": self.snapshots_after,
                "snapshots_expired": len(self.expired), "expired_files_deleted": self.files_deleted,
                "expired_files_not_deleted": self.files_not_deleted, "rows_before": self.rows_before,
                "rows_after": self.rows_after,
                "compaction": self.compaction, "kept_by_reason": self.kept_reasons,
                "needed_snapshot_ids": [str(i) for i in sorted(self.needed)],
                "needed_because": {str(i): why for i, why in sorted(self.needed.items())},
                "position_carrier_ids": [str(i) for i in self.position_carriers],
                "expired_snapshot_ids_first_20": [str(i) for i in self.expired[:20]],
                "current_snapshot_id": str(self.snapshot_id_after), "error": self.error}


def catalog_tables(iceberg: IcebergCatalogResource) -> list[str]:
    """Every table of every namespace in the catalog, as ``namespace.table``, sorted."""
    catalog = iceberg.catalog()
    names = []
    for namespace in catalog.list_namespaces():
        for identifier in catalog.list_tables(namespace):
            names.append(".".join(identifier))
    return sorted(names)


def maintain_table(iceberg: IcebergCatalogResource, identifier: str, compactor, policy, small_file_bytes: int
                   ) -> TableReport:
    """Compact then expire one table; the report re-reads it after (a failure is recorded, not raised)."""
    from mesh_assets.lib.lakehouse.table_maintenance import expire_snapshots, table_figures

    catalog = iceberg.catalog()

    def load():
        return catalog.load_table(identifier)

    report = TableReport(identifier)
    try:
        before = table_figures(load(), small_file_bytes)
        report.files_before, report.snapshots_before, report.rows_before = (before.data_files, before.snapshots,
                                                                            before.rows)
        compaction = compactor.compact(load)
        report.compaction = compaction.reason
        expiry = expire_snapshots(load, policy)
        report.expired, report.needed = expiry.expired, expiry.plan.anchors
        report.files_deleted, report.files_not_deleted = expiry.files.deleted, expiry.files.failures
        report.kept_reasons = expiry.plan.reasons_by_count()
        report.position_carriers = expiry.plan.position_carriers()
        after_table = load()
        left_by_us = compaction.snapshot_id if compaction.compacted else before.snapshot_id
        after = table_figures(after_table, small_file_bytes)
        # rows at the snapshot maintenance left (a writer may have committed since); gone only if it was old and
        # superseded, then the current snapshot is counted
        kept_ours = left_by_us is not None and after_table.snapshot_by_id(left_by_us) is not None
        at_ours = table_figures(after_table, small_file_bytes, left_by_us) if kept_ours else after
        report.files_after, report.snapshots_after, report.rows_after = (after.data_files, after.snapshots,
                                                                         at_ours.rows)
        report.missing_needed = sorted(i for i in report.needed if i not in after.snapshot_ids)
        report.snapshot_id_after = after.snapshot_id
    except Exception as error:  # one table's failure is reported and the others are still maintained
        report.error = f"{type(error).__name__}: {error}"[:500]
    return report


def maintenance_verdicts(reports: list[TableReport]) -> list[AssetCheckResult]:
    """The three checks of a maintenance run from its per-table reports (each says why, with counts)."""
    failed = [r.table for r in reports if r.error]
    missing = {r.table: [str(i) for i in r.missing_needed] for r in reports if r.missing_needed}
    carriers = {r.table: len(r.needed) for r in reports if r.needed}
    changed = {r.table: [r.rows_before, r.rows_after] for r in reports if not r.error and r.rows_before != r.rows_after}
    totals = (f"files {sum(r.files_before for r in reports)} -> {sum(r.files_after for r in reports)}, snapshots "
              f"{sum(r.snapshots_before for r in reports)} -> {sum(r.snapshots_after for r in reports)} over "
              f"{len(reports)} tables, {sum(r.files_deleted for r in reports)} files of expired snapshots deleted")
    undeleted = {r.table: r.files_not_deleted for r in reports if r.files_not_deleted}
    return [
        AssetCheckResult(
            check_name=POSITIONS_CHECK, passed=not missing and not failed,
            description=(f"{len(missing)} tables lost snapshots their readers need: {sorted(missing)[:5]}" if missing
                         else f"maintenance failed on {failed[:5]}" if failed else
                         f"every snapshot carrying committed source positions or read by a check is still there "
                         f"({sum(carriers.values())} snapshots over {len(carriers)} tables)"),
            metadata={"tables": len(reports), "needed_snapshots": sum(carriers.values()),
                      "missing": MetadataValue.json(missing), "failed_tables": MetadataValue.json(failed),
                      "needed_by_table": MetadataValue.json(carriers)}),
        AssetCheckResult(
            check_name=ROWS_CHECK, passed=not changed and not failed,
            description=(f"row counts changed in {sorted(changed)[:5]}" if changed else
                         f"maintenance failed on {failed[:5]}" if failed else
                         f"every table holds the rows it held before ({len(reports)} tables)"),
            metadata={"tables": len(reports), "rows": sum(r.rows_after for r in reports),
                      "changed": MetadataValue.json(changed)}),
        AssetCheckResult(
            check_name=FILES_CHECK, passed=not failed,
            description=(f"could not maintain {len(failed)} tables: {failed[:5]}; " if failed else "") + totals
                        + (f"; {len(undeleted)} tables kept files that could not be deleted (storage only)"
                           if undeleted else ""),
            metadata={"files_before": sum(r.files_before for r in reports),
                      "expired_files_deleted": sum(r.files_deleted for r in reports),
                      "expired_files_not_deleted": MetadataValue.json(undeleted),
                      "files_after": sum(r.files_after for r in reports),
                      "snapshots_before": sum(r.snapshots_before for r in reports),
                      "snapshots_after": sum(r.snapshots_after for r in reports),
                      "per_table": MetadataValue.json({r.table: {k: v for k, v in r.as_row().items() if k in (
                          "files_before", "files_after", "snapshots_before", "snapshots_after", "kept_by_reason",
                          "position_carrier_ids")}
                          for r in reports})}),
    ]


#: The bronze Iceberg tables the job compacts and expires, drawn upstream of it in the lineage (it maintains every
#: table of the catalog; these are the ones an asset of another domain writes).
MAINTAINED_BRONZE = [AssetKey(["bronze", *path.split("/")]) for path in (
    "aladdin/trades", "aladdin/cash_flows", "aladdin/dead_letters", "bloomberg/prices", "factset/benchmarks",
    "reference/benchmarks", "reference/clients", "reference/composites", "reference/portfolios",
    "reference/securities", "salesforce/accounts", "salesforce/contracts")]


@asset(
    key=MAINTENANCE_KEY, group_name="maintenance", owners=[DATA_PLATFORM], kinds={"iceberg"},
    deps=MAINTAINED_BRONZE,
    check_specs=[
        AssetCheckSpec(POSITIONS_CHECK, asset=MAINTENANCE_KEY,
                       description="No snapshot carrying committed source positions (or read by a check) was expired."),
        AssetCheckSpec(ROWS_CHECK, asset=MAINTENANCE_KEY,
                       description="Every table holds as many rows after maintenance as before."),
        AssetCheckSpec(FILES_CHECK, asset=MAINTENANCE_KEY,
                       description="Files and snapshots before and after, per table; fails if a table could not be "
                                   "maintained."),
    ],
    description="Every Iceberg table compacted and its old snapshots expired, keeping those the readers need.",
)
def iceberg_table_maintenance(context: AssetExecutionContext, iceberg: IcebergCatalogResource,
                              warehouse: WarehouseResource) -> MaterializeResult:
    """Compact and expire every table of the catalog; per-table figures in the metadata, verdicts in the checks."""
    from mesh_assets.lib.lakehouse.snapshot_retention import RetentionPolicy
    from mesh_assets.maintenance.compactors import compactor_for
    from resources.settings import mesh_settings

    settings = mesh_settings()
    small_file_bytes = settings.mesh_compaction_small_file_mb * 1024 * 1024
    compactor = compactor_for(warehouse, small_file_bytes, settings.mesh_compaction_min_small_files, iceberg.name)
    cutoff = dt.datetime.now(dt.UTC) - dt.timedelta(days=settings.mesh_snapshot_retention_days)
    policy = RetentionPolicy(int(cutoff.timestamp() * 1000), max(1, settings.mesh_snapshot_keep_last))
    reports = []
    for identifier in catalog_tables(iceberg):
        report = maintain_table(iceberg, identifier, compactor, policy, small_file_bytes)
        context.log.info(f"{identifier}: files {report.files_before} -> {report.files_after}, snapshots "
                         f"{report.snapshots_before} -> {report.snapshots_after}"
                         + (f"; FAILED {report.error}" if report.error else ""))
        reports.append(report)
    return MaterializeResult(
        metadata={"tables": len(reports), "engine": compactor.engine,
                  "retention_days": settings.mesh_snapshot_retention_days, "keep_last": policy.keep_last,
                  "cutoff": cutoff.isoformat(), "small_file_mb": settings.mesh_compaction_small_file_mb,
                  "snapshots_expired": sum(len(r.expired) for r in reports),
                  "expired_files_deleted": sum(r.files_deleted for r in reports),
                  "files_before": sum(r.files_before for r in reports),
                  "files_after": sum(r.files_after for r in reports),
                  "per_table": MetadataValue.json([r.as_row() for r in reports])},
        check_results=maintenance_verdicts(reports),
    )


def defs() -> Definitions:
    """The maintenance asset with its checks."""
    return Definitions(assets=[iceberg_table_maintenance])
