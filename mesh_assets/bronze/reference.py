"""Reference data (clients, composites, portfolios, securities, benchmarks) from Aladdin's exports.

Each export is a full snapshot: a load replaces the table, and loading the same file again (same
SHA-256) writes nothing.
"""


import datetime as dt

from dagster import (
    AssetCheckResult,
    AssetExecutionContext,
    AssetKey,
    Definitions,
    MaterializeResult,
    asset,
    asset_check,
)

from mesh_assets.lib.lakehouse.tables import BRONZE, Columns, TableSpec
from mesh_assets.lib.ownership import DATA_PLATFORM
from mesh_assets.shared.check_results import to_check_result
from mesh_assets.shared.retries import OUTSIDE_SYSTEM_RETRY, user_errors_not_retried
from resources.iceberg import IcebergCatalogResource
from resources.s3 import LandingZoneResource, sha256_hex

_AUDIT: Columns = (
    ("source_file", "string"), ("source_line", "int32"), ("source_sha256", "string"), ("ingested_at", "timestamp"),
    ("batch_id", "string"),
)


def _schema(*fields: tuple[str, str]) -> Columns:
    return (*fields, *_AUDIT)


S, D, F, B = "string", "date", "double", "bool"

#: Reference tables by name; the first column is the key.
REFERENCE_TABLES: dict[str, TableSpec] = {
    "clients": TableSpec(BRONZE, "reference_clients", _schema(
        ("client_id", S), ("client_name", S), ("tenant_id", S), ("aws_account_id", S), ("salesforce_account_id", S),
        ("region", S))),
    "composites": TableSpec(BRONZE, "reference_composites", _schema(
        ("composite_id", S), ("composite_name", S), ("strategy", S), ("benchmark_id", S), ("currency", S),
        ("inception_date", D), ("creation_date", D), ("description", S), ("min_portfolio_size", F),
        ("significant_cash_flow_pct", F))),
    "portfolios": TableSpec(BRONZE, "reference_portfolios", _schema(
        ("portfolio_id", S), ("portfolio_name", S), ("client_id", S), ("strategy", S), ("benchmark_id", S),
        ("composite_id", S), ("base_currency", S), ("fee_schedule", S), ("discretionary", B), ("inception_date", D),
        ("termination_date", D))),
    "securities": TableSpec(BRONZE, "reference_securities", _schema(
        ("security_id", S), ("figi", S), ("ticker", S), ("security_name", S), ("asset_class", S), ("sector", S),
        ("currency", S), ("country", S))),
    "benchmarks": TableSpec(BRONZE, "reference_benchmarks", _schema(
        ("benchmark_id", S), ("benchmark_name", S), ("provider", S), ("currency", S))),
}

DESCRIPTIONS = {
    "clients": "Clients of the firm with their tenant, AWS account and Salesforce account ids.",
    "composites": "GIPS composites: strategy, benchmark, membership policy parameters.",
    "portfolios": "Portfolios: client, strategy, benchmark, fee schedule, composite, inception and termination.",
    "securities": "Security master: FIGI, ticker, asset class, sector, currency.",
    "benchmarks": "Benchmarks the composites and portfolios are measured against.",
}

#: Foreign keys: (table, column) -> referenced table. Nullable columns may be empty.
FOREIGN_KEYS = {
    ("portfolios", "client_id"): "clients",
    ("portfolios", "composite_id"): "composites",
    ("portfolios", "benchmark_id"): "benchmarks",
    ("composites", "benchmark_id"): "benchmarks",
}
REQUIRED = {
    "clients": ["client_id", "tenant_id", "aws_account_id", "salesforce_account_id"],
    "composites": ["composite_id", "benchmark_id", "inception_date", "creation_date"],
    "portfolios": ["portfolio_id", "client_id", "benchmark_id", "inception_date", "discretionary"],
    "securities": ["security_id", "figi", "currency"],
    "benchmarks": ["benchmark_id"],
}

REFERENCE_KEYS: dict[str, AssetKey] = {name: AssetKey(["bronze", "reference", name]) for name in REFERENCE_TABLES}


