"""The GIPS return engine against worked examples computed by hand (the arithmetic is in each test)."""

import math

import pytest

from mesh_assets.lib.gips.composite_returns import aggregate_composite_return, composite_return
from mesh_assets.lib.gips.dispersion import asset_weighted_dispersion, equal_weighted_dispersion
from mesh_assets.lib.gips.returns import annualize, link_returns, modified_dietz, time_weighted_return
from mesh_assets.lib.gips.risk import ex_post_standard_deviation

CONTEXT = "portfolio P-0007, 2026-09"
TIGHT = {"rel": 1e-12, "abs": 1e-12}


def raised(excinfo: pytest.ExceptionInfo[ValueError]) -> str:
    return str(excinfo.value)


# --- Modified Dietz and true TWR ---------------------------------------------------------------------------


def test_modified_dietz_without_flows_is_the_simple_return():
    # (105 - 100 - 0) / (100 + 0) = 0.05
    assert modified_dietz(100.0, 105.0, [], 30) == pytest.approx(0.05, **TIGHT)


def test_modified_dietz_two_flows_in_a_31_day_month():
    # BMV 1000, EMV 1100; +50 on day 10 (w = 21/31), -30 on day 20 (w = 11/31); Σ CF = 20
    # numerator 1100 - 1000 - 20 = 80; denominator 1000 + 50·21/31 - 30·11/31 = 1000 + 720/31
    expected = 80 / (1000 + 720 / 31)  # = 2480 / 31720 ≈ 0.0781841
    assert modified_dietz(1000.0, 1100.0, [(10, 50.0), (20, -30.0)], 31) == pytest.approx(expected, **TIGHT)
    assert expected == pytest.approx(2480 / 31720, **TIGHT)


def test_modified_dietz_flow_weights_at_the_period_edges():
    # a flow on day 0 counts in full: (210 - 100 - 100) / (100 + 1·100) = 10 / 200
    assert modified_dietz(100.0, 210.0, [(0, 100.0)], 30) == pytest.approx(0.05, **TIGHT)
    # a flow on the last day counts not at all: (205 - 100 - 100) / (100 + 0·100) = 5 / 100
    assert modified_dietz(100.0, 205.0, [(30, 100.0)], 30) == pytest.approx(0.05, **TIGHT)
    # a portfolio funded on day 0 from nothing: (1010 - 0 - 1000) / (0 + 1000)
    assert modified_dietz(0.0, 1010.0, [(0, 1000.0)], 30) == pytest.approx(0.01, **TIGHT)


def test_large_mid_month_contribution_separates_modified_dietz_from_true_twr():
    # 30-day month. BMV 100; by day 15 the portfolio has fallen 10% to 90; +100 arrives (190 invested);
    # then it rises 10% to 209 by month end.
    # true TWR: (90/100) · (209/190) - 1 = 0.9 · 1.1 - 1 = -0.01
    twr = time_weighted_return([(100.0, 0.0, 90.0), (90.0, 100.0, 209.0)])
    assert twr == pytest.approx(0.9 * 1.1 - 1, **TIGHT)
    assert twr == pytest.approx(-0.01, **TIGHT)
    # Modified Dietz: (209 - 100 - 100) / (100 + (30 - 15)/30 · 100) = 9 / 150 = 0.06
    md = modified_dietz(100.0, 209.0, [(15, 100.0)], 30)
    assert md == pytest.approx(9 / 150, **TIGHT)
    assert md == pytest.approx(0.06, **TIGHT)
    # seven percentage points apart: the contribution caught only the rise
    assert md - twr == pytest.approx(0.07, **TIGHT)


def test_time_weighted_return_links_three_subperiods():
    # r1 = 110/100 - 1 = 0.10; r2 = 150/(110 + 50) - 1 = -0.0625; r3 = 140/(150 - 20) - 1 = 140/130 - 1
    expected = 1.1 * (150 / 160) * (140 / 130) - 1  # ≈ 0.1105769
    subperiods = [(100.0, 0.0, 110.0), (110.0, 50.0, 150.0), (150.0, -20.0, 140.0)]
    assert time_weighted_return(subperiods) == pytest.approx(expected, **TIGHT)


