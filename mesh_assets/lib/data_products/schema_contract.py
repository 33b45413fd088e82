"""Schema contract of a data product: the columns and Arrow types its clients were promised.

A revision may add columns (recorded as additive changes) but never drop or retype a declared one,
and its key columns are never null. Types are written as Arrow's own type strings (``string``,
``double``, ``date32[day]``, ``timestamp[us, tz=UTC]``); the string encodings (``string``,
``large_string``, ``string_view``, dictionary of strings) count as one type, ``string``, so do the
binary ones.

Since issue 20 the ``gold_product_*`` models carry enforced dbt contracts with the same columns and types
(dbt_project/models/gold/products/schema.yml; tests/unit/test_dbt_project.py holds the two equal), so a build
producing another shape fails in dbt, on DuckDB and Athena alike. This check stays for what dbt cannot do: it
judges the rows as published (Arrow types after the warehouse read, what clients receive), it allows additive
columns between revisions while dbt's contract allows none, and its key columns are checked not null on Athena too,
where dbt-athena enforces no constraints.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mesh_assets.lib.quality.verdict import Verdict

if TYPE_CHECKING:
    import pyarrow as pa

SAMPLE_SIZE = 5


@dataclass(frozen=True)
class ProductSchema:
    """The declared columns ``(name, arrow type string)`` of a data product, and its key columns."""

    product: str
    columns: tuple[tuple[str, str], ...]
    key_columns: tuple[str, ...]

    def __post_init__(self) -> None:
        names = [name for name, _ in self.columns]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"data product {self.product}: columns declared twice: {duplicates}")
        unknown_keys = [k for k in self.key_columns if k not in names]
        if unknown_keys:
            raise ValueError(f"data product {self.product}: key columns {unknown_keys} are not declared columns")
        for name, type_string in self.columns:
            if not _is_type_string(type_string):
                raise ValueError(f"data product {self.product}, column {name}: unknown Arrow type {type_string!r}")

    @property
    def column_names(self) -> tuple[str, ...]:
        """Declared column names, in declaration order."""
        return tuple(name for name, _ in self.columns)

    def type_of(self, column: str) -> str:
        """The declared type string of ``column``."""
        return dict(self.columns)[column]

    def arrow_schema(self) -> pa.Schema:
        """The declared schema as a ``pyarrow.Schema``."""
        import pyarrow as pa

        return pa.schema([(name, parse_arrow_type(t)) for name, t in self.columns])


@dataclass(frozen=True)
class SchemaVerdict(Verdict):
    """A :class:`Verdict` that also lists the contract's differences one by one."""

    missing_columns: tuple[str, ...] = ()
    type_changes: tuple[tuple[str, str, str], ...] = ()  # (column, declared, actual)
    additive_columns: tuple[tuple[str, str], ...] = ()  # (column, actual type)


_SIMPLE_TYPES = frozenset(
    {"null", "bool", "string", "large_string", "utf8", "binary", "large_binary", "date32[day]", "date64[ms]"}
    | {f"{sign}int{bits}" for sign in ("", "u") for bits in (8, 16, 32, 64)}
    | {"halffloat", "float", "double", "float16", "float32", "float64"}
)
_TIMESTAMP = re.compile(r"timestamp\[(s|ms|us|ns)(?:, tz=([^\]]+))?\]")
_DECIMAL = re.compile(r"decimal(?:32|64|128|256)?\((\d+), (\d+)\)")


def _is_type_string(type_string: str) -> bool:
    """Declared types are checked without importing pyarrow (product declarations load at import)."""
    text = type_string.strip()
    return text in _SIMPLE_TYPES or bool(_TIMESTAMP.fullmatch(text) or _DECIMAL.fullmatch(text))


def parse_arrow_type(type_string: str, where: str = "") -> pa.DataType:
    """The Arrow type named by ``type_string`` (``string``, ``date32[day]``, ``timestamp[us, tz=UTC]``...)."""
    import pyarrow as pa

    text = type_string.strip()
    timestamp = _TIMESTAMP.fullmatch(text)
    if timestamp:
        return pa.timestamp(timestamp.group(1), tz=timestamp.group(2))
    decimal = _DECIMAL.fullmatch(text)
    if decimal:
        return pa.decimal128(int(decimal.group(1)), int(decimal.group(2)))
    aliases = {"date32[day]": pa.date32(), "date64[ms]": pa.date64()}
    if text in aliases:
        return aliases[text]
    try:
        return pa.type_for_alias(text)
    except (KeyError, ValueError) as exc:
        raise ValueError(f"{where or 'schema'}: unknown Arrow type {type_string!r}") from exc


