"""The contract change cursor: overlap re-reads, ties on SystemModstamp, JSON round trip, run keys."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesh_assets.entitlements.contract_cursor import (
    ContractCursor,
    CursorFormatError,
    advance,
    change_set_key,
    format_modstamp,
    parse_modstamp,
    query_since,
)

OVERLAP_S = 300
T0 = dt.datetime(2026, 11, 2, 9, 30, tzinfo=dt.UTC)


def stamp(ms: int) -> str:
    """A SystemModstamp ``ms`` milliseconds after T0."""
    return format_modstamp(T0 + dt.timedelta(milliseconds=ms))


def contract(record_id: str, ms: int, status: str = "Activated") -> dict:
    return {"Id": record_id, "SystemModstamp": stamp(ms), "Status": status}


def ids(records: list[dict]) -> list[tuple[str, str]]:
    return [(r["Id"], r["SystemModstamp"]) for r in records]


def test_first_poll_reads_everything_in_modstamp_then_id_order() -> None:
    assert query_since(ContractCursor(), OVERLAP_S) is None
    records = [contract("800B", 2000), contract("800A", 1000), contract("800C", 1000)]
    new, cursor = advance(ContractCursor(), records, OVERLAP_S)
    assert ids(new) == [("800A", stamp(1000)), ("800C", stamp(1000)), ("800B", stamp(2000))]
    assert cursor.high_water == stamp(2000)


def test_query_bound_is_high_water_minus_overlap_floored_to_the_second() -> None:
    cursor = ContractCursor(high_water="2026-11-02T09:30:10.750+0000")
    assert query_since(cursor, 5) == "2026-11-02T09:30:05.000+0000"
    assert query_since(cursor, 0) == "2026-11-02T09:30:10.000+0000"
    with pytest.raises(ValueError, match="overlap_s"):
        query_since(cursor, -1)


def test_overlap_window_rereads_are_deduplicated() -> None:
    first = [contract("800A", 1000), contract("800B", 5000)]
    _, cursor = advance(ContractCursor(), first, OVERLAP_S)
    # the next poll re-reads the window below the high-water mark: both old versions come back, plus a new one
    second = [*first, contract("800C", 6000)]
    new, cursor = advance(cursor, second, OVERLAP_S)
    assert ids(new) == [("800C", stamp(6000))]
    again, unchanged = advance(cursor, second, OVERLAP_S)
    assert again == []
    assert unchanged == cursor


def test_a_late_version_stamped_inside_the_window_is_not_skipped() -> None:
    _, cursor = advance(ContractCursor(), [contract("800A", 10_000)], OVERLAP_S)
    # committed late: stamped 4 s before the high-water mark, visible only now
    new, cursor = advance(cursor, [contract("800L", 6000), contract("800A", 10_000)], OVERLAP_S)
    assert ids(new) == [("800L", stamp(6000))]
    assert cursor.high_water == stamp(10_000)


def test_same_millisecond_ties_are_ordered_by_id() -> None:
    records = [contract(i, 1234) for i in ("800Z", "800A", "800M")]
    new, _ = advance(ContractCursor(), records, OVERLAP_S)
    assert [r["Id"] for r in new] == ["800A", "800M", "800Z"]


def test_nothing_is_skipped_when_two_versions_share_a_modstamp_across_polls() -> None:
    _, cursor = advance(ContractCursor(), [contract("800A", 7000)], OVERLAP_S)
    # 800B carries the very same millisecond but became visible only at the next poll
    new, cursor = advance(cursor, [contract("800A", 7000), contract("800B", 7000)], OVERLAP_S)
    assert ids(new) == [("800B", stamp(7000))]
    assert {("800A", stamp(7000)), ("800B", stamp(7000))} <= cursor.seen


def test_every_version_of_one_contract_is_returned() -> None:
    records = [contract("800A", 3000, "Activated"), contract("800A", 1000, "Draft"), contract("800A", 3000)]
    new, _ = advance(ContractCursor(), records, OVERLAP_S)
    assert [(r["SystemModstamp"], r["Status"]) for r in new] == [(stamp(1000), "Draft"), (stamp(3000), "Activated")]


def test_seen_versions_older_than_the_window_are_forgotten() -> None:
    _, cursor = advance(ContractCursor(), [contract("800A", 0)], OVERLAP_S)
    _, cursor = advance(cursor, [contract("800B", (OVERLAP_S + 60) * 1000)], OVERLAP_S)
    assert {i for i, _ in cursor.seen} == {"800B"}


def test_versions_below_the_query_bound_are_not_new() -> None:
    _, cursor = advance(ContractCursor(), [contract("800B", 1_000_000)], 10)
    new, _ = advance(cursor, [contract("800OLD", 0)], 10)
    assert new == []


def test_modstamp_formats_are_one_version() -> None:
    _, cursor = advance(ContractCursor(), [{"Id": "800A", "SystemModstamp": "2026-11-02T09:30:00.000+0000"}], 60)
    new, _ = advance(cursor, [{"Id": "800A", "SystemModstamp": "2026-11-02T09:30:00Z"}], 60)
    assert new == []


def test_a_record_without_modstamp_is_named() -> None:
    with pytest.raises(ValueError, match="800X"):
        advance(ContractCursor(), [{"Id": "800X"}], OVERLAP_S)


def test_json_round_trip() -> None:
    records = [contract("800A", 1000), contract("800B", 1000), contract("800C", 250_000)]
    _, cursor = advance(ContractCursor(), records, OVERLAP_S)
    text = cursor.to_json()
    assert ContractCursor.from_json(text) == cursor
    assert ContractCursor.from_json(text).to_json() == text
    assert ContractCursor.from_json(None) == ContractCursor() == ContractCursor.from_json("")


def test_a_foreign_cursor_string_is_refused() -> None:
    with pytest.raises(CursorFormatError, match="not a contract cursor"):
        ContractCursor.from_json('{"offset": 12}')
    with pytest.raises(CursorFormatError, match="format"):
        ContractCursor.from_json('{"v": 99, "high_water": null, "seen": []}')


def test_change_set_key_is_deterministic_and_order_independent() -> None:
    a, b = contract("800A", 1000), contract("800B", 2000)
    assert change_set_key([a, b]) == change_set_key([b, a]) == change_set_key([b, a, a])
    assert change_set_key([a, b]) != change_set_key([a, contract("800B", 2001)])
    assert change_set_key([a]).startswith("contracts-")


def test_parse_modstamp_accepts_salesforce_and_iso_forms() -> None:
    assert parse_modstamp("2026-11-02T09:30:00.123+0000") == parse_modstamp("2026-11-02T09:30:00.123Z")
    with pytest.raises(ValueError, match="no time zone"):
        parse_modstamp("2026-11-02T09:30:00")


# --- property: every version exactly once under late visibility within the overlap ---------------------------------

_versions = st.lists(
    st.tuples(st.sampled_from(["800A", "800B", "800C", "800D"]), st.integers(0, 60_000), st.integers(0, 5_000)),
    min_size=1,
    max_size=40,
)


@settings(max_examples=200, deadline=None)
@given(versions=_versions, polls=st.lists(st.integers(0, 70_000), max_size=12))
def test_polling_hands_out_every_version_exactly_once(versions: list[tuple[str, int, int]], polls: list[int]) -> None:
    """Versions become visible up to 5 s after their stamp; the overlap is 5 s; polls come at any time."""
    overlap_s = 5
    unique = {(i, ms): delay for i, ms, delay in versions}  # one delay per version
    cursor, handed_out = ContractCursor(), []
    for now_ms in [*sorted(polls), 10**9]:
        bound = query_since(cursor, overlap_s)
        visible = [contract(i, ms) for (i, ms), delay in unique.items() if ms + delay <= now_ms]
        result = [r for r in visible if bound is None or parse_modstamp(r["SystemModstamp"]) >= parse_modstamp(bound)]
        new, cursor = advance(cursor, result, overlap_s)
        keys = [(r["SystemModstamp"], r["Id"]) for r in new]
        assert keys == sorted(keys)
        handed_out.extend(ids(new))
        cursor = ContractCursor.from_json(cursor.to_json())
    assert sorted(handed_out) == sorted((i, stamp(ms)) for i, ms in unique)
