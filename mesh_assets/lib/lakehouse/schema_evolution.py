"""Bring an existing Iceberg table's schema up to its declaration, without rewriting data.

* a declared column the table lacks is added (optional: old rows read as null);
* an ``int`` column declared ``long`` is promoted (a legal Iceberg promotion: old files read as long);
* a ``double`` column declared ``decimal(P,S)`` cannot be promoted (Iceberg forbids it: a double is
  not exact): the old column is renamed ``<name>_double`` (its rows keep the value they landed with)
  and a new decimal column ``<name>`` is added; rows written from then on carry the exact value.

Each change is its own schema commit and is a no-op when replayed (a crash between two of them
leaves a table the next call finishes). Data files and snapshot summaries (the committed source
positions) are untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from mesh_assets.lib.lakehouse.retry import commit_with_retry

if TYPE_CHECKING:
    import pyarrow as pa
    from pyiceberg.table import Table
    from pyiceberg.types import IcebergType

    from mesh_assets.lib.lakehouse.tables import TableSpec

#: Suffix of a double column replaced by a decimal one.
REPLACED_DOUBLE_SUFFIX = "_double"


def iceberg_type(arrow: pa.DataType) -> IcebergType:
    """The Iceberg type of a declared column's Arrow type."""
    import pyarrow as pa
    from pyiceberg import types as t

    if pa.types.is_decimal(arrow):
        return t.DecimalType(arrow.precision, arrow.scale)
    for check, iceberg in ((pa.types.is_string, t.StringType()), (pa.types.is_int32, t.IntegerType()),
                           (pa.types.is_int64, t.LongType()), (pa.types.is_float64, t.DoubleType()),
                           (pa.types.is_date32, t.DateType()), (pa.types.is_timestamp, t.TimestamptzType()),
                           (pa.types.is_binary, t.BinaryType()), (pa.types.is_boolean, t.BooleanType())):  # fmt: skip
        if check(arrow):
            return iceberg
    raise ValueError(f"no Iceberg type for Arrow {arrow}")


def pending_changes(table: Table, spec: TableSpec) -> list[tuple[str, str]]:
    """(change, column) pairs that would bring ``table`` to ``spec``: add, promote or replace_double."""
    from pyiceberg import types as t

    current = {f.name: f.field_type for f in table.schema().fields}
    changes = []
    for field in spec.schema:
        wanted = iceberg_type(field.type)
        have = current.get(field.name)
        if have is None:
            changes.append(("add", field.name))
        elif have == wanted:
            continue
        elif isinstance(have, t.IntegerType) and isinstance(wanted, t.LongType):
            changes.append(("promote", field.name))
        elif isinstance(have, t.DoubleType) and isinstance(wanted, t.DecimalType):
            changes.append(("replace_double", field.name))
        else:
            raise ValueError(f"{spec.identifier}: column {field.name} is {have} in the table but declared {wanted}; "
                             "Iceberg cannot change it in place")
    return changes


def evolve_to_spec(load_table: Callable[[], Table], spec: TableSpec) -> Table:
    """Evolve the table to ``spec`` (see the module) and return it freshly loaded (as is when nothing changes)."""
    table = load_table()
    if not pending_changes(table, spec):
        return table
    types = {f.name: iceberg_type(f.type) for f in spec.schema}

    def rename_doubles(table: Table, _: int) -> None:
        replaced = [name for change, name in pending_changes(table, spec) if change == "replace_double"]
        if replaced:
            with table.update_schema() as update:
                for name in replaced:
                    update.rename_column(name, f"{name}{REPLACED_DOUBLE_SUFFIX}")

    def add_and_promote(table: Table, _: int) -> None:
        changes = pending_changes(table, spec)
        if changes:
            with table.update_schema() as update:
                for change, name in changes:
                    if change == "add":
                        update.add_column(name, types[name], doc=f"added for {spec.identifier}'s declaration")
                    else:
                        update.update_column(name, field_type=types[name])

    commit_with_retry(load_table, rename_doubles)
    commit_with_retry(load_table, add_and_promote)
    return load_table()
