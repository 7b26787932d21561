import numpy as np
import pytest

from core.evaluation.metrics import all_metrics, bias, mae, r2, rmse, season_of


def test_hand_computed_values():
    pred = np.array([1.0, 2.0, 4.0, np.nan])
    truth = np.array([2.0, 2.0, 2.0, 5.0])
    # errors (pred - truth) on finite pairs: -1, 0, 2
    assert mae(pred, truth) == pytest.approx(1.0)
    assert rmse(pred, truth) == pytest.approx(np.sqrt(5 / 3))
    assert bias(pred, truth) == pytest.approx(1 / 3)
    assert np.isnan(r2(pred, truth))  # truth constant on the finite pairs


def test_r2_hand_computed():
    truth = np.array([1.0, 2.0, 3.0, 4.0])
    pred = np.array([1.0, 2.0, 3.0, 5.0])
    # SS_res = 1, SS_tot = 5
    assert r2(pred, truth) == pytest.approx(0.8)
    assert all_metrics(pred, truth)["n"] == 4


@pytest.mark.parametrize("fn", [mae, rmse, bias, r2])
def test_no_finite_pair_is_nan(fn):
    assert np.isnan(fn(np.array([np.nan, 1.0]), np.array([1.0, np.nan])))


def test_shape_mismatch_raises():
    with pytest.raises(ValueError):
        mae(np.zeros(3), np.zeros(4))


def test_seasons():
    t = np.array(["2019-01-05", "2019-03-01", "2019-07-31", "2019-11-30", "2019-12-01"], "datetime64[ns]")
    assert season_of(t).tolist() == ["DJF", "MAM", "JJA", "SON", "DJF"]
