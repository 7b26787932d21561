import numpy as np
import pytest

from core.engine.infer import mask_hidden
from tests.factories import tiny_stationset


@pytest.fixture
def flagged():
    vals = {"pm25": np.array([[10.0, 900.0], [12.0, 11.0], [13.0, 14.0], [15.0, 16.0]]),
            "pm10": np.full((4, 2), 30.0), "u10": np.full((4, 2), 1.5), "qc_pm25": np.array([[0, 4]] * 4)}
    return tiny_stationset(vals, [39.0, 39.1], [116.0, 116.1])


@pytest.mark.parametrize("observed", [np.array([True, False]), np.array([[True, False]] * 4)])
def test_every_truth_derived_variable_is_blank_at_hidden_stations(flagged, observed):
    out = mask_hidden(flagged, np.broadcast_to(observed, (4, 2)))
    assert np.isnan(out["pm25"].values[:, 1]).all() and np.isnan(out["pm10"].values[:, 1]).all()
    assert (out["qc_pm25"].values[:, 1] == 0).all() and out["qc_pm25"].dtype == flagged["qc_pm25"].dtype
    assert (out["qc_pm25"].values[:, 0] == 0).all() and (flagged["qc_pm25"].values[:, 1] == 4).all()  # a copy
    np.testing.assert_array_equal(out["u10"].values, flagged["u10"].values)  # meteorology is not PM2.5 truth
    np.testing.assert_array_equal(out["pm25"].values[:, 0], flagged["pm25"].values[:, 0])
