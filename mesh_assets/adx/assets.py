"""ADX revisions: one asset per data product, ``adx/<product>/revision``, one partition per trading day.

A materialization reads the day's rows of the product's gold table, evaluates the blocking pre-publish
checks (PII scan, schema contract, key columns, the day's NAV in time), and only if every one passed
publishes one finalized revision per tenant to the tenant's data set (``mesh-nav-history-<tenant>``):
a grant on a data set can never show one client another tenant's rows. Each revision is atomic and
content-addressed, so a retry after a failure re-publishes only what is missing and identical content
creates nothing.
"""

import datetime as dt
from collections.abc import Iterator

from dagster import (
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AutomationCondition,
    Config,
    Definitions,
    Failure,
    MaterializeResult,
    MetadataValue,
    asset,
)
from pydantic import Field

from mesh_assets.lib.data_products.products import PRODUCTS, ProductSpec
from mesh_assets.lib.ownership import CLIENT_SERVICES
from mesh_assets.shared.check_results import to_check_result
from mesh_assets.shared.partitions import trading_day_partitions
from mesh_assets.shared.retries import OUTSIDE_SYSTEM_RETRY, user_errors_not_retried
from resources.adx import AdxResource
from resources.warehouse import WarehouseResource

#: The pre-publish checks, in the order they run; all block the revision.
CHECKS = {
    "pii_scan": "No email, phone number, national id, payment card (Luhn) or IBAN in any column (allow-list aside).",
    "schema_contract": "Columns and types match the product's declared schema; additive columns are recorded.",
    "key_columns_not_null": "No null in the product's key columns or its tenant column.",
    "nav_on_time": "The day's NAV exists for every portfolio published; records whether it was there by 17:00 NY.",
}
NAV_DEADLINE = dt.time(17, 0)
NAV_KEY = AssetKey(["gold", "performance", "nav_history"])


class PublishConfig(Config):
    """Narrows what the PII scan may let through; the most it may allow is the code location's
    ``MESH_PII_ALLOW_LIST`` (:mod:`mesh_assets.lib.pii.policy`). Unset: the settings' list as it is."""

    pii_allow_columns: list[str] | None = Field(default=None, description="columns never scanned (a subset of "
                                                "MESH_PII_ALLOW_LIST's columns)")
    pii_allow_values: list[str] | None = Field(default=None, description="exact values that are not PII (a subset "
                                               "of MESH_PII_ALLOW_LIST's values)")
    pii_allow_patterns: list[str] | None = Field(default=None, description="regexes of values that are not PII (a "
                                                 "subset of MESH_PII_ALLOW_LIST's patterns)")


def revision_key(product: str) -> AssetKey:
    """``adx/<product>/revision``."""
    return AssetKey(["adx", product, "revision"])


def source_key(spec: ProductSpec) -> AssetKey:
    """The dbt asset a product is cut from: ``gold_product_nav_history`` is ``gold/products/product_nav_history``."""
    layer, _, table = spec.source_table.partition(".")
    return AssetKey([layer, "products", table])


