"""What a dbt test asserts, and a few of the rows it failed on, for its check result (auditability).

dagster-dbt reports a dbt test as a check with ``status`` and ``failed_row_count`` only. An auditor also
needs what the test asserts (the test's description; for a generic test its name, model, column and
arguments; for a singular test its leading ``{#- ... -#}`` comment) and, when it fails, some of the rows
it found: its compiled SQL (in ``run_results.json``) selects exactly the failing rows, so a failed test
is queried once more with a small ``limit``. Passing tests cost nothing extra.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

SAMPLE_ROWS = 5
_LEADING_COMMENT = re.compile(r"\{#-?\s*(.*?)\s*-?#\}", re.DOTALL)
_REF = re.compile(r"ref\(['\"]([^'\"]+)['\"]\)")


def assertion(node: Mapping[str, Any]) -> str:
    """One sentence saying what the dbt test ``node`` (from the manifest) asserts."""
    if node.get("description"):
        return str(node["description"]).strip()
    generic = node.get("test_metadata")
    if generic:
        kwargs = dict(generic.get("kwargs") or {})
        model = _REF.search(str(kwargs.pop("model", "")))
        column = kwargs.pop("column_name", None) or node.get("column_name")
        target = (model.group(1) if model else node.get("attached_node") or "?") + (f".{column}" if column else "")
        arguments = ", ".join(f"{k}={v}" for k, v in sorted(kwargs.items()))
        where = (node.get("config") or {}).get("where")
        return (f"dbt test {generic['name']} on {target}" + (f" ({arguments})" if arguments else "")
                + (f" where {where}" if where else ""))
    comment = _LEADING_COMMENT.search(str(node.get("raw_code", "")))
    if comment:
        return " ".join(comment.group(1).split())
    return f"dbt test {node.get('name')}: every row its SQL returns is a failure"


def failing_rows(warehouse: Any, compiled_sql: str, limit: int = SAMPLE_ROWS) -> list[dict[str, Any]]:
    """Up to ``limit`` of the rows a failed test's compiled SQL returns (its failing rows)."""
    from mesh_assets.lib.audit.records import jsonable

    sql = compiled_sql.strip().rstrip(";")
    rows = warehouse.query(f"select * from ({sql}) as failing_rows limit {int(limit)}").to_pylist()
    return [jsonable(row) for row in rows]


def describe_test(
    manifest: Mapping[str, Any], results_by_id: Mapping[str, Mapping[str, Any]], warehouse: Any, unique_id: str,
) -> tuple[str | None, dict[str, Any]]:
    """``(description, metadata)`` for the check of dbt test ``unique_id``: what it asserts, and for a failed
    test a sample of its failing rows (or why none could be read)."""
    node = manifest.get("nodes", {}).get(unique_id)
    if node is None:
        return None, {}
    description = assertion(node)
    metadata: dict[str, Any] = {"asserts": description}
    result = results_by_id.get(unique_id) or {}
    compiled = result.get("compiled_code")
    if result.get("status") in ("fail", "warn") and (result.get("failures") or 0) > 0 and compiled:
        try:
            metadata["failing_rows_sample"] = failing_rows(warehouse, compiled)
        except Exception as exc:  # the sample is a courtesy: the verdict stands without it
            metadata["failing_rows_sample_error"] = f"{type(exc).__name__}: {exc}"[:500]
    return description, metadata
