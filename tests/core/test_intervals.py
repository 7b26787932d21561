"""Calibrated intervals: split conformal on validation days, checked on other days and hidden sets."""

import numpy as np
import pytest

from core.baselines.idw import IDW
from core.baselines.logok import LogOrdinaryKriging
from core.engine.infer import infer
from core.evaluation.calibrate import calibrate
from core.evaluation.runner import interval_metrics
from core.evaluation.splits import time_split
from core.intervals import CalibratedKriger, IntervalTable, NearestObserved, fit_table, load_table, save_table
from core.registry import get_model


@pytest.fixture(scope="module")
def world():
    """Eight simulated days: validation days 21–23 (calibration) and test days 24–27 (checks)."""
    from core.data.synthetic import SimConfig, simulate

    return simulate(SimConfig.small(start="2019-01-20T00:00", n_hours=192, res=0.2, seed=11))


def test_nearest_observed_distance_matches_brute_force():
    rng = np.random.default_rng(0)
    lat, lon = 39 + rng.uniform(-1, 1, 40), 116 + rng.uniform(-1, 1, 40)
    tlat, tlon = 39 + rng.uniform(-1, 1, 30), 116 + rng.uniform(-1, 1, 30)
    avail = rng.random((5, 40)) < 0.2
    avail[0] = False
    avail[1] = False
    avail[1, 7] = True  # one far station only: beyond the candidate list for most targets
    from core.geo import haversine_km

    d = haversine_km(tlat, tlon, lat, lon)
    want = np.where(avail[:, None, :], d[None], np.inf).min(axis=2)
    got = NearestObserved()(avail, lat, lon, tlat, tlon)
    np.testing.assert_allclose(got, want)


@pytest.mark.parametrize("model", [IDW(2.0), LogOrdinaryKriging()], ids=["idw", "logok"])
def test_conformal_coverage_on_the_simulator_is_within_3_points(world, model):
    st = world.stations
    table = calibrate(model.name, stations=st, model=model, save=False, seeds=(0, 1, 2))
    assert table.level == 0.9 and table.meta["n_cells"] > 1000
    calibrated = CalibratedKriger(model, table)
    t = st["time"].values
    test = time_split(t)["test"]
    codes = st["station"].values
    covs = []
    for seed in range(4):  # hidden sets the calibration never used, on days it never saw
        hidden = np.random.default_rng(100 + seed).random(len(codes)) < 0.5
        res = infer(calibrated, st, ~hidden)
        sl = res.station_pred.sel(time=t[test]).values[:, hidden]
        m = interval_metrics(sl, st["pm25"].values[test][:, hidden],
                             res.station_lo.sel(time=t[test]).values[:, hidden],
                             res.station_hi.sel(time=t[test]).values[:, hidden], table.level)
        covs.append(m["coverage"])
    assert abs(np.mean(covs) - 0.9) <= 0.03, covs


def test_intervals_widen_with_distance_to_the_nearest_observed_station(world):
    st = world.stations
    table = calibrate("idw", stations=st, model=IDW(2.0), save=False)
    pred = np.full((1, 7), 50.0)
    near = np.array([[1.0, 4.0, 8.0, 15.0, 30.0, 50.0, 90.0]])
    lo, hi = table.bounds(pred, near, st["time"].values[:1])
    width = (hi - lo)[0]
    assert (np.diff(width) >= -1e-9).all() and width[-1] > width[0]
    # and on a map: grid cells far from every monitor get wider intervals than cells next to one
    res = infer(CalibratedKriger(IDW(2.0), table), st, np.ones(st.sizes["station"], bool), grid=world.grid)
    w = (res.grid["pm25_hi"] - res.grid["pm25_lo"]).values / np.maximum(res.grid["pm25"].values, 1)
    assert res.grid["pm25_lo"].attrs["level"] == 0.9
    near = NearestObserved()(np.isfinite(st["pm25"].values), st["lat"].values, st["lon"].values,
                             *world.grid.points())
    close, far = near <= 5, near >= 40
    assert np.nanmean(w.reshape(w.shape[0], -1)[far]) > np.nanmean(w.reshape(w.shape[0], -1)[close])


def test_bins_borrow_from_parents_and_table_round_trips(tmp_path):
    rng = np.random.default_rng(1)
    n = 4000
    pred = rng.uniform(5, 200, n)
    near = rng.uniform(0, 100, n)
    truth = pred * np.exp(rng.normal(0, 0.1 + near / 200, n))
    times = np.full(n, np.datetime64("2019-07-01T00"))  # one season only: other seasons borrow
    table = fit_table("demo", pred, truth, near, times, min_count=50)
    assert np.isfinite(table.q_lo).all() and (table.q_lo < 0).all() and (table.q_hi > 0).all()
    np.testing.assert_allclose(table.q_hi[:, :, 0], table.q_hi[:, :, 2])  # DJF borrows JJA's (pooled) bins
    back = IntervalTable.from_json(table.to_json())
    np.testing.assert_allclose(back.q_hi, table.q_hi)


def test_registry_wraps_a_model_only_with_a_table_for_this_checkpoint(tmp_path, monkeypatch):
    import core.intervals as iv

    monkeypatch.setattr(iv, "MODELS_DIR", tmp_path)
    rng = np.random.default_rng(2)
    pred = rng.uniform(5, 100, 500)
    table = fit_table("knn", pred, pred * 1.1, np.full(500, 10.0), np.full(500, np.datetime64("2019-01-05")),
                      fingerprint_=iv.fingerprint("knn"))
    save_table(table)
    assert isinstance(get_model("knn"), CalibratedKriger)
    assert not isinstance(get_model("knn", calibrated=False), CalibratedKriger)
    (tmp_path / "knn" / "card.json").write_text("{}")  # the model changed after calibration
    with pytest.warns(UserWarning, match="calibrated for another version"):
        assert load_table("knn") is None


@pytest.mark.parametrize("reach_km", [5.0, 30.0, 80.0, 500.0])
def test_nearest_observed_within_reach_equals_the_full_search(reach_km):
    """Grid targets search the stations near them first; where none is observed within reach, every
    station: the distances equal the full search (and brute force) for any reach."""
    rng = np.random.default_rng(1)
    lat, lon = 39 + rng.uniform(-2, 2, 80), 116 + rng.uniform(-2, 2, 80)
    tlat, tlon = 39.5 + rng.uniform(-0.3, 0.3, 50), 116.5 + rng.uniform(-0.3, 0.3, 50)
    avail = rng.random((6, 80)) < 0.1
    avail[0] = False  # no station at all
    avail[1] = False
    avail[1, np.argmax(np.hypot(lat - 39.5, lon - 116.5))] = True  # only the farthest one
    got = NearestObserved(reach_km=reach_km)(avail, lat, lon, tlat, tlon)
    np.testing.assert_array_equal(got, NearestObserved()(avail, lat, lon, tlat, tlon))
    assert np.isinf(got[0]).all() and np.isfinite(got[1:]).all()