def _nav_verdict(context: AssetExecutionContext, warehouse: WarehouseResource, day: str, rows):
    """The day's NAV covers every portfolio the product publishes, and whether it landed before 17:00 NY."""
    from zoneinfo import ZoneInfo

    import pyarrow.compute as pc

    from mesh_assets.lib.quality import Verdict
    from mesh_assets.lib.trading_calendar import TIMEZONE

    navs = warehouse.query(f"select distinct portfolio_id from gold.nav_history where as_of_date = date '{day}'")
    have = set(navs.column(0).to_pylist()) if navs.num_rows else set()
    wanted = set(pc.unique(rows["portfolio_id"]).to_pylist()) if "portfolio_id" in rows.column_names else set()
    missing = sorted(p for p in wanted - have if p is not None)
    deadline = dt.datetime.combine(dt.date.fromisoformat(day), NAV_DEADLINE, ZoneInfo(TIMEZONE))
    event = context.instance.get_latest_materialization_event(NAV_KEY)
    landed = dt.datetime.fromtimestamp(event.timestamp, dt.UTC) if event else None
    metadata = {"nav_portfolios": len(have), "portfolios_published": len(wanted), "missing": len(missing),
                "missing_sample": missing[:10], "deadline": deadline.isoformat(),
                "nav_last_materialized_at": landed.isoformat() if landed else None}
    if not have:
        return Verdict(False, f"no NAV for {day} in gold.nav_history: the end-of-day batch has not produced it",
                       metadata)
    if missing:
        return Verdict(False, f"{len(missing)} published portfolio(s) have no NAV for {day}, e.g. {missing[:3]}",
                       metadata)
    latest_session = day == max(context.partition_keys) and dt.date.fromisoformat(day) >= (
        dt.datetime.now(ZoneInfo(TIMEZONE)).date() - dt.timedelta(days=3))
    if latest_session and landed is not None and landed > deadline:
        return Verdict(False, f"NAV for {day} landed at {landed.isoformat()}, after the 17:00 New York deadline",
                       {**metadata, "on_time": False}, warn_only=True)
    return Verdict(True, f"NAV for {day} covers all {len(wanted)} published portfolios", {**metadata, "on_time": True})


def verdicts(context: AssetExecutionContext, spec: ProductSpec, rows, warehouse: WarehouseResource,
             config: PublishConfig, day: str) -> dict:
    """Every pre-publish check's verdict for the day's rows, by check name."""
    from mesh_assets.lib.data_products.schema_contract import check_schema, null_keys_verdict
    from mesh_assets.lib.pii.policy import PiiAllowListError, effective_allow_list, permitted_allow_list
    from mesh_assets.lib.pii.scan import pii_verdict, scan_table
    from resources.settings import mesh_settings

    try:
        allow = effective_allow_list(permitted_allow_list(mesh_settings().mesh_pii_allow_list),
                                     config.pii_allow_columns, config.pii_allow_values, config.pii_allow_patterns)
    except PiiAllowListError as refused:  # a user's mistake: one sentence, not retried
        raise Failure(description=f"{spec.product} {day}: {refused}", allow_retries=False) from None
    keys = (*spec.key_columns, *((spec.tenant_column,) if spec.tenant_column else ()))
    return {
        "pii_scan": pii_verdict(scan_table(rows, allow)),
        "schema_contract": check_schema(spec.schema, rows),
        "key_columns_not_null": null_keys_verdict(rows, keys),
        "nav_on_time": _nav_verdict(context, warehouse, day, rows),
    }


def tenant_data_sets(spec: ProductSpec, tenants: list[str]) -> dict[str, str]:
    """``{tenant: data set}`` for the day's tenants; refuses an invalid tenant id, or two tenants sharing a data set.

    Raises ``InvalidTenantId`` / ``TenantNameCollision`` (both ``ValueError``) before anything is published.
    """
    from mesh_assets.lib.tenant_ids import refuse_name_collisions, validate_tenant_id

    for tenant in tenants:
        validate_tenant_id(tenant, f"{spec.product}: a row of {spec.source_table}")
    refuse_name_collisions(tenants, spec.data_set_for, "data set")
    return {tenant: spec.data_set_for(tenant) for tenant in tenants}


def publish_by_tenant(spec: ProductSpec, rows, day: str, adx: AdxResource) -> list[dict]:
    """One finalized revision per tenant holding only that tenant's rows (or one for a product without tenant).

    Every tenant id is validated and the tenants' data sets checked pairwise distinct first: an invalid id
    or a collision raises ``ValueError`` and publishes nothing.
    """
    import pyarrow.compute as pc

    from resources.adx_exchange.product_files import build_product_files

    if spec.tenant_column is None:
        slices = [(None, rows)]
        data_sets = {None: spec.adx_data_set}
    else:
        tenants = sorted(t for t in pc.unique(rows[spec.tenant_column]).to_pylist() if t is not None)
        data_sets = tenant_data_sets(spec, tenants)
        slices = [(t, rows.filter(pc.equal(rows[spec.tenant_column], t))) for t in tenants]
    published = []
    for tenant, part in slices:
        data_set = data_sets[tenant]
        files = build_product_files(spec.product, day, part)
        revision = adx.publish(data_set, files, f"{spec.product_name} {day}" + (f" tenant {tenant}" if tenant else ""))
        published.append({"tenant": tenant, "data_set": data_set, "revision_id": revision.revision_id,
                          "content_hash": revision.content_hash, "rows": files.row_count, "created": revision.created,
                          "location": revision.location})
    return published


