"""The Aladdin CDC micro-batch job, launched by the CDC sensor with explicit offset ranges."""

from dagster import AssetSelection, define_asset_job

from jobs.executors import CHAIN
from mesh_assets.bronze.aladdin_cdc import CASH_FLOWS_KEY, DEAD_LETTERS_KEY, TRADES_KEY
from mesh_assets.bronze.cdc_range_attempts import CDC_JOB_NAME
from mesh_assets.bronze.cdc_stall_checks import check_keys

aladdin_cdc_job = define_asset_job(
    name=CDC_JOB_NAME,
    # The flow checks (partition_stalled, range_retries_exhausted) are evaluated by the sensor, not per run.
    selection=(AssetSelection.assets(TRADES_KEY, CASH_FLOWS_KEY, DEAD_LETTERS_KEY)
               - AssetSelection.checks(*check_keys())),
    description="Consume bounded offset ranges of an Aladdin CDC topic's partitions into bronze, exactly once.",
    executor_def=CHAIN,  # one ingest step, then its checks: a chain
)
