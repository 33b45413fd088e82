"""Vendor market data delivered once per trading day: Bloomberg closes and FactSet benchmark levels.

Each file is a delivery for one NYSE trading day (the partition). Loading a range of days is one
run (single-run backfill) and one Iceberg commit that replaces exactly those delivery partitions,
so re-materializing a day replaces it and never duplicates it. A late price (a close for an earlier
day in a later file) is kept with both dates; silver decides which close wins.
"""


import datetime as dt
import warnings
from dataclasses import dataclass

import orjson
from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    BackfillPolicy,
    BetaWarning,
    Definitions,
    MaterializeResult,
    MetadataValue,
    asset,
    asset_check,
)

from mesh_assets.bronze.reference import REFERENCE_KEYS, REFERENCE_TABLES
from mesh_assets.lib.lakehouse import tables
from mesh_assets.lib.lakehouse.summary_keys import BATCH_ID_KEY, FILES_KEY, PARTITIONS_KEY
from mesh_assets.lib.ownership import MARKET_DATA
from mesh_assets.shared.check_results import missing_table_result, to_check_result
from mesh_assets.shared.partitions import trading_day_partitions
from mesh_assets.shared.retries import OUTSIDE_SYSTEM_RETRY, user_errors_not_retried
from resources.iceberg import IcebergCatalogResource
from resources.s3 import LandingZoneResource, sha256_hex


@dataclass(frozen=True)
class DailyDelivery:
    """A vendor feed delivered as one CSV per trading day."""

    key: AssetKey
    table: tables.TableSpec
    path_template: str
    id_column: str
    value_column: str
    date_column: str
    reference: str
    description: str
    kinds: frozenset[str]

    def path(self, partition_key: str) -> str:
        """Landing path of the delivery for ``partition_key``."""
        return self.path_template.format(day=partition_key)


PRICES = DailyDelivery(
    key=AssetKey(["bronze", "bloomberg", "prices"]), table=tables.PRICES, path_template="bloomberg/prices/{day}.csv",
    id_column="security_id", value_column="px_last", date_column="price_date", reference="securities",
    description="Bloomberg end-of-day closes (PX_LAST) per delivery day, late prices included.",
    kinds=frozenset({"iceberg", "bloomberg"}),
)
BENCHMARKS = DailyDelivery(
    key=AssetKey(["bronze", "factset", "benchmarks"]), table=tables.BENCHMARKS,
    path_template="factset/benchmarks/{day}.csv", id_column="benchmark_id", value_column="level",
    date_column="level_date", reference="benchmarks",
    description="FactSet benchmark levels and daily returns per delivery day.",
    kinds=frozenset({"iceberg", "factset"}),
)


def load_deliveries(delivery: DailyDelivery, days: list[str], landing: LandingZoneResource, batch_id: str):
    """Read the delivery files of ``days``; return (rows, {file: sha256}, {day: rows in file})."""
    import pyarrow as pa

    from mesh_assets.bronze.file_loads import read_delivery_csv, with_audit_columns

    parts, files, counts = [], {}, {}
    ingested_at = dt.datetime.now(dt.UTC)
    for day in days:
        path = delivery.path(day)
        data = landing.read_bytes(path)
        files[landing.uri(path)] = sha256_hex(data)
        rows = read_delivery_csv(data, delivery.table.schema, landing.uri(path))
        counts[day] = rows.num_rows
        parts.append(with_audit_columns(rows, delivery.table.schema, {
            "delivery_date": dt.date.fromisoformat(day), "ingested_at": ingested_at, "batch_id": batch_id}))
    return pa.concat_tables(parts) if parts else delivery.table.schema.empty_table(), files, counts


def delivery_asset(delivery: DailyDelivery):
    """The daily-partitioned bronze asset of ``delivery``."""

    # Single-run backfills are what we want for daily deliveries (one commit per range); Dagster still
    # labels the parameter beta. Silence that label here only, not other warnings and not process-wide.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*backfill_policy.*", category=BetaWarning)
        decorate = asset(key=delivery.key, partitions_def=trading_day_partitions,
                         backfill_policy=BackfillPolicy.single_run(), group_name="bronze", owners=[MARKET_DATA],
                         kinds=set(delivery.kinds), description=delivery.description, pool="iceberg_bronze",
                         retry_policy=OUTSIDE_SYSTEM_RETRY)

    @decorate
    @user_errors_not_retried
    def _delivery(context: AssetExecutionContext, iceberg: IcebergCatalogResource,
                  landing: LandingZoneResource) -> MaterializeResult:
        import pyarrow.compute as pc

        from mesh_assets.lib.lakehouse.snapshots import overwrite_partitions

        days = list(context.partition_keys)
        rows, files, counts = load_deliveries(delivery, days, landing, context.run.run_id)
        outcome = overwrite_partitions(
            iceberg.loader(delivery.table), rows, "delivery_date", days,
            {BATCH_ID_KEY: context.run.run_id, FILES_KEY: orjson.dumps(files).decode()},
            transform=delivery.table.partition_transform,
        )
        late = pc.sum(pc.less(rows[delivery.date_column], rows["delivery_date"])).as_py() or 0
        context.log.info(f"{delivery.table.identifier}: replaced {len(days)} delivery days with {rows.num_rows} rows")
        return MaterializeResult(metadata={
            "dagster/row_count": rows.num_rows, "rows_written": outcome.rows_written, "delivery_days": len(days),
            "first_day": days[0], "last_day": days[-1], "snapshot_id": str(outcome.snapshot_id),
            "rows_per_file": MetadataValue.json(counts), "source_files_sha256": MetadataValue.json(files),
            "late_rows": late, "table": delivery.table.identifier,
        })

    return _delivery


