"""A Great Expectations 1.x suite on silver closes, run as an asset check inside the dbt step.

``dagster-ge`` does not support GX 1.x, so the suite runs on an ephemeral GX context here. GX is
imported inside the check (it takes seconds to import) and its usage analytics are off
(``GX_ANALYTICS_ENABLED=false``).
"""

from __future__ import annotations

import os
from typing import Any

from dagster import AssetCheckSpec

from mesh_assets.lib.quality import Verdict
from mesh_assets.warehouse.checks.in_step import InStepCheck
from mesh_assets.warehouse.checks.window import CheckWindow, silver
from resources.warehouse import WarehouseResource

PRICES = silver("market", "prices")
SUITE_NAME = "silver_prices_contract"
CURRENCIES = ["USD", "EUR", "GBP", "JPY", "CHF", "CAD"]


def price_suite() -> Any:
    """The expectation suite silver closes must meet."""
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=SUITE_NAME)
    for column in ("security_id", "figi", "price_date", "px_last", "currency"):
        suite.add_expectation(gx.expectations.ExpectColumnValuesToNotBeNull(column=column))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeBetween(
        column="px_last", min_value=0, max_value=1_000_000, strict_min=True))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToBeInSet(column="currency", value_set=CURRENCIES))
    suite.add_expectation(gx.expectations.ExpectCompoundColumnsToBeUnique(column_list=["security_id", "price_date"]))
    suite.add_expectation(gx.expectations.ExpectColumnValuesToMatchRegex(column="figi", regex=r"^BBG[0-9A-Z]{9}$"))
    return suite


def validate_prices(frame: Any) -> Verdict:
    """Run the suite on a pandas DataFrame of silver closes and explain the outcome."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas("warehouse")
    batch_definition = source.add_dataframe_asset("silver_prices").add_batch_definition_whole_dataframe("all")
    result = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(price_suite())
    outcomes = []
    for item in result.results:
        config = item.expectation_config
        column = config.kwargs.get("column") or ",".join(config.kwargs.get("column_list") or [])
        details = item.result or {}
        outcomes.append({
            "expectation": config.type, "column": column, "success": bool(item.success),
            "unexpected_count": details.get("unexpected_count"),
            "unexpected_samples": [str(v) for v in (details.get("partial_unexpected_list") or [])[:5]],
        })
    failed = [o for o in outcomes if not o["success"]]
    metadata = {"suite": SUITE_NAME, "rows": len(frame), "expectations": len(outcomes),
                "failed_expectations": len(failed), "results": outcomes}
    if failed:
        first = failed[0]
        return Verdict(False, f"{len(failed)} of {len(outcomes)} expectations failed, e.g. {first['expectation']} on "
                              f"{first['column']}: {first['unexpected_count']} unexpected "
                              f"(samples {first['unexpected_samples']})", metadata)
    return Verdict(True, f"all {len(outcomes)} expectations of {SUITE_NAME} met on {len(frame)} closes", metadata)


def great_expectations_price_suite(warehouse: WarehouseResource, _window: CheckWindow) -> Verdict:
    """Validate silver.prices with the GX suite."""
    frame = warehouse.read_table(
        "silver.prices", ["security_id", "figi", "price_date", "px_last", "currency"]).to_pandas()
    return validate_prices(frame)


CHECKS = [InStepCheck(AssetCheckSpec(
    "great_expectations_price_suite", asset=PRICES, blocking=True,
    description=f"Great Expectations suite {SUITE_NAME}: required fields, positive closes, known currencies, FIGI "
                "format, one close per security and day."), great_expectations_price_suite)]
