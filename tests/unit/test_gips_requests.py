"""A GIPS request that cannot exist gets one sentence naming the composite and year; years from inception on."""

import datetime as dt

import pytest

from mesh_assets.gips.partitions import composite_year_key, split_key, years_to_register
from mesh_assets.lib.gips.requests import gips_year_problem
from mesh_dev.firm.reference import CREATION_LAG_SESSIONS, creation_index

COMPOSITE = {"composite_id": "COMP-01", "inception_date": "2025-11-24"}
THROUGH = dt.date(2026, 2, 20)


def one_sentence(text: str) -> bool:
    return text.endswith(".") and ". " not in text and "\n" not in text


def test_an_unknown_composite_is_named_with_the_year():
    problem = gips_year_problem("COMP-99", 2026, None, None)
    assert problem == ("Composite COMP-99 is not one of the firm's composites (silver.composites), so there is no "
                       "GIPS year 2026 for it.")
    assert one_sentence(problem)


@pytest.mark.parametrize("year", [2019, 2024])
def test_a_year_before_inception_names_the_composite_the_year_and_the_first_year(year):
    problem = gips_year_problem("COMP-01", year, COMPOSITE, THROUGH)
    assert problem == (f"Composite COMP-01 has no GIPS year {year}: its first portfolio was funded on 2025-11-24, "
                       "so its first GIPS year is 2025.")
    assert one_sentence(problem)


def test_a_year_after_the_data_is_named():
    problem = gips_year_problem("COMP-01", 2027, COMPOSITE, THROUGH)
    assert problem == "Composite COMP-01 has no GIPS year 2027 yet: the firm's daily returns run through 2026-02-20."


@pytest.mark.parametrize("year", [2025, 2026])
def test_years_from_inception_to_the_data_are_valid(year):
    assert gips_year_problem("COMP-01", year, COMPOSITE, THROUGH) is None


def test_years_register_from_the_earliest_inception_to_this_year_once_and_in_order():
    assert years_to_register([2026, 2025, 2026], 2026, []) == ["2025", "2026"]
    assert years_to_register([2025], 2027, ["2025", "2026"]) == ["2027"]
    assert years_to_register([], 2026, []) == []


def test_a_partition_key_splits_even_when_its_composite_is_not_registered():
    assert split_key("COMP-99|2026") == ("COMP-99", 2026)
    assert split_key(composite_year_key("COMP-01", 2025)) == ("COMP-01", 2025)


def test_a_composite_is_created_after_its_first_portfolio_is_funded_and_within_the_history():
    low, high = CREATION_LAG_SESSIONS
    lags = {creation_index(f"COMP-{n:02d}", 100, 10_000) - 100 for n in range(1, 51)}
    assert lags <= set(range(low, high + 1)) and len(lags) > 5  # spread, deterministic per id
    assert creation_index("COMP-01", 100, 10_000) == creation_index("COMP-01", 100, 10_000)
    assert creation_index("COMP-01", 55, 60) == 59  # never after the last day of the history
