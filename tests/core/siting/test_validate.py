"""Siting validation on simulated validation days: S_test never used, fair scored sets, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

from core.contracts.stationset import active_stations
from core.data.splits import select_test_stations
from core.data.synthetic import SimConfig, simulate
from core.engine.models import get_model
from core.errors import InvalidRequest
from core.siting.validate import ValidationConfig, validate_siting, validation_windows


@pytest.fixture(scope="module")
def sim() -> xr.Dataset:
    """72 simulated hours over BTH from 2019-01-21: all three are validation days."""
    return active_stations(simulate(SimConfig.small(start="2019-01-20", n_hours=96)).stations)


@pytest.fixture(scope="module")
def pop(sim) -> xr.DataArray:
    lat = np.round(np.arange(36.05, 42.7, 0.1), 3)
    lon = np.round(np.arange(113.45, 119.9, 0.1), 3)
    la, lo = np.meshgrid(lat, lon, indexing="ij")
    people = 1000 + 5e5 * np.exp(-((la - 39.9) ** 2 + (lo - 116.4) ** 2) / 0.5)  # a Beijing-like centre
    return xr.DataArray(people, dims=("lat", "lon"), coords={"lat": lat, "lon": lon})


def test_validation_windows_are_the_21st_to_23rd(sim):
    ws = validation_windows(sim["time"].values)
    assert len(ws) == 1
    assert str(ws[0].start)[:13] == "2019-01-21T00" and str(ws[0].end)[:13] == "2019-01-23T23"


@pytest.mark.parametrize(("calibrated", "kind"), [(False, "distance_to_nearest_monitor"), (True, "interval_width")])
def test_validation_is_honest_and_complete(sim, pop, calibrated, kind):
    cfg = ValidationConfig(k=3, seeds=(0, 1), random_draws=2)
    model = get_model("idw", calibrated=calibrated)
    if calibrated and not hasattr(model, "add_intervals"):
        pytest.skip("no shipped interval calibration for idw")
    out = validate_siting(sim, model, pop, cfg)
    s_test = set(select_test_stations(sim))
    assert set(out["excluded_s_test"]) == s_test
    assert out["seeds"] == [0, 1] and out["uncertainty"] == kind
    for rec in out["per_seed"]:
        hidden = set(rec["hidden"])
        assert not hidden & s_test and len(rec["ranked_restored"]) == 3 <= len(hidden)
        assert set(rec["ranked_restored"]) <= hidden
        for d in rec["random_draws"]:
            scored = set(d["scored"])
            assert not scored & (set(d["restored"]) | set(rec["ranked_restored"]) | s_test)
            assert scored <= hidden and d["ranked_mae"] > 0 and d["random_mae"] > 0
        # restoring stations can only add information: MAE before restoring is on a superset
        assert np.isfinite(rec["mae_before_restoring"])
    assert out["ratio"] == pytest.approx(out["ranked_mae"] / out["random_mae"])


def test_validation_needs_validation_days(sim, pop):
    train_only = sim.sel(time=slice("2019-01-20", "2019-01-20T23"))
    with pytest.raises(InvalidRequest, match="validation days"):
        validate_siting(train_only, get_model("idw"), pop, ValidationConfig(k=2, seeds=(0,)))


def test_validation_needs_enough_stations(sim, pop):
    few = sim.isel(station=np.flatnonzero(sim["is_bth"].values)[:8])
    with pytest.raises(InvalidRequest, match="too few"):
        validate_siting(few, get_model("idw"), pop, ValidationConfig(k=5, seeds=(0,)))
