"""Publishing data products to AWS Data Exchange for one trading day (or a backfill of days).

The latest day publishes itself (the revision assets are eager: they run when the day's gold product
lands); this job publishes a chosen day or range on demand.
"""

from __future__ import annotations

from dagster import AssetSelection, define_asset_job

from jobs.executors import CHAIN

adx_publish_job = define_asset_job(
    name="adx_publish",
    selection=AssetSelection.groups("adx"),
    description="One finalized ADX revision per data product and tenant for a trading day, behind the PII, "
                "schema, key and NAV checks.",
    tags={"mesh/batch": "adx"},
    executor_def=CHAIN,  # the revisions share the one-slot adx_publish pool
)
