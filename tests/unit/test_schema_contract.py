"""Schema contract of the data products: declared columns and types, additive changes, null keys."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from mesh_assets.lib.data_products.products import PRODUCTS, product_for_data_set, product_spec
from mesh_assets.lib.data_products.schema_contract import (
    ProductSchema,
    check_schema,
    null_keys_verdict,
    parse_arrow_type,
)

SEED = Path(__file__).resolve().parents[2] / "dbt_project" / "seeds" / "silver_data_products.csv"
MODELS = Path(__file__).resolve().parents[2] / "dbt_project" / "models"


def _sample_table(schema: ProductSchema, rows: int = 3) -> pa.Table:
    """A table with the declared schema and non-null values."""
    arrow = schema.arrow_schema()
    columns = {}
    for f in arrow:
        if pa.types.is_date(f.type):
            values = [dt.date(2026, 9, 14) + dt.timedelta(days=i) for i in range(rows)]
        elif pa.types.is_string(f.type):
            values = [f"{f.name}-{i}" for i in range(rows)]
        elif pa.types.is_boolean(f.type):
            values = [i % 2 == 0 for i in range(rows)]
        elif pa.types.is_integer(f.type):
            values = list(range(rows))
        else:
            values = [float(i) + 0.5 for i in range(rows)]
        columns[f.name] = pa.array(values, f.type)
    return pa.table(columns, schema=arrow)


def test_products_agree_with_the_dbt_seed() -> None:
    with SEED.open(newline="") as handle:
        seed = {row["data_product"]: row for row in csv.DictReader(handle)}
    assert set(seed) == set(PRODUCTS)
    for name, spec in PRODUCTS.items():
        assert spec.adx_data_set == seed[name]["adx_data_set"]
        assert spec.source_model == seed[name]["source_model"]
        assert spec.product_name == seed[name]["product_name"]
        assert list(MODELS.rglob(f"{spec.source_model}.sql")), f"{name}: model {spec.source_model} not found"


def test_declared_columns_are_selected_by_the_models() -> None:
    for spec in PRODUCTS.values():
        sql = next(MODELS.rglob(f"{spec.source_model}.sql")).read_text()
        for column in spec.schema.column_names:
            assert column in sql, f"{spec.product}: column {column} not in {spec.source_model}.sql"
        assert spec.date_column in spec.key_columns


def test_products_are_found_by_name_and_data_set() -> None:
    assert product_spec("nav_history").source_table == "gold.product_nav_history"
    assert product_spec("prices").source_table == "gold.product_prices"
    assert product_spec("prices").data_set_for("tnt-0001") == "mesh-prices-tnt-0001"
    assert product_for_data_set("mesh-exposure-analytics").product == "esg"
    with pytest.raises(KeyError, match="unknown data product 'navs'"):
        product_spec("navs")
    with pytest.raises(KeyError, match="mesh-nothing"):
        product_for_data_set("mesh-nothing")


@pytest.mark.parametrize("product", sorted(PRODUCTS))
def test_a_table_of_the_declared_schema_passes(product: str) -> None:
    spec = PRODUCTS[product]
    table = _sample_table(spec.schema)
    verdict = check_schema(spec.schema, table)
    assert verdict.passed, verdict.description
    assert verdict.metadata["additive_columns"] == []
    assert null_keys_verdict(table, spec.key_columns).passed


def test_missing_column_fails_and_names_it() -> None:
    schema = PRODUCTS["nav_history"].schema
    table = _sample_table(schema).drop_columns(["nav_index"])
    verdict = check_schema(schema, table)
    assert not verdict.passed
    assert verdict.missing_columns == ("nav_index",)
    assert verdict.metadata["missing_columns"] == ["nav_index"]
    assert "missing columns nav_index" in verdict.description


def test_type_change_fails_with_declared_and_actual_types() -> None:
    schema = PRODUCTS["esg"].schema
    table = _sample_table(schema)
    table = table.set_column(table.schema.get_field_index("rank"), "rank", pa.array([0.0, 1.0, 2.0]))
    verdict = check_schema(schema, table)
    assert not verdict.passed
    assert verdict.type_changes == (("rank", "int32", "double"),)
    assert verdict.metadata["type_changes"] == [{"column": "rank", "declared": "int32", "actual": "double"}]
    assert "rank int32 -> double" in verdict.description


def test_extra_columns_pass_as_recorded_additive_changes() -> None:
    schema = PRODUCTS["prices"].schema
    table = _sample_table(schema).append_column("px_open", pa.array([1.0, 2.0, 3.0]))
    verdict = check_schema(schema, table)
    assert verdict.passed
    assert verdict.additive_columns == (("px_open", "double"),)
    assert verdict.metadata["additive_columns"] == [{"column": "px_open", "type": "double"}]
    assert "additive columns: px_open" in verdict.description


def test_string_encodings_and_column_order_do_not_break_the_contract() -> None:
    schema = PRODUCTS["esg"].schema
    table = _sample_table(schema)
    table = table.set_column(table.schema.get_field_index("bucket"), "bucket", table["bucket"].cast(pa.large_string()))
    table = table.set_column(table.schema.get_field_index("measure"), "measure", table["measure"].dictionary_encode())
    reordered = table.select(list(reversed(table.column_names)))
    assert check_schema(schema, reordered).passed


def test_null_keys_are_counted_with_sample_rows() -> None:
    table = pa.table(
        {
            "as_of_date": pa.array([dt.date(2026, 9, 14), None, dt.date(2026, 9, 15), None]),
            "portfolio_id": pa.array(["P-0001", "P-0002", None, None]),
            "nav": pa.array([1.0, 2.0, 3.0, 4.0]),
        }
    )
    verdict = null_keys_verdict(table, ("as_of_date", "portfolio_id"))
    assert not verdict.passed
    assert verdict.metadata["rows_failing"] == 3
    assert verdict.metadata["nulls_by_column"] == {"as_of_date": 2, "portfolio_id": 2}
    assert verdict.metadata["samples"] == [
        {"row": 1, "as_of_date": None, "portfolio_id": "P-0002"},
        {"row": 2, "as_of_date": "2026-09-15", "portfolio_id": None},
        {"row": 3, "as_of_date": None, "portfolio_id": None},
    ]


def test_absent_key_column_fails() -> None:
    table = pa.table({"as_of_date": pa.array([dt.date(2026, 9, 14)])})
    verdict = null_keys_verdict(table, ("as_of_date", "portfolio_id"))
    assert not verdict.passed
    assert verdict.metadata["absent_key_columns"] == ["portfolio_id"]


def test_declaration_errors_name_the_product_and_column() -> None:
    with pytest.raises(ValueError, match="data product demo: key columns \\['id'\\]"):
        ProductSchema("demo", (("name", "string"),), ("id",))
    with pytest.raises(ValueError, match="data product demo, column price: unknown Arrow type 'money'"):
        ProductSchema("demo", (("price", "money"),), ())
    with pytest.raises(ValueError, match="columns declared twice"):
        ProductSchema("demo", (("a", "string"), ("a", "int64")), ())


def test_arrow_type_strings_round_trip() -> None:
    for t in (pa.string(), pa.float64(), pa.int64(), pa.int32(), pa.bool_(), pa.date32(), pa.timestamp("us", "UTC")):
        assert parse_arrow_type(str(t)) == t


def test_product_declarations_load_without_pyarrow() -> None:
    import subprocess
    import sys

    code = "import sys, mesh_assets.lib.data_products.products; print('pyarrow' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert result.stdout.strip() == "False"
