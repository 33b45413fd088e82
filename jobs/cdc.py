"""The Aladdin CDC micro-batch job, launched by the CDC sensor with explicit offset ranges."""

from dagster import AssetSelection, define_asset_job

from jobs.executors import CHAIN
from mesh_assets.bronze.aladdin_cdc import CASH_FLOWS_KEY, DEAD_LETTERS_KEY, TRADES_KEY

aladdin_cdc_job = define_asset_job(
    name="aladdin_cdc_microbatch",
    selection=AssetSelection.assets(TRADES_KEY, CASH_FLOWS_KEY, DEAD_LETTERS_KEY),
    description="Consume one bounded offset range of an Aladdin CDC topic partition into bronze, exactly once.",
    executor_def=CHAIN,  # one ingest step, then its checks: a chain
)