def latest_delivery_rows(iceberg: IcebergCatalogResource, delivery: DailyDelivery):
    """(snapshot id, delivery days, rows) of the table's latest load, read from its snapshot summary (the newest
    in the ancestry that names its days: a compaction's snapshot names none)."""
    from pyiceberg.expressions import In

    from mesh_assets.lib.lakehouse.positions import latest_summary_value

    table = iceberg.table(delivery.table)
    snapshot = table.current_snapshot()
    if snapshot is None:
        return None, [], delivery.table.schema.empty_table()
    loaded_by, written = latest_summary_value(table, PARTITIONS_KEY)
    days = [d for d in (written or "").split(",") if d]
    rows = table.scan(row_filter=In("delivery_date", set(days))).to_arrow() if days else table.scan().to_arrow()
    return loaded_by if loaded_by is not None else snapshot.snapshot_id, days, rows


def delivery_checks(delivery: DailyDelivery) -> list:
    """Checks of the latest load of ``delivery``: values, required fields, known ids, count vs files."""
    samples = ["source_file", "source_line", delivery.id_column, delivery.date_column, delivery.value_column]

    @asset_check(asset=delivery.key, name=f"{delivery.value_column}_positive", blocking=True,
                 description=f"Every {delivery.value_column} in the latest deliveries is present and > 0.")
    def value_positive(iceberg: IcebergCatalogResource) -> AssetCheckResult:
        from mesh_assets.lib.quality.rules import positive_values

        snapshot_id, days, rows = latest_delivery_rows(iceberg, delivery)
        if snapshot_id is None:
            return missing_table_result(delivery.table.identifier, f"materialize {delivery.key.to_user_string()}")
        return to_check_result(positive_values(rows, delivery.value_column, samples),
                               snapshot_id=str(snapshot_id), delivery_days=days)

    @asset_check(asset=delivery.key, name="required_fields_present", blocking=True,
                 description=f"Rows carry {delivery.id_column} and {delivery.date_column}.")
    def required_fields_present(iceberg: IcebergCatalogResource) -> AssetCheckResult:
        from mesh_assets.lib.quality.rules import required_values

        snapshot_id, days, rows = latest_delivery_rows(iceberg, delivery)
        verdict = required_values(rows, [delivery.id_column, delivery.date_column], samples)
        return to_check_result(verdict, snapshot_id=str(snapshot_id), delivery_days=days)

    @asset_check(asset=delivery.key, name="known_ids", additional_deps=[REFERENCE_KEYS[delivery.reference]],
                 description=f"Every {delivery.id_column} exists in reference {delivery.reference}.")
    def known_ids(iceberg: IcebergCatalogResource) -> AssetCheckResult:
        from mesh_assets.lib.quality.rules import known_values

        ref = REFERENCE_TABLES[delivery.reference]
        known = set(iceberg.table(ref).scan(selected_fields=(delivery.id_column,)).to_arrow()[
            delivery.id_column].to_pylist())
        snapshot_id, days, rows = latest_delivery_rows(iceberg, delivery)
        verdict = known_values(rows, delivery.id_column, known, ref.identifier, samples)
        return to_check_result(verdict, snapshot_id=str(snapshot_id), delivery_days=days)

    @asset_check(asset=delivery.key, name="row_count_matches_source",
                 description="Rows per delivery day equal the data lines of that day's file.")
    def row_count_matches_source(iceberg: IcebergCatalogResource, landing: LandingZoneResource) -> AssetCheckResult:
        from mesh_assets.lib.quality.rules import counts_match

        snapshot_id, days, rows = latest_delivery_rows(iceberg, delivery)
        _, _, expected = load_deliveries(delivery, days, landing, "check")
        actual_table = rows.group_by("delivery_date").aggregate([([], "count_all")])
        actual = {d.isoformat(): n for d, n in zip(actual_table["delivery_date"].to_pylist(),
                                                   actual_table["count_all"].to_pylist(), strict=True)}
        verdict = counts_match(expected, actual, f"{delivery.table.identifier} latest load")
        return to_check_result(verdict, snapshot_id=str(snapshot_id))

    return [value_positive, required_fields_present, known_ids, row_count_matches_source]


def defs() -> Definitions:
    """Market-data assets and checks."""
    return Definitions(
        assets=[delivery_asset(PRICES), delivery_asset(BENCHMARKS)],
        asset_checks=[*delivery_checks(PRICES), *delivery_checks(BENCHMARKS)],
    )
