"""Checks beyond dbt's tests, evaluated inside the dbt step that builds the asset they check."""

from __future__ import annotations

from typing import Any


def build_checks() -> list[Any]:
    """Every Python check on silver and gold (``InStepCheck``: a spec and its evaluation)."""
    import warnings

    from dagster import PreviewWarning

    # Partitioned asset checks (per trading day, like the assets they check) are a preview feature; the specs
    # are built when these modules are imported. Silence that label here only, not process-wide.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Specifying a partitions_def on an AssetCheckSpec", PreviewWarning)
        from mesh_assets.warehouse.checks import expectations, holdings, market, nav, quarantine, returns, tenants

    return [*holdings.CHECKS, *nav.CHECKS, *returns.CHECKS, *market.CHECKS, *expectations.CHECKS, *quarantine.CHECKS,
            *tenants.CHECKS]
