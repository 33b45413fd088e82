"""The `aws` environment as far as it runs offline: Glue catalog + S3 warehouse + S3 landing and reports.

moto's server (`ThreadedMotoServer`) stands in for Glue and S3 (no local implementation of either
exists); everything else is the production code path: `resources_for("aws")` picks the backends from
the environment, pyiceberg's Glue catalog writes Iceberg metadata and Parquet to S3, the bronze assets
read vendor files from the S3 landing zone. `MESH_AWS_ENDPOINT_URL` is the only addition, the same
setting a VPC endpoint or LocalStack would use.
"""

import datetime as dt
import json

import pytest
from dagster import AssetKey, build_resources, instance_for_test, materialize

from mesh_assets.lib.trading_calendar import trading_days

pytestmark = pytest.mark.integration

BUCKETS = ("mesh-landing", "mesh-lake", "mesh-reports")


@pytest.fixture
def moto_aws(monkeypatch):
    """A moto server for Glue and S3 on 127.0.0.1, with the buckets, and fake credentials in the env."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
    for bucket in BUCKETS:
        s3.create_bucket(Bucket=bucket)
    try:
        yield {"url": url, "s3": s3, "glue": boto3.client("glue", endpoint_url=url, region_name="us-east-1")}
    finally:
        server.stop()


@pytest.fixture
def aws_env(moto_aws, small_firm, monkeypatch):
    """MESH_ENV=aws with every setting, the firm's files uploaded to the S3 landing zone."""
    from resources.environment import AWS_SETTINGS

    values = {
        "MESH_ENV": "aws", "AWS_REGION": "us-east-1", "MESH_ICEBERG_WAREHOUSE": "s3://mesh-lake/warehouse",
        "MESH_LANDING_ROOT": "s3://mesh-landing/firm", "MESH_REPORTS_ROOT": "s3://mesh-reports/published",
        "MESH_ADX_STAGING_ROOT": "s3://mesh-adx/staging",
        "MESH_ATHENA_WORKGROUP": "mesh", "MESH_ATHENA_STAGING_DIR": "s3://mesh-lake/athena-results/",
        "MESH_ATHENA_DATA_DIR": "s3://mesh-lake/tables/", "MESH_KAFKA_BOOTSTRAP": "b-1.msk.example:9092",
        "SALESFORCE_USERNAME": "integration@example.com", "SALESFORCE_PASSWORD": "unused-offline",
        "SALESFORCE_SECURITY_TOKEN": "unused-offline", "SALESFORCE_DOMAIN": "test",
        "MESH_AWS_ENDPOINT_URL": moto_aws["url"], "MESH_ALERT_WEBHOOK_URL": "http://127.0.0.1:9/hooks/unused",
    }
    assert set(AWS_SETTINGS) <= set(values), "a new aws setting: give it a value here"
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    uploaded = 0
    for path in sorted(small_firm.rglob("*")):
        if path.is_file() and path.parts[len(small_firm.parts)] in ("reference", "bloomberg", "factset"):
            key = f"firm/{path.relative_to(small_firm).as_posix()}"
            moto_aws["s3"].put_object(Bucket="mesh-landing", Key=key, Body=path.read_bytes())
            uploaded += 1
    assert uploaded > 10
    return {**moto_aws, "firm": small_firm}


