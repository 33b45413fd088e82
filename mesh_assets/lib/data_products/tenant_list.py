"""The tenant list checked: every id valid, and no two tenants sharing a data set, a schema or a filter.

Pure (no Dagster): :func:`tenant_list_verdict` runs over the ``(client_id, tenant_id)`` rows of
``silver.clients`` with the very naming functions publication and isolation use
(:meth:`ProductSpec.data_set_for`, :func:`tenant_schema_name`), so a naming rule that ever merged two
tenants would turn the check red before anything is published or granted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from mesh_assets.lib.data_products.products import PRODUCTS
from mesh_assets.lib.data_products.tenant_filters import tenant_schema_name
from mesh_assets.lib.quality import Verdict
from mesh_assets.lib.tenant_ids import InvalidTenantId, tenant_name_collisions, validate_tenant_id


def tenant_list_problems(rows: Iterable[Mapping[str, Any]]) -> list[str]:
    """One sentence per invalid tenant id (naming the client) and per pair of tenants sharing a name."""
    problems: list[str] = []
    tenants: list[str] = []
    for row in rows:
        try:
            tenants.append(validate_tenant_id(row.get("tenant_id"), f"client {row.get('client_id')}"))
        except InvalidTenantId as error:
            problems.append(str(error))
    tenants = sorted(set(tenants))
    namers = {f"{spec.product} data set": spec.data_set_for for spec in PRODUCTS.values() if spec.tenant_column}
    namers["schema"] = tenant_schema_name
    for what, name_of in namers.items():
        problems.extend(f"tenants {first!r} and {second!r} both map to {what} {name}"
                        for name, first, second in tenant_name_collisions(tenants, name_of))
    return problems


def tenant_list_verdict(rows: Iterable[Mapping[str, Any]]) -> Verdict:
    """Passed when every client's tenant id is valid and distinct tenants have distinct data sets and schemas."""
    rows = list(rows)
    problems = tenant_list_problems(rows)
    tenants = {r.get("tenant_id") for r in rows}
    metadata = {"clients": len(rows), "tenants": len(tenants), "problems": len(problems), "threshold": 0,
                "samples": problems[:10]}
    if problems:
        return Verdict(False, f"{len(problems)} tenant id problem(s): " + "; ".join(problems[:3]), metadata)
    return Verdict(True, f"all {len(tenants)} tenant ids of {len(rows)} clients are valid, each with its own "
                         "data sets and schema", metadata)
