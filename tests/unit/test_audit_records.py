"""The Dagster-free half of the audit table: rows, canonical metadata JSON, key de-duplication, date bounds."""

from __future__ import annotations

import datetime as dt
import decimal
import json

import pyarrow as pa
import pytest

from mesh_assets.lib.audit.export import day_bounds
from mesh_assets.lib.audit.records import CheckEvaluation, check_results_rows, metadata_json
from mesh_assets.lib.audit.tables import CHECK_RESULTS
from mesh_assets.lib.audit.writer import new_rows

AT = dt.datetime(2026, 3, 2, 18, 30, tzinfo=dt.UTC)


def evaluation(storage_id: int, run_id: str = "r1", **extra) -> CheckEvaluation:
    return CheckEvaluation(event_storage_id=storage_id, run_id=run_id, asset_key="gold/performance/nav_history",
                           check_name="nav_complete", passed=True, severity="ERROR", evaluated_at=AT, **extra)


def test_metadata_json_is_canonical_and_strict() -> None:
    text = metadata_json({"b": float("inf"), "a": [float("nan"), -float("inf")], "day": dt.date(2026, 1, 2),
                          "amount": decimal.Decimal("1.5"), "ids": {"y", "x"}, "raw": b"\x01\xff", "ok": True})
    assert text == ('{"a":["NaN","-Infinity"],"amount":1.5,"b":"Infinity","day":"2026-01-02",'
                    '"ids":["x","y"],"ok":true,"raw":"01ff"}')
    assert json.loads(text)["b"] == "Infinity"
    assert metadata_json({}) == "{}"


def test_rows_follow_the_table_schema() -> None:
    rows = check_results_rows(
        [evaluation(7, partition_key="2026-03-02", metadata={"rows": 3}, description="all NAVs present"),
         evaluation(8)],
        ingested_at=AT + dt.timedelta(minutes=1),
    )
    assert rows.schema == CHECK_RESULTS.schema
    first = rows.to_pylist()[0]
    assert (first["event_storage_id"], first["partition_key"], first["metadata_json"]) == (7, "2026-03-02",
                                                                                           '{"rows":3}')
    assert first["evaluated_at"] == AT and rows["ingested_at"].to_pylist() == [AT + dt.timedelta(minutes=1)] * 2
    assert rows.to_pylist()[1]["partition_key"] is None
    assert check_results_rows([], ingested_at=AT).num_rows == 0


def test_naive_evaluation_times_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        CheckEvaluation(1, "r", "a/b", "c", True, "ERROR", evaluated_at=dt.datetime(2026, 1, 1))


def test_new_rows_drops_stored_keys_and_repeats_within_the_batch() -> None:
    rows = check_results_rows([evaluation(1), evaluation(2), evaluation(2), evaluation(2, run_id="other-instance"),
                               evaluation(3)], ingested_at=AT)
    existing = pa.table({"event_storage_id": [1], "run_id": ["r1"]})
    fresh = new_rows(rows, existing)
    assert list(zip(fresh["event_storage_id"].to_pylist(), fresh["run_id"].to_pylist(), strict=True)) == [
        (2, "r1"), (2, "other-instance"), (3, "r1")]


def test_day_bounds_cover_whole_utc_days() -> None:
    start, end = day_bounds(dt.date(2026, 1, 1), dt.date(2026, 1, 31))
    assert (start.isoformat(), end.isoformat()) == ("2026-01-01T00:00:00+00:00", "2026-02-01T00:00:00+00:00")
    with pytest.raises(ValueError, match="before it starts"):
        day_bounds(dt.date(2026, 2, 1), dt.date(2026, 1, 1))


def test_an_evaluation_without_a_partition_takes_its_runs_partition_or_range() -> None:
    from sensors.audit_sensor import run_partition

    assert run_partition({"dagster/partition": "2026-09-01"}) == "2026-09-01"
    assert run_partition({"dagster/asset_partition_range_start": "2026-09-01",
                          "dagster/asset_partition_range_end": "2026-09-30"}) == "2026-09-01...2026-09-30"
    assert run_partition({"dagster/asset_partition_range_start": "2026-09-01",
                          "dagster/asset_partition_range_end": "2026-09-01"}) == "2026-09-01"
    assert run_partition({"mesh/offset-range": "aladdin.trades-3-0-100"}) is None