def test_bronze_loads_into_glue_iceberg_tables_on_s3_from_the_s3_landing_zone(aws_env):
    from mesh_assets.bronze import market_data, reference
    from resources.environment import resources_for

    resources = resources_for("aws")
    assert resources["iceberg"].catalog_type == "glue"
    manifest = json.loads((aws_env["firm"] / "firm.json").read_text())
    day = trading_days(dt.date.fromisoformat(manifest["end_date"]) - dt.timedelta(days=7),
                       dt.date.fromisoformat(manifest["end_date"]))[-1].isoformat()
    refs, deliveries = reference.defs(), market_data.defs()
    with instance_for_test() as instance:
        loaded = materialize([*refs.assets, *refs.asset_checks], resources=resources, instance=instance)
        assert loaded.success
        assert all(e.passed for e in loaded.get_asset_check_evaluations())
        daily = materialize([*refs.assets, *deliveries.assets], resources=resources, instance=instance,
                            selection=[market_data.PRICES.key, market_data.BENCHMARKS.key], partition_key=day)
        assert daily.success
        again = materialize([*refs.assets, *deliveries.assets], resources=resources, instance=instance,
                            selection=[market_data.PRICES.key], partition_key=day)
        assert again.success

    # the Glue catalog holds Iceberg tables whose metadata and data live in the S3 warehouse
    glue_tables = aws_env["glue"].get_tables(DatabaseName="bronze")["TableList"]
    by_name = {t["Name"]: t for t in glue_tables}
    assert {"reference_portfolios", "reference_composites", "bloomberg_prices", "factset_benchmarks"} <= set(by_name)
    location = by_name["bloomberg_prices"]["Parameters"]["metadata_location"]
    assert location.startswith("s3://mesh-lake/warehouse/") and by_name["bloomberg_prices"]["Parameters"][
        "table_type"].upper() == "ICEBERG"
    objects = aws_env["s3"].list_objects_v2(Bucket="mesh-lake", Prefix="warehouse/")["KeyCount"]
    assert objects > 0

    with build_resources({"iceberg": resources["iceberg"]}) as built:  # resolves the EnvVars as a run does
        catalog = built.iceberg.catalog()
    prices = catalog.load_table("bronze.bloomberg_prices").scan().to_arrow()
    expected = (aws_env["firm"] / "bloomberg" / "prices" / f"{day}.csv").read_text().strip().splitlines()
    assert prices.num_rows == len(expected) - 1  # the day's delivery once, though it was loaded twice
    portfolios = catalog.load_table("bronze.reference_portfolios").scan().to_arrow()
    assert portfolios.num_rows == len(manifest_portfolios(aws_env["firm"]))
    event = materialization(loaded, AssetKey(["bronze", "reference", "portfolios"]))
    assert str(event.metadata["snapshot_id"].value) == str(catalog.load_table(
        "bronze.reference_portfolios").current_snapshot().snapshot_id)


def test_reports_are_published_to_s3_with_their_checksum(aws_env):
    import hashlib

    from resources.environment import resources_for

    with build_resources({"reports": resources_for("aws")["reports"]}) as built:
        store = built.reports
    written = store.write("gips/COMP-01/2026/gips_report.json", b'{"ok": true}\n', "application/json")
    assert written["uri"] == "s3://mesh-reports/published/gips/COMP-01/2026/gips_report.json"
    body = aws_env["s3"].get_object(Bucket="mesh-reports", Key="published/gips/COMP-01/2026/gips_report.json")
    assert body["Body"].read() == b'{"ok": true}\n'
    assert written["sha256"] == hashlib.sha256(b'{"ok": true}\n').hexdigest()


def manifest_portfolios(firm) -> list[str]:
    lines = (firm / "reference" / "portfolios.csv").read_text().strip().splitlines()
    return lines[1:]


def materialization(result, key: AssetKey):
    [event] = [e.materialization for e in result.get_asset_materialization_events() if e.asset_key == key]
    return event


def test_athena_results_come_back_named_and_typed(moto_aws):
    """WarehouseResource on Athena (pyathena against moto's Athena with a predefined result): names and types
    from ColumnInfo (decimals as doubles), the header row dropped, nulls kept. The GIPS, ADX and entitlement
    code reads columns by name."""
    import datetime as dt

    import requests

    from resources.warehouse import WarehouseResource

    # ColumnInfo as Athena returns it (Precision, Scale and Nullable are always present; pyathena reads them).
    boto_athena_columns = [{"Name": name, "Type": kind, "Precision": precision, "Scale": scale, "Nullable": "UNKNOWN"}
                           for name, kind, precision, scale in [
                               ("as_of_date", "date", 0, 0), ("portfolio_id", "varchar", 2147483647, 0),
                               ("nav", "decimal", 18, 4), ("is_large_flow", "boolean", 0, 0)]]
    header = {"Data": [{"VarCharValue": c["Name"]} for c in boto_athena_columns]}
    rows = [{"Data": [{"VarCharValue": "2026-10-30"}, {"VarCharValue": "P-0001"}, {"VarCharValue": "1250.5"},
                      {"VarCharValue": "false"}]},
            {"Data": [{"VarCharValue": "2026-10-30"}, {"VarCharValue": "P-0002"}, {}, {"VarCharValue": "true"}]}]
    requests.post(f"{moto_aws['url']}/moto-api/static/athena/query-results", timeout=10, json={
        "account_id": "123456789012", "region": "us-east-1",
        "results": [{"rows": [header, *rows], "column_info": boto_athena_columns}],
    }).raise_for_status()
    warehouse = WarehouseResource(engine="athena", athena_workgroup="primary", region="us-east-1",
                                  endpoint_url=moto_aws["url"])
    table = warehouse.query("select as_of_date, portfolio_id, nav, is_large_flow from gold.product_nav_history")
    assert table.column_names == ["as_of_date", "portfolio_id", "nav", "is_large_flow"]
    assert table.to_pylist() == [
        {"as_of_date": dt.date(2026, 10, 30), "portfolio_id": "P-0001", "nav": 1250.5, "is_large_flow": False},
        {"as_of_date": dt.date(2026, 10, 30), "portfolio_id": "P-0002", "nav": None, "is_large_flow": True},
    ]