def test_time_weighted_return_without_flows_matches_modified_dietz():
    # one subperiod, no flow: 105/100 - 1 = 0.05, the same as Modified Dietz
    assert time_weighted_return([(100.0, 0.0, 105.0)]) == pytest.approx(0.05, **TIGHT)


# --- linking and annualizing ---------------------------------------------------------------------------------


def test_link_returns():
    # 1.10 · 0.95 = 1.045; 1.045 · 1.02 = 1.0659
    assert link_returns([0.10, -0.05, 0.02]) == pytest.approx(0.0659, **TIGHT)
    assert link_returns([]) == 0.0
    assert link_returns([0.03]) == pytest.approx(0.03, **TIGHT)


def test_link_returns_rejects_a_total_loss_and_nan():
    with pytest.raises(ValueError) as excinfo:
        link_returns([0.1, -1.0], context=CONTEXT)
    assert "returns[1]" in raised(excinfo)
    assert "-100%" in raised(excinfo)
    assert CONTEXT in raised(excinfo)
    with pytest.raises(ValueError, match="finite"):
        link_returns([0.1, math.nan])


def test_annualize_three_years():
    # 1.1³ = 1.331, so a 33.1% cumulative return over 3 years is 10% a year
    assert annualize(0.331, 3) == pytest.approx(0.10, **TIGHT)
    # 1.1² = 1.21
    assert annualize(0.21, 2.0) == pytest.approx(0.10, **TIGHT)
    # exactly one year is left as it is
    assert annualize(0.07, 1) == pytest.approx(0.07, **TIGHT)


def test_annualize_under_one_year_is_forbidden_by_gips():
    with pytest.raises(ValueError) as excinfo:
        annualize(0.05, 0.5, context=CONTEXT)
    message = raised(excinfo)
    assert "GIPS" in message
    assert "one year" in message
    assert CONTEXT in message


def test_annualize_rejects_nan():
    with pytest.raises(ValueError, match="cumulative return is not a finite number"):
        annualize(math.nan, 3)
    with pytest.raises(ValueError, match="years is not a finite number"):
        annualize(0.1, math.inf)


# --- composite returns ---------------------------------------------------------------------------------------

# A 30-day month, two portfolios:
#   A: BMV 100, no flows, EMV 110             -> R_A = 10 / 100 = 0.10
#   B: BMV 100, +200 on day 15 (w = 0.5), EMV 304 -> R_B = (304 - 100 - 200) / (100 + 0.5·200) = 4 / 200 = 0.02
R_A, R_B = 0.10, 0.02


def test_portfolio_returns_of_the_composite_example():
    assert modified_dietz(100.0, 110.0, [], 30) == pytest.approx(R_A, **TIGHT)
    assert modified_dietz(100.0, 304.0, [(15, 200.0)], 30) == pytest.approx(R_B, **TIGHT)


def test_composite_method_a_and_method_b_differ():
    # method a, beginning values 100 and 100: (100·0.10 + 100·0.02) / 200 = 0.06
    method_a = composite_return([R_A, R_B], [100.0, 100.0])
    assert method_a == pytest.approx(0.06, **TIGHT)
    # method b, beginning values plus weighted flows 100 and 100 + 0.5·200 = 200:
    # (100·0.10 + 200·0.02) / 300 = 14 / 300
    method_b = composite_return([R_A, R_B], [100.0, 200.0])
    assert method_b == pytest.approx(14 / 300, **TIGHT)
    assert method_a - method_b == pytest.approx(0.06 - 14 / 300, **TIGHT)
    assert abs(method_a - method_b) > 0.01


def test_composite_weights_need_not_sum_to_one():
    # weights 1 and 3 normalise to 0.25 and 0.75: 0.25·0.08 + 0.75·0.04 = 0.02 + 0.03
    assert composite_return([0.08, 0.04], [1.0, 3.0]) == pytest.approx(0.05, **TIGHT)
    assert composite_return([0.08, 0.04], [0.25, 0.75]) == pytest.approx(0.05, **TIGHT)


