"""The business days an audit row is about, read from its partition key."""

import datetime as dt

from mesh_assets.lib.audit.business_dates import business_period, overlaps

D = dt.date


def test_partition_keys_name_their_business_days():
    assert business_period("2026-09-01") == (D(2026, 9, 1), D(2026, 9, 1))
    assert business_period("2026-02") == (D(2026, 2, 1), D(2026, 2, 28))
    assert business_period("COMP-01|2026") == (D(2026, 1, 1), D(2026, 12, 31))
    assert business_period("2026|COMP-01") == (D(2026, 1, 1), D(2026, 12, 31))
    assert business_period("2026-09-01...2026-09-30") == (D(2026, 9, 1), D(2026, 9, 30))


def test_keys_without_a_date_name_no_business_day():
    for key in (None, "", "aladdin.trades-3-1200-2200", "COMP-01", "2026-13-01", "2026-02-30", "x...2026-01-01"):
        assert business_period(key) is None, key


def test_overlap_includes_both_ends():
    period = (D(2026, 9, 1), D(2026, 9, 30))
    assert overlaps(period, D(2026, 9, 30), D(2026, 10, 5)) and overlaps(period, D(2026, 8, 1), D(2026, 9, 1))
    assert not overlaps(period, D(2026, 10, 1), D(2026, 10, 31))
