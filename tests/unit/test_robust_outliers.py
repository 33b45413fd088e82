"""MAD z-scores: the outlier is found even though it inflates the ordinary standard deviation."""

import pytest

from mesh_assets.lib.quality.robust_outliers import MAD_TO_SIGMA, mad_outliers, robust_z_scores


def test_robust_z_scores_by_hand():
    values = [1.0, 2.0, 3.0, 4.0, 100.0]
    # median 3, absolute deviations 2,1,0,1,97 -> MAD 1
    z = robust_z_scores(values)
    assert z == pytest.approx([2 / MAD_TO_SIGMA, 1 / MAD_TO_SIGMA, 0.0, 1 / MAD_TO_SIGMA, 97 / MAD_TO_SIGMA])


def test_one_jump_in_a_quiet_series_is_the_only_outlier():
    returns = [0.001, -0.002, 0.0015, -0.001, 0.002, 0.0005, -0.0015, 0.001, -0.0005, 0.25, 0.0]
    found = mad_outliers(returns, threshold=8.0)
    assert [o.index for o in found] == [9]
    assert found[0].robust_z > 8.0


def test_constant_series_and_short_series_have_no_outliers():
    assert robust_z_scores([5.0] * 12) == [0.0] * 12
    assert mad_outliers([0.0, 0.0, 1.0], threshold=3.0) == []
