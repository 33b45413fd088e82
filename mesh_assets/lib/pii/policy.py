"""Who decides what the PII scan lets through: the code location's settings; a run may only narrow it.

The settings' allow-list (``MESH_PII_ALLOW_LIST``, read by ``resources.settings`` and passed in; JSON
``{"columns": [...], "values": [...], "patterns": [...]}``, empty by default) is the most a publication may
allow. A run's config (``pii_allow_columns`` / ``pii_allow_values`` / ``pii_allow_patterns``) left unset
takes the settings' list; set, it must be a subset of it (columns and patterns as written, values compared
as the scan compares them). Anything beyond is refused with one sentence naming it: whoever can launch a run
from the UI cannot turn a failing PII scan into a pass with ``pii_allow_patterns: [".*"]``. Pure Python, no
Dagster import.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from mesh_assets.lib.pii.findings import PiiAllowList

PII_ALLOW_SETTING = "MESH_PII_ALLOW_LIST"
_KINDS = ("columns", "values", "patterns")


class PiiAllowListError(ValueError):
    """The settings' allow-list is malformed, or a run asked for more than it permits (one sentence)."""


def _normalise(value: str) -> str:
    return "".join(value.split()).casefold()


def permitted_allow_list(setting: str | None) -> PiiAllowList:
    """The code location's allow-list from the JSON text of ``MESH_PII_ALLOW_LIST`` (empty when unset)."""
    raw = (setting or "").strip()
    if not raw:
        return PiiAllowList()
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        raise PiiAllowListError(f"{PII_ALLOW_SETTING} is not valid JSON ({exc.msg} at position {exc.pos})") from None
    if (
        not isinstance(parsed, dict)
        or set(parsed) - set(_KINDS)
        or not all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in parsed.values())
    ):
        raise PiiAllowListError(f"{PII_ALLOW_SETTING} must be a JSON object of string lists under {', '.join(_KINDS)}")
    return PiiAllowList(columns=frozenset(parsed.get("columns", [])), values=frozenset(parsed.get("values", [])),
                        patterns=tuple(parsed.get("patterns", [])))  # fmt: skip


def effective_allow_list(
    permitted: PiiAllowList,
    columns: Sequence[str] | None = None,
    values: Sequence[str] | None = None,
    patterns: Sequence[str] | None = None,
) -> PiiAllowList:
    """The allow-list a run scans with: ``permitted`` narrowed by the run's entries (``None``: not narrowed).

    Raises :class:`PiiAllowListError` naming every entry the settings do not permit.
    """
    allowed_values = {_normalise(v) for v in permitted.values}
    widened = [f"column {c!r}" for c in columns or () if c not in permitted.columns]
    widened += [f"value {v!r}" for v in values or () if _normalise(v) not in allowed_values]
    widened += [f"pattern {p!r}" for p in patterns or () if p not in permitted.patterns]
    if widened:
        raise PiiAllowListError(
            f"run config asks the PII scan to allow {', '.join(widened)}, which the code location's "
            f"{PII_ALLOW_SETTING} does not permit: run config may only narrow the allow-list"
        )
    return PiiAllowList(
        columns=permitted.columns if columns is None else frozenset(columns),
        values=permitted.values if values is None else frozenset(values),
        patterns=permitted.patterns if patterns is None else tuple(patterns),
    )