def canonical_type(dtype: pa.DataType) -> str:
    """The type string compared by the contract: string and binary encodings folded into one."""
    import pyarrow as pa

    if pa.types.is_dictionary(dtype):
        return canonical_type(dtype.value_type)
    if pa.types.is_string(dtype) or pa.types.is_large_string(dtype) or pa.types.is_string_view(dtype):
        return "string"
    if pa.types.is_binary(dtype) or pa.types.is_large_binary(dtype) or pa.types.is_binary_view(dtype):
        return "binary"
    if pa.types.is_decimal(dtype):
        return f"decimal({dtype.precision}, {dtype.scale})"
    return str(dtype)


def check_schema(declared: ProductSchema, table: pa.Table) -> SchemaVerdict:
    """The table keeps every declared column with its declared type; extra columns pass as additive changes."""
    actual = {f.name: canonical_type(f.type) for f in table.schema}
    expected = {name: canonical_type(parse_arrow_type(t)) for name, t in declared.columns}
    missing = tuple(name for name in declared.column_names if name not in actual)
    changed = tuple(
        (name, expected[name], actual[name])
        for name in declared.column_names
        if name in actual and actual[name] != expected[name]
    )
    additive = tuple((f.name, str(f.type)) for f in table.schema if f.name not in expected)
    passed = not missing and not changed
    if passed:
        description = f"{declared.product}: all {len(expected)} declared columns present with their types"
        if additive:
            description += f"; {len(additive)} additive columns: {', '.join(n for n, _ in additive)}"
    else:
        problems = []
        if missing:
            problems.append(f"missing columns {', '.join(missing)}")
        if changed:
            problems.append("type changed: " + ", ".join(f"{n} {d} -> {a}" for n, d, a in changed))
        description = f"{declared.product}: schema contract broken: " + "; ".join(problems)
    metadata: dict[str, Any] = {
        "product": declared.product,
        "declared_columns": len(expected),
        "table_columns": len(actual),
        "missing_columns": list(missing),
        "type_changes": [{"column": n, "declared": d, "actual": a} for n, d, a in changed],
        "additive_columns": [{"column": n, "type": t} for n, t in additive],
    }
    return SchemaVerdict(
        passed, description, metadata, missing_columns=missing, type_changes=changed, additive_columns=additive
    )


def null_keys_verdict(table: pa.Table, key_columns: tuple[str, ...] | list[str]) -> Verdict:
    """No row has a null in any key column; failed with counts per column and sample rows otherwise."""
    import pyarrow as pa
    import pyarrow.compute as pc

    absent = [c for c in key_columns if c not in table.column_names]
    if absent:
        return Verdict(
            False,
            f"key columns {', '.join(absent)} are not in the table",
            {"rows_checked": table.num_rows, "key_columns": list(key_columns), "absent_key_columns": absent},
        )
    nulls = {c: table[c].null_count for c in key_columns}
    mask = pa.array([False] * table.num_rows, pa.bool_())
    for c in key_columns:
        mask = pc.or_(mask, pc.is_null(table[c]))
    offending_rows = pc.indices_nonzero(mask).to_pylist()
    samples = []
    if offending_rows:
        sample_rows = offending_rows[:SAMPLE_SIZE]
        keys = table.select(list(key_columns)).take(pa.array(sample_rows, pa.int64())).to_pylist()
        for row, values in zip(sample_rows, keys, strict=True):
            samples.append(
                {"row": row, **{k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in values.items()}}
            )
    failing = {c: n for c, n in nulls.items() if n}
    description = (
        f"all {table.num_rows} rows have {', '.join(key_columns)}"
        if not offending_rows
        else f"{len(offending_rows)} of {table.num_rows} rows have a null key: {failing}"
    )
    return Verdict(
        not offending_rows,
        description,
        {
            "rows_checked": table.num_rows,
            "rows_failing": len(offending_rows),
            "key_columns": list(key_columns),
            "nulls_by_column": failing,
            "samples": samples,
        },
    )
