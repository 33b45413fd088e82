"""A range built by dbt a piece at a time reports as one build: pieces, row counts and test verdicts."""

from __future__ import annotations

import pytest
from dagster import AssetCheckResult, AssetCheckSeverity, AssetKey, MetadataValue

from mesh_assets.warehouse.dbt_windows import FAILED_ROWS, EarlierPieces, build_windows

DAYS = [f"2024-01-{d:02d}" for d in range(2, 12)]  # ten "trading days"
KEY = AssetKey(["gold", "holdings", "valuations"])


def result(passed: bool, failed_rows: int, description: str = "", severity=AssetCheckSeverity.ERROR):
    return AssetCheckResult(asset_key=KEY, check_name="unique", passed=passed, severity=severity,
                            description=description, metadata={FAILED_ROWS: MetadataValue.int(failed_rows)})


def test_a_range_is_cut_into_consecutive_pieces_of_at_most_the_limit():
    window = {"start_date": DAYS[0], "end_date": DAYS[-1]}
    pieces = build_windows(window, DAYS, 4)
    assert pieces == [{"start_date": DAYS[0], "end_date": DAYS[3]}, {"start_date": DAYS[4], "end_date": DAYS[7]},
                      {"start_date": DAYS[8], "end_date": DAYS[9]}]


@pytest.mark.parametrize("limit", [None, 0, 10, 50])
def test_a_range_that_fits_or_has_no_limit_is_one_build(limit):
    window = {"start_date": DAYS[0], "end_date": DAYS[-1]}
    assert build_windows(window, DAYS, limit) == [window]


def test_an_unpartitioned_build_is_one_build_without_vars():
    assert build_windows({}, [], 4) == [{}]


def test_a_negative_limit_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        build_windows({"start_date": DAYS[0], "end_date": DAYS[-1]}, DAYS, -3)


def test_window_rows_add_up_over_the_pieces_and_the_table_total_is_the_last():
    earlier = EarlierPieces()
    earlier.add({"start_date": DAYS[0], "end_date": DAYS[3]}, {"m": {"total_rows": 40, "window_rows": 40}}, [])
    earlier.add({"start_date": DAYS[4], "end_date": DAYS[7]}, {"m": {"total_rows": 80, "window_rows": 40}}, [])
    assert earlier.count("m", {"total_rows": 100, "window_rows": 20}) == {"total_rows": 100, "window_rows": 100}
    assert earlier.count("other", {"total_rows": 7, "window_rows": 7}) == {"total_rows": 7, "window_rows": 7}


def test_a_test_passing_on_every_piece_passes_with_each_piece_listed():
    earlier = EarlierPieces()
    first = {"start_date": DAYS[0], "end_date": DAYS[4]}
    earlier.add(first, {}, [result(True, 0)])
    combined = earlier.combined({"start_date": DAYS[5], "end_date": DAYS[9]}, result(True, 0, "last"))
    assert combined.passed
    assert combined.description == "last"
    assert [p["passed"] for p in combined.metadata["pieces"].value] == [True, True]


def test_a_test_failing_on_an_earlier_piece_fails_naming_that_piece_and_summing_its_rows():
    earlier = EarlierPieces()
    earlier.add({"start_date": DAYS[0], "end_date": DAYS[4]}, {}, [result(False, 3, "3 duplicate rows")])
    combined = earlier.combined({"start_date": DAYS[5], "end_date": DAYS[9]}, result(False, 2, "2 duplicate rows"))
    assert not combined.passed
    assert combined.severity == AssetCheckSeverity.ERROR
    assert combined.metadata[FAILED_ROWS].value == 5
    assert f"first on {DAYS[0]}..{DAYS[4]}: 3 duplicate rows" in combined.description
    assert "failed on 2 of 2 pieces" in combined.description


def test_a_warning_on_one_piece_stays_a_warning():
    earlier = EarlierPieces()
    earlier.add({"start_date": DAYS[0], "end_date": DAYS[4]}, {}, [result(False, 1, "late", AssetCheckSeverity.WARN)])
    combined = earlier.combined({"start_date": DAYS[5], "end_date": DAYS[9]}, result(True, 0))
    assert not combined.passed
    assert combined.severity == AssetCheckSeverity.WARN
