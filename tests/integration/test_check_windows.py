"""A daily check gives the same verdict for a day whether its window is the whole range or a short piece of it.

The dbt step evaluates its daily checks a year of trading days per query (``DAYS_PER_QUERY`` in
mesh_assets/warehouse/checks/in_step.py: the large firm's whole history in one query ran out of Trino's query memory).
Over the small firm's built warehouse (the session's ``eod_world``), every daily check is evaluated over the whole
history at once and week by week; each day's verdict, description and figures must be the same.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.integration


def test_every_daily_check_judges_each_day_alike_in_one_window_and_in_pieces(eod_world):
    from mesh_assets.warehouse.checks import build_checks
    from mesh_assets.warehouse.checks.window import CheckWindow
    from resources.warehouse import WarehouseResource

    warehouse = WarehouseResource(engine="duckdb", duckdb_path=str(eod_world["warehouse"]))
    days = tuple(eod_world["days"])
    whole = CheckWindow(days[0], days[-1], days)
    pieces = whole.chunks(5)
    assert len(pieces) == -(-len(days) // 5) and [d for p in pieces for d in p.days] == list(days)
    daily = [check for check in build_checks() if check.daily]
    assert len(daily) >= 4
    for check in daily:
        at_once = check.evaluate(warehouse, whole)
        in_pieces: dict = {}
        for piece in pieces:
            in_pieces.update(check.evaluate(warehouse, piece))
        assert set(at_once) == set(in_pieces) == set(days), check.spec.name
        for day in days:
            one, other = at_once[day], in_pieces[day]
            assert (one.passed, one.description, one.metadata) == (other.passed, other.description, other.metadata), (
                check.spec.name, day)