def test_table_maintenance_on_aws_bin_packs_through_athena_and_expires_on_glue(moto_aws, monkeypatch):
    """`aws`: compaction is Athena's `OPTIMIZE ... REWRITE DATA USING BIN_PACK` (moto records the statement, it
    runs nothing), snapshot expiry is pyiceberg on the Glue catalog, keeping the snapshots carrying positions."""
    import boto3

    from mesh_assets.lib.cdc.records import OffsetRange
    from mesh_assets.lib.lakehouse.exactly_once import append_exactly_once
    from mesh_assets.lib.lakehouse.positions import committed_positions
    from mesh_assets.lib.lakehouse.tables import DEAD_LETTERS
    from mesh_assets.maintenance.assets import iceberg_table_maintenance
    from resources.iceberg import IcebergCatalogResource
    from resources.warehouse import WarehouseResource
    from tests.integration.test_table_maintenance import dead_letters

    for name, value in {"MESH_SNAPSHOT_RETENTION_DAYS": "0", "MESH_SNAPSHOT_KEEP_LAST": "2",
                        "MESH_COMPACTION_MIN_SMALL_FILES": "3"}.items():
        monkeypatch.setenv(name, value)
    iceberg = IcebergCatalogResource(catalog_type="glue", warehouse="s3://mesh-lake/maintenance", region="us-east-1",
                                     endpoint_url=moto_aws["url"])
    load = iceberg.loader(DEAD_LETTERS)
    for batch in range(6):
        append_exactly_once(load, [OffsetRange("aladdin.trades", 0, batch * 10, batch * 10 + 10)],
                            dead_letters(0, [batch * 10 + 3]))
    positions = committed_positions(load())
    newest_two = [
        s.snapshot_id for s in sorted(load().snapshots(), key=lambda s: s.sequence_number)][-2:]
    warehouse = WarehouseResource(engine="athena", athena_workgroup="primary", region="us-east-1",
                                  endpoint_url=moto_aws["url"])
    with instance_for_test() as instance:
        result = materialize([iceberg_table_maintenance], resources={"iceberg": iceberg, "warehouse": warehouse},
                             instance=instance)
    assert result.success
    athena = boto3.client("athena", endpoint_url=moto_aws["url"], region_name="us-east-1")
    statements = [athena.get_query_execution(QueryExecutionId=i)["QueryExecution"]["Query"]
                  for i in athena.list_query_executions()["QueryExecutionIds"]]
    # (moto keeps one state per process: other tests' queries and Glue tables may be there too)
    assert "OPTIMIZE bronze.aladdin_dead_letters REWRITE DATA USING BIN_PACK" in statements
    table = load()
    # moto's OPTIMIZE wrote nothing; the newest two stay (MESH_SNAPSHOT_KEEP_LAST=2; the newest carries positions)
    assert sorted(s.snapshot_id for s in table.snapshots()) == sorted(newest_two)
    assert committed_positions(table) == positions
    assert table.scan().to_arrow().num_rows == 6
    checks = {c.check_name: c for c in result.get_asset_check_evaluations()}
    assert all(c.passed for c in checks.values()), {n: c.description for n, c in checks.items()}
    [event] = [e.materialization for e in result.get_asset_materialization_events()]
    row = {t["table"]: t for t in event.metadata["per_table"].value}["bronze.aladdin_dead_letters"]
    assert event.metadata["engine"].value == "athena" and row["snapshots_expired"] == 4
