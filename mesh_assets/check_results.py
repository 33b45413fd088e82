"""Turn quality verdicts into Dagster ``AssetCheckResult``s with self-explaining metadata."""

from __future__ import annotations

from typing import Any

from dagster import AssetCheckResult, AssetCheckSeverity, MetadataValue

from mesh_assets.quality import Verdict


def _metadata_value(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return MetadataValue.json(value)
    return value


def to_check_result(verdict: Verdict, **extra: Any) -> AssetCheckResult:
    """An ``AssetCheckResult`` carrying the verdict's reason, counts, threshold and samples."""
    metadata = {"reason": verdict.description, **verdict.metadata, **extra}
    return AssetCheckResult(
        passed=verdict.passed,
        severity=AssetCheckSeverity.WARN if verdict.warn_only else AssetCheckSeverity.ERROR,
        description=verdict.description,
        metadata={k: _metadata_value(v) for k, v in metadata.items() if v is not None},
    )


def missing_table_result(identifier: str, hint: str) -> AssetCheckResult:
    """A failed check for a table that does not exist yet, saying which and what to materialize."""
    description = f"table {identifier} does not exist yet: {hint}"
    return AssetCheckResult(passed=False, description=description, metadata={"reason": description})