def test_aggregate_method_on_the_two_portfolio_example():
    # pooled: BMV 200, EMV 110 + 304 = 414, one flow +200 on day 15 (w = 0.5)
    # (414 - 200 - 200) / (200 + 0.5·200) = 14 / 300: with Modified Dietz portfolio returns the aggregate
    # method equals method b
    aggregate = aggregate_composite_return([100.0, 100.0], [110.0, 304.0], [[], [(15, 200.0)]], 30)
    assert aggregate == pytest.approx(14 / 300, **TIGHT)
    assert aggregate == pytest.approx(composite_return([R_A, R_B], [100.0, 200.0]), **TIGHT)


def test_aggregate_method_pools_flows_from_every_portfolio():
    # 30-day month. A: BMV 1000, EMV 1050, -100 on day 10. B: BMV 500, EMV 560, +30 on day 20.
    # pooled: BMV 1500, EMV 1610, Σ CF = -70
    # numerator 1610 - 1500 + 70 = 180; denominator 1500 - 100·20/30 + 30·10/30 = 1500 - 66.67 + 10
    expected = 180 / (1500 - 100 * 20 / 30 + 30 * 10 / 30)  # ≈ 0.1247113
    flows = [[(10, -100.0)], [(20, 30.0)]]
    assert aggregate_composite_return([1000.0, 500.0], [1050.0, 560.0], flows, 30) == pytest.approx(expected, **TIGHT)


# --- dispersion ----------------------------------------------------------------------------------------------


def test_asset_weighted_dispersion_two_portfolios():
    # weights 100 and 300 -> 0.25, 0.75; R_aw = 0.25·0.10 + 0.75·0.02 = 0.04
    # deviations 0.06 and -0.02: sqrt(0.25·0.0036 + 0.75·0.0004) = sqrt(0.0012)
    expected = math.sqrt(0.25 * 0.06**2 + 0.75 * 0.02**2)
    assert asset_weighted_dispersion([0.10, 0.02], [100.0, 300.0]) == pytest.approx(expected, **TIGHT)
    assert expected == pytest.approx(math.sqrt(0.0012), **TIGHT)


def test_dispersion_of_five_portfolios():
    returns = [0.05, 0.07, 0.06, 0.04, 0.08]
    # equal-weighted: mean 0.30 / 5 = 0.06; deviations -0.01, 0.01, 0, -0.02, 0.02
    # squares 0.0001 + 0.0001 + 0 + 0.0004 + 0.0004 = 0.001; / 5 = 0.0002; sqrt = 0.01414...
    assert equal_weighted_dispersion(returns) == pytest.approx(math.sqrt(0.0002), **TIGHT)
    assert equal_weighted_dispersion(returns) == pytest.approx(math.sqrt(2) / 100, **TIGHT)

    # asset-weighted, values 100, 200, 300, 200, 200 (total 1000): weights 0.1, 0.2, 0.3, 0.2, 0.2
    # R_aw = 0.005 + 0.014 + 0.018 + 0.008 + 0.016 = 0.061
    # deviations -0.011, 0.009, -0.001, -0.021, 0.019
    # Σ w·d² = 0.1·0.000121 + 0.2·0.000081 + 0.3·0.000001 + 0.2·0.000441 + 0.2·0.000361
    #        = 0.0000121 + 0.0000162 + 0.0000003 + 0.0000882 + 0.0000722 = 0.000189
    # check: Σ w·R² - R_aw² = 0.00391 - 0.003721 = 0.000189
    weights = [100.0, 200.0, 300.0, 200.0, 200.0]
    assert composite_return(returns, weights) == pytest.approx(0.061, **TIGHT)
    assert asset_weighted_dispersion(returns, weights) == pytest.approx(math.sqrt(0.000189), **TIGHT)

    # equal weights reduce the asset-weighted measure to the equal-weighted one
    assert asset_weighted_dispersion(returns, [1.0] * 5) == pytest.approx(math.sqrt(0.0002), **TIGHT)


def test_dispersion_of_one_portfolio_is_zero():
    assert equal_weighted_dispersion([0.05]) == 0.0
    assert asset_weighted_dispersion([0.05], [100.0]) == 0.0


def test_equal_weighted_dispersion_of_nothing_raises():
    with pytest.raises(ValueError) as excinfo:
        equal_weighted_dispersion([], context=CONTEXT)
    assert "returns is empty" in raised(excinfo)
    assert CONTEXT in raised(excinfo)


