"""Tenant ids: validated, never normalised. The one rule every tenant boundary uses.

A tenant id has exactly one form: ``tnt-`` followed by four ASCII digits (``tnt-0001`` ...
``tnt-9999``), lower case, nothing before or after it. That is what the firm's reference data assigns
(``mesh_dev.firm.identifiers.tenant_id``). Everything else (``tnt--0001``, ``TNT-0001``,
``tnt-0001 ``, ``tnt_0001``, ``tnt-00001``, an empty value) is refused with an error naming the value.
Nothing is ever cleaned up into an id: two distinct inputs can never become the same tenant.

Because a valid id is its own name, the names derived from it are one-to-one: ADX data set
``<product data set>-<tenant id>`` and schema/Glue database ``tenant_<id with - as _>``.
:func:`tenant_name_collisions` still checks a tenant list against a naming function, so a future change
to a naming rule cannot silently merge two tenants.

The dbt project encodes the same rule in the macro ``tenant_id_pattern`` (``macros/tenant_views.sql``);
a unit test holds the two equal. Pure: no Dagster, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable

#: The documented tenant id form (full match). Keep equal to the dbt macro ``tenant_id_pattern``.
TENANT_ID_PATTERN = r"^tnt-[0-9]{4}$"
TENANT_ID_FORM = "'tnt-' followed by four digits, e.g. 'tnt-0001'"
_TENANT_ID = re.compile(TENANT_ID_PATTERN)


class InvalidTenantId(ValueError):
    """A value that is not a tenant id of the documented form."""


class TenantNameCollision(ValueError):
    """Two tenants that would share one derived name (a data set, a schema, a filter)."""


def validate_tenant_id(value: object, context: str | None = None) -> str:
    """``value`` if it is a tenant id of the documented form; otherwise :class:`InvalidTenantId` naming it.

    ``context`` (e.g. ``"client C-0003"``) is put in front of the message to say where the value came from.
    """
    if isinstance(value, str) and _TENANT_ID.fullmatch(value) and value.isascii():
        return value
    where = f"{context}: " if context else ""
    raise InvalidTenantId(f"{where}tenant id {value!r} is not a valid tenant id (expected {TENANT_ID_FORM})")


def is_valid_tenant_id(value: object) -> bool:
    """Whether ``value`` is a tenant id of the documented form."""
    try:
        validate_tenant_id(value)
    except InvalidTenantId:
        return False
    return True


def tenant_schema_suffix(tenant_id: str) -> str:
    """``tnt_0001`` for ``tnt-0001``: the id in schema/Glue database names (``tenant_tnt_0001``)."""
    return validate_tenant_id(tenant_id).replace("-", "_")


def tenant_name_collisions(tenant_ids: Iterable[str], name_of: Callable[[str], str]) -> list[tuple[str, str, str]]:
    """``(name, first tenant, second tenant)`` for every pair of distinct tenants ``name_of`` maps to one name."""
    seen: dict[str, str] = {}
    collisions = []
    for tenant_id in tenant_ids:
        name = name_of(tenant_id)
        if name in seen and seen[name] != tenant_id:
            collisions.append((name, seen[name], tenant_id))
        else:
            seen.setdefault(name, tenant_id)
    return collisions


def refuse_name_collisions(tenant_ids: Iterable[str], name_of: Callable[[str], str], what: str) -> None:
    """Raise :class:`TenantNameCollision` naming both tenants if two map to one ``what`` (e.g. "data set")."""
    collisions = tenant_name_collisions(tenant_ids, name_of)
    if collisions:
        name, first, second = collisions[0]
        raise TenantNameCollision(
            f"tenants {first!r} and {second!r} both map to {what} {name}: one would see the other's data"
            + (f" ({len(collisions) - 1} more collision(s))" if len(collisions) > 1 else "")
        )
