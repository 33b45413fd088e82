"""Bronze jobs: the daily vendor deliveries, and the unpartitioned sources."""

from dagster import AssetSelection, define_asset_job

from jobs.executors import CHAIN
from mesh_assets.bronze.market_data import BENCHMARKS, PRICES

DAILY_DELIVERIES = AssetSelection.assets(PRICES.key, BENCHMARKS.key)

#: Bloomberg closes and FactSet levels for a range of trading days (one run per range).
bronze_daily_job = define_asset_job(
    name="bronze_daily_deliveries",
    selection=DAILY_DELIVERIES,
    description="Load the vendor deliveries (Bloomberg closes, FactSet levels) for trading days.",
    executor_def=CHAIN,  # two loads that share the one-slot iceberg_bronze pool
)

#: CDC micro-batch, reference snapshots and Salesforce: the unpartitioned sources.
bronze_snapshot_job = define_asset_job(
    name="bronze_sources",
    selection=AssetSelection.groups("bronze") - DAILY_DELIVERIES,
    description="Catch up Aladdin CDC, reload reference data and copy Salesforce changes.",
    executor_def=CHAIN,  # 44 short steps: a process each (even forked from a forkserver) costs more than they do
)