# --- ex-post standard deviation ------------------------------------------------------------------------------

# 36 months alternating +2% / -1%: mean 0.005, every deviation ±0.015, Σ d² = 36 · 0.000225 = 0.0081
ALTERNATING = [0.02, -0.01] * 18
SAMPLE_ANNUALIZED = math.sqrt(0.0081 / 35) * math.sqrt(12)  # = 0.09 · sqrt(12/35) ≈ 0.0526986
POPULATION_ANNUALIZED = 0.015 * math.sqrt(12)  # sqrt(0.0081 / 36) = 0.015


def test_ex_post_standard_deviation_of_exactly_36_months():
    assert len(ALTERNATING) == 36
    assert math.isclose(SAMPLE_ANNUALIZED, 0.09 * math.sqrt(12 / 35), rel_tol=1e-12)
    assert ex_post_standard_deviation(ALTERNATING) == pytest.approx(SAMPLE_ANNUALIZED, **TIGHT)
    assert ex_post_standard_deviation(ALTERNATING, ddof=0) == pytest.approx(POPULATION_ANNUALIZED, **TIGHT)


def test_ex_post_standard_deviation_uses_only_the_latest_36_months():
    # four wild months first, then the same 36: the answer is unchanged
    months = [0.50, -0.50, 0.90, -0.90, *ALTERNATING]
    assert len(months) == 40
    assert ex_post_standard_deviation(months) == pytest.approx(SAMPLE_ANNUALIZED, **TIGHT)
    # and the wild months really are wild: the first 36 months, which include them, deviate far more
    assert ex_post_standard_deviation(months[:36]) > 10 * SAMPLE_ANNUALIZED


def test_ex_post_standard_deviation_needs_36_months():
    with pytest.raises(ValueError) as excinfo:
        ex_post_standard_deviation(ALTERNATING[:35], context=CONTEXT)
    message = raised(excinfo)
    assert "36" in message
    assert "35 were given" in message
    assert CONTEXT in message


# --- invalid inputs: the message names the problem and the context ----------------------------------------


def test_nan_end_value_is_named():
    with pytest.raises(ValueError) as excinfo:
        modified_dietz(100.0, math.nan, [], 30, context=CONTEXT)
    assert "end value is not a finite number" in raised(excinfo)
    assert CONTEXT in raised(excinfo)


def test_nan_flow_amount_is_named():
    with pytest.raises(ValueError) as excinfo:
        modified_dietz(100.0, 110.0, [(5, 10.0), (10, math.inf)], 30, context=CONTEXT)
    assert "flows[1] amount is not a finite number" in raised(excinfo)
    assert CONTEXT in raised(excinfo)


def test_nan_return_in_a_composite_is_named():
    with pytest.raises(ValueError) as excinfo:
        composite_return([0.1, math.nan], [1.0, 1.0], context=CONTEXT)
    assert "returns[1] is not a finite number" in raised(excinfo)
    assert CONTEXT in raised(excinfo)


def test_nan_month_is_named():
    with pytest.raises(ValueError) as excinfo:
        ex_post_standard_deviation([*ALTERNATING[:35], math.nan], context=CONTEXT)
    assert "monthly_returns[35] is not a finite number" in raised(excinfo)
    assert CONTEXT in raised(excinfo)


def test_negative_begin_value_is_named():
    with pytest.raises(ValueError) as excinfo:
        modified_dietz(-5.0, 110.0, [], 30, context=CONTEXT)
    assert "begin value is negative" in raised(excinfo)
    assert CONTEXT in raised(excinfo)

    with pytest.raises(ValueError) as excinfo:
        time_weighted_return([(100.0, 0.0, 90.0), (-1.0, 10.0, 10.0)], context=CONTEXT)
    assert "subperiod 1 begin value is negative" in raised(excinfo)
    assert CONTEXT in raised(excinfo)

    with pytest.raises(ValueError) as excinfo:
        aggregate_composite_return([100.0, -1.0], [110.0, 0.0], [[], []], 30, context=CONTEXT)
    assert "begin_values[1] is negative" in raised(excinfo)
    assert CONTEXT in raised(excinfo)


