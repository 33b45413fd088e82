"""A data product's files: byte-identical for the same rows, a hash that follows the content, a complete manifest."""

import datetime as dt
import decimal
import hashlib
import io
import json

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from resources.adx_exchange.product_files import build_product_files

DAY = "2025-03-14"


def _valuations(order: list[int] | None = None) -> pa.Table:
    rows = [
        {"portfolio_id": "P-0001", "security_id": "US0378331005", "quantity": 120.0, "value": decimal.Decimal("21.50")},
        {"portfolio_id": "P-0001", "security_id": "CASH", "quantity": 1.0, "value": decimal.Decimal("1000.00")},
        {"portfolio_id": "P-0002", "security_id": "US5949181045", "quantity": 3.5, "value": None},
        {"portfolio_id": "P-0002", "security_id": "CASH", "quantity": 1.0, "value": decimal.Decimal("-0.01")},
    ]
    picked = [rows[i] for i in (order or range(len(rows)))]
    schema = pa.schema(
        [
            ("valuation_date", pa.date32()),
            ("portfolio_id", pa.string()),
            ("security_id", pa.string()),
            ("quantity", pa.float64()),
            ("value", pa.decimal128(18, 2)),
        ]
    )
    return pa.Table.from_pylist([{"valuation_date": dt.date(2025, 3, 14), **row} for row in picked], schema=schema)


def test_same_rows_in_another_order_give_byte_identical_files_and_hash():
    first = build_product_files("valuations", DAY, _valuations([0, 1, 2, 3]))
    second = build_product_files("valuations", DAY, _valuations([3, 1, 0, 2]))

    assert set(first.files) == {"valuations.parquet", "valuations.csv", "manifest.json"}
    assert first.files == second.files
    assert first.content_hash == second.content_hash


def test_chunking_and_schema_metadata_do_not_change_the_bytes():
    table = _valuations()
    rechunked = pa.concat_tables([table.slice(0, 1), table.slice(1)]).replace_schema_metadata({"pandas": "{}"})

    assert (
        build_product_files("valuations", DAY, rechunked).files == build_product_files("valuations", DAY, table).files
    )


def test_a_changed_value_changes_the_hash():
    table = _valuations()
    changed = table.set_column(3, "quantity", pa.array([120.0, 1.0, 3.5, 2.0]))

    assert (
        build_product_files("valuations", DAY, changed).content_hash
        != build_product_files("valuations", DAY, table).content_hash
    )


def test_a_changed_type_changes_the_hash_even_when_the_csv_looks_the_same():
    table = pa.table({"portfolio_id": ["P-0001"], "units": pa.array([1], pa.int64())})
    as_int32 = pa.table({"portfolio_id": ["P-0001"], "units": pa.array([1], pa.int32())})

    assert (
        build_product_files("units", DAY, table).content_hash
        != build_product_files("units", DAY, as_int32).content_hash
    )


def test_manifest_lists_schema_row_count_files_and_hash():
    product = build_product_files("valuations", DAY, _valuations())
    manifest = json.loads(product.files["manifest.json"])

    assert manifest == product.manifest
    assert manifest["product"] == "valuations"
    assert manifest["partition"] == DAY
    assert manifest["row_count"] == product.row_count == 4
    assert manifest["content_hash"] == product.content_hash
    assert [(column["name"], column["type"]) for column in manifest["schema"]] == [
        ("valuation_date", "date32[day]"),
        ("portfolio_id", "string"),
        ("security_id", "string"),
        ("quantity", "double"),
        ("value", "decimal128(18, 2)"),
    ]
    listed = {entry["name"]: entry for entry in manifest["files"]}
    assert set(listed) == {"valuations.parquet", "valuations.csv"}
    for name, entry in listed.items():
        assert entry["sha256"] == hashlib.sha256(product.files[name]).hexdigest()
        assert entry["bytes"] == len(product.files[name])


def test_manifest_holds_nothing_time_varying():
    text = build_product_files("valuations", DAY, _valuations()).files["manifest.json"].decode()

    today = dt.date.today().isoformat()
    assert today not in text or today == DAY
    assert not any(word in text for word in ("created", "generated", "timestamp", "written_at"))


def test_parquet_carries_no_writer_timestamp_and_reads_back():
    product = build_product_files("valuations", DAY, _valuations([2, 0, 3, 1]))
    parquet = pq.ParquetFile(io.BytesIO(product.files["valuations.parquet"]))

    assert set(parquet.metadata.metadata or {}) <= {b"ARROW:schema"}
    rows = parquet.read()
    assert rows.num_rows == 4
    assert rows.column("portfolio_id").to_pylist() == ["P-0001", "P-0001", "P-0002", "P-0002"]
    assert rows.column("security_id").to_pylist() == ["CASH", "US0378331005", "CASH", "US5949181045"]


def test_csv_reads_back_to_the_same_rows():
    table = _valuations([1, 3, 0, 2])
    product = build_product_files("valuations", DAY, table)
    parquet_rows = pq.read_table(io.BytesIO(product.files["valuations.parquet"]))

    column_types = {field.name: field.type for field in table.schema}
    from_csv = pacsv.read_csv(
        io.BytesIO(product.files["valuations.csv"]), convert_options=pacsv.ConvertOptions(column_types=column_types)
    )

    assert from_csv.equals(parquet_rows)
    assert sorted(from_csv.to_pylist(), key=str) == sorted(table.to_pylist(), key=str)


def test_an_empty_partition_still_publishes_a_header_and_manifest():
    product = build_product_files("valuations", DAY, _valuations().slice(0, 0))

    assert product.row_count == 0
    assert product.files["valuations.csv"].startswith(b'"valuation_date","portfolio_id"')


@pytest.mark.parametrize("product", ["", "Valuations", "../etc", "a b"])
def test_a_product_name_unsafe_for_file_names_is_refused(product):
    with pytest.raises(ValueError, match="data product name"):
        build_product_files(product, DAY, _valuations())