def daily_check_specs(key: AssetKey) -> list[AssetCheckSpec]:
    """The pre-publish checks of a revision, partitioned like it: each day's verdict is recorded for that day
    (the UI shows Passed/Failed per day, not Skipped)."""
    import warnings

    from dagster import PreviewWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PreviewWarning)  # partitioned asset checks are a preview in Dagster 1.13
        return [AssetCheckSpec(name, asset=key, blocking=True, description=text, partitions_def=trading_day_partitions)
                for name, text in CHECKS.items()]


def revision_asset(spec: ProductSpec):
    """The ``adx/<product>/revision`` asset of ``spec``, with its blocking pre-publish checks."""
    key = revision_key(spec.product)

    @asset(
        key=key, deps=[source_key(spec)], partitions_def=trading_day_partitions, group_name="adx",
        automation_condition=AutomationCondition.eager(),
        kinds={"adx", "parquet", "csv"}, owners=[CLIENT_SERVICES], pool="adx_publish",
        check_specs=daily_check_specs(key), retry_policy=OUTSIDE_SYSTEM_RETRY,
        description=f"{spec.product_name}: one finalized AWS Data Exchange revision per tenant and trading day, "
                    f"cut from {spec.source_table}, published only when the PII, schema, key and NAV checks pass.",
    )
    @user_errors_not_retried
    def _revision(context: AssetExecutionContext, config: PublishConfig, warehouse: WarehouseResource,
                  adx: AdxResource) -> Iterator:
        day = context.partition_key
        rows = warehouse.query(f"select * from {spec.source_table} where {spec.date_column} = date '{day}'")
        results = verdicts(context, spec, rows, warehouse, config, day)
        for name, verdict in results.items():
            yield to_check_result(verdict, check_name=name, product=spec.product, partition=day)
        blocked = [name for name, v in results.items() if not v.passed and not v.warn_only]
        if blocked:
            raise Failure(
                description=f"{spec.product} {day}: no revision published, blocked by {', '.join(blocked)}: "
                + "; ".join(results[n].description for n in blocked),
                metadata={"blocked_by": blocked, "rows": rows.num_rows}, allow_retries=False,
            )
        if rows.num_rows == 0:
            raise Failure(description=f"{spec.product} {day}: {spec.source_table} has no row for {day}: "
                                      "nothing to publish (run the end-of-day batch for that day first)",
                          allow_retries=False)
        try:
            published = publish_by_tenant(spec, rows, day, adx)
        except ValueError as error:  # an invalid tenant id or two tenants on one data set: nothing published
            raise Failure(description=f"{spec.product} {day}: no revision published: {error}",
                          metadata={"rows": rows.num_rows}, allow_retries=False) from error
        yield MaterializeResult(metadata={
            "dagster/row_count": rows.num_rows,
            "revisions": MetadataValue.json(published),
            "revisions_created": sum(1 for p in published if p["created"]),
            "revisions_unchanged": sum(1 for p in published if not p["created"]),
            "tenants": len(published),
            "source_table": spec.source_table,
        })

    return _revision


REVISION_ASSETS = [revision_asset(spec) for spec in PRODUCTS.values()]


def defs() -> Definitions:
    """One revision asset per data product (the tenant list they are cut by is checked in the dbt step)."""
    return Definitions(assets=REVISION_ASSETS)
