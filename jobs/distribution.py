"""Distribution: publish a trading day's gold NAV and performance figures to Kafka, on demand or as a backfill."""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from jobs.executors import CHAIN

distribution_publish_job = define_asset_job(
    name="distribution_publish", selection=AssetSelection.groups("distribution"),
    description="Publish the gold NAV and performance figures of a trading day (or a backfill of days) to Kafka.",
    tags={"mesh/batch": "distribution"},
    executor_def=CHAIN,  # the publications share the one-slot distribution pool: a chain
)
