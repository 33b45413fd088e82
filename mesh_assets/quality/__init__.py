"""Data-quality rules as pure functions over Arrow tables: each returns a :class:`Verdict`.

No Dagster import: the asset checks turn verdicts into ``AssetCheckResult``s, and the same rules
can be run from a notebook or a test on any Arrow table.
"""

from mesh_assets.quality.rules import (
    Verdict,
    counts_match,
    known_values,
    no_duplicates,
    positive_values,
    required_values,
    within_allowed,
)

__all__ = [
    "Verdict",
    "counts_match",
    "known_values",
    "no_duplicates",
    "positive_values",
    "required_values",
    "within_allowed",
]