def test_non_positive_dietz_denominator_is_named():
    # BMV 100 with all 100 withdrawn on day 0: average invested capital 100 - 1·100 = 0
    with pytest.raises(ValueError) as excinfo:
        modified_dietz(100.0, 0.0, [(0, -100.0)], 30, context=CONTEXT)
    message = raised(excinfo)
    assert "denominator" in message
    assert "average invested capital" in message
    assert "not positive" in message
    assert CONTEXT in message
    # an empty portfolio with no flows has nothing invested either
    with pytest.raises(ValueError, match="average invested capital"):
        modified_dietz(0.0, 0.0, [], 30)
    # 100 - 200·(30 - 10)/30 = -33.3 < 0
    with pytest.raises(ValueError, match="not positive"):
        modified_dietz(100.0, 0.0, [(10, -200.0)], 30)


def test_mismatched_lengths_are_named():
    with pytest.raises(ValueError) as excinfo:
        composite_return([0.1, 0.2, 0.3], [1.0, 2.0], context=CONTEXT)
    message = raised(excinfo)
    assert "mismatched lengths" in message
    assert "3 returns" in message
    assert "2 weights" in message
    assert CONTEXT in message

    with pytest.raises(ValueError) as excinfo:
        asset_weighted_dispersion([0.1], [1.0, 2.0], context=CONTEXT)
    assert "mismatched lengths" in raised(excinfo)
    assert CONTEXT in raised(excinfo)

    with pytest.raises(ValueError) as excinfo:
        aggregate_composite_return([100.0, 100.0], [110.0], [[], []], 30, context=CONTEXT)
    assert "1 end_values" in raised(excinfo)
    assert CONTEXT in raised(excinfo)


def test_twr_subperiod_with_nothing_invested_is_named_by_index():
    # subperiod 1: 90 - 90 = 0 invested
    with pytest.raises(ValueError) as excinfo:
        time_weighted_return([(100.0, 0.0, 90.0), (90.0, -90.0, 0.0)], context=CONTEXT)
    message = raised(excinfo)
    assert "subperiod 1" in message
    assert "not positive" in message
    assert CONTEXT in message
    with pytest.raises(ValueError, match="subperiods is empty"):
        time_weighted_return([])
    with pytest.raises(ValueError, match="subperiod 0 end value is not a finite number"):
        time_weighted_return([(100.0, 0.0, math.nan)])


def test_dietz_period_and_flow_days_are_checked():
    with pytest.raises(ValueError, match="period_days must be positive"):
        modified_dietz(100.0, 110.0, [], 0)
    with pytest.raises(ValueError) as excinfo:
        modified_dietz(100.0, 110.0, [(31, 5.0)], 30, context=CONTEXT)
    assert "flows[0] day 31.0 is outside the period" in raised(excinfo)
    assert CONTEXT in raised(excinfo)
    with pytest.raises(ValueError, match="outside the period"):
        modified_dietz(100.0, 110.0, [(-1, 5.0)], 30)
    with pytest.raises(ValueError) as excinfo:
        aggregate_composite_return([100.0, 100.0], [110.0, 110.0], [[], [(40, 5.0)]], 30, context=CONTEXT)
    assert "flows[1][0] day 40.0 is outside the period" in raised(excinfo)


def test_composite_weights_are_checked():
    with pytest.raises(ValueError, match="returns is empty"):
        composite_return([], [])
    with pytest.raises(ValueError) as excinfo:
        composite_return([0.1, 0.2], [100.0, -1.0], context=CONTEXT)
    assert "weights[1] is negative" in raised(excinfo)
    assert CONTEXT in raised(excinfo)
    with pytest.raises(ValueError) as excinfo:
        asset_weighted_dispersion([0.1, 0.2], [0.0, 0.0], context=CONTEXT)
    assert "total weight is zero" in raised(excinfo)
    assert CONTEXT in raised(excinfo)


def test_no_context_means_no_prefix():
    with pytest.raises(ValueError) as excinfo:
        modified_dietz(-5.0, 110.0, [], 30)
    assert raised(excinfo) == "begin value is negative (-5.0)"