def _key_column(name: str) -> str:
    return REFERENCE_TABLES[name].column_names[0]


def reference_asset(name: str):
    """The bronze asset loading ``reference/<name>.csv``."""
    spec = REFERENCE_TABLES[name]
    path = f"reference/{name}.csv"

    @asset(key=REFERENCE_KEYS[name], group_name="bronze", owners=[DATA_PLATFORM], kinds={"iceberg", "csv"},
           description=DESCRIPTIONS[name], retry_policy=OUTSIDE_SYSTEM_RETRY)
    @user_errors_not_retried
    def _reference(context: AssetExecutionContext, iceberg: IcebergCatalogResource,
                   landing: LandingZoneResource) -> MaterializeResult:
        from mesh_assets.bronze.file_loads import read_delivery_csv, with_audit_columns
        from mesh_assets.lib.lakehouse.snapshots import replace_if_changed

        data = landing.read_bytes(path)
        digest = sha256_hex(data)
        rows = read_delivery_csv(data, spec.schema, landing.uri(path))
        rows = with_audit_columns(rows, spec.schema, {"source_sha256": digest, "batch_id": context.run.run_id,
                                                      "ingested_at": dt.datetime.now(dt.UTC)})
        outcome = replace_if_changed(iceberg.loader(spec), rows, digest, {"mesh.batch.id": context.run.run_id})
        return MaterializeResult(metadata={
            "dagster/row_count": rows.num_rows, "rows_in_file": rows.num_rows, "rows_written": outcome.rows_written,
            "replaced": outcome.committed, "snapshot_id": str(outcome.snapshot_id), "source_file": landing.uri(path),
            "source_sha256": digest, "table": spec.identifier,
        })

    _reference.__name__ = f"bronze_reference_{name}"
    return _reference


def _scan(iceberg: IcebergCatalogResource, name: str):
    return iceberg.table(REFERENCE_TABLES[name]).scan().to_arrow()


def reference_checks(name: str) -> list:
    """Key uniqueness, required values and foreign keys of one reference table."""
    key = _key_column(name)
    samples = [key, "source_file", "source_line"]

    @asset_check(asset=REFERENCE_KEYS[name], name="unique_key", blocking=True,
                 description=f"{key} identifies exactly one row.")
    def unique_key(iceberg: IcebergCatalogResource) -> AssetCheckResult:
        from mesh_assets.lib.quality.rules import no_duplicates

        return to_check_result(no_duplicates(_scan(iceberg, name), [key]))

    @asset_check(asset=REFERENCE_KEYS[name], name="required_fields_present", blocking=True,
                 description=f"Rows carry {', '.join(REQUIRED[name])}.")
    def required_fields_present(iceberg: IcebergCatalogResource) -> AssetCheckResult:
        from mesh_assets.lib.quality.rules import required_values

        return to_check_result(required_values(_scan(iceberg, name), REQUIRED[name], samples))

    checks = [unique_key, required_fields_present]
    for (table, column), target in FOREIGN_KEYS.items():
        if table != name:
            continue

        def _make(column: str = column, target: str = target):
            @asset_check(asset=REFERENCE_KEYS[name], name=f"known_{column}", additional_deps=[REFERENCE_KEYS[target]],
                         description=f"Every {column} exists in {target}.")
            def known(iceberg: IcebergCatalogResource) -> AssetCheckResult:
                from mesh_assets.lib.quality.rules import known_values

                target_key = _key_column(target)
                known_ids = set(_scan(iceberg, target)[target_key].to_pylist())
                verdict = known_values(_scan(iceberg, name), column, known_ids,
                                       REFERENCE_TABLES[target].identifier, [*samples, column])
                return to_check_result(verdict)

            return known

        checks.append(_make())
    return checks


def defs() -> Definitions:
    """Reference assets and their checks."""
    return Definitions(
        assets=[reference_asset(name) for name in REFERENCE_TABLES],
        asset_checks=[check for name in REFERENCE_TABLES for check in reference_checks(name)],
    )
