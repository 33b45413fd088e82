"""Data-quality rules as pure functions over Arrow tables (``rules``), each returning a :class:`Verdict`.

No Dagster import: the asset checks turn verdicts into ``AssetCheckResult``s, and the same rules can
be run from a notebook or a test on any Arrow table. ``rules`` imports pyarrow, so import it where
it is used, not at module level of a definitions module.
"""

from mesh_assets.lib.quality.verdict import Verdict

__all__ = ["Verdict"]
