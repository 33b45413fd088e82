"""Turn quality verdicts into Dagster ``AssetCheckResult``s with self-explaining metadata."""

from __future__ import annotations

from typing import Any

from dagster import AssetCheckResult, AssetCheckSeverity, AssetKey, MetadataValue

from mesh_assets.lib.quality import Verdict


def json_safe(value: Any) -> Any:
    """``value`` with decimals as floats and dates/times as ISO strings, recursively (for JSON metadata)."""
    import datetime as dt
    from decimal import Decimal

    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    return value


def _metadata_value(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return MetadataValue.json(json_safe(value))
    value = json_safe(value)
    return value


def check_metadata(verdict: Verdict, **extra: Any) -> dict[str, Any]:
    """The verdict's reason, counts, threshold and samples (and ``extra``) as check metadata."""
    metadata = {"reason": verdict.description, **verdict.metadata, **extra}
    return {k: _metadata_value(v) for k, v in metadata.items() if v is not None}


def to_check_result(verdict: Verdict, check_name: str | None = None, asset_key: AssetKey | None = None,
                    **extra: Any) -> AssetCheckResult:
    """An ``AssetCheckResult`` carrying the verdict's reason, counts, threshold and samples
    (``check_name`` and ``asset_key`` name the check when its step has several)."""
    return AssetCheckResult(
        asset_key=asset_key,
        check_name=check_name,
        passed=verdict.passed,
        severity=AssetCheckSeverity.WARN if verdict.warn_only else AssetCheckSeverity.ERROR,
        description=verdict.description,
        metadata=check_metadata(verdict, **extra),
    )


def missing_table_result(identifier: str, hint: str) -> AssetCheckResult:
    """A failed check for a table that does not exist yet, saying which and what to materialize."""
    description = f"table {identifier} does not exist yet: {hint}"
    return AssetCheckResult(passed=False, description=description, metadata={"reason": description})
