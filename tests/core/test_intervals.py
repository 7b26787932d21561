"""Calibrated intervals: split conformal on validation days, checked on other days and hidden sets."""

import numpy as np
import pytest

from core.baselines.idw import IDW
from core.baselines.logok import LogOrdinaryKriging
from core.data.splits import time_split
from core.engine.infer import infer
from core.engine.models import get_model
from core.evaluation.calibrate import calibrate
from core.evaluation.runner import interval_metrics
from core.intervals import CalibratedKriger, IntervalTable, Neighbours, fit_table, load_table, save_table


@pytest.fixture(scope="module")
def world():
    """Eight simulated days: validation days 21–23 (calibration) and test days 24–27 (checks)."""
    from core.data.synthetic import SimConfig, simulate

    return simulate(SimConfig.small(start="2019-01-20T00:00", n_hours=192, res=0.2, seed=11))


def _brute_neighbourhood(avail, values, lat, lon, tlat, tlon, k):
    """The definition: per hour, a stable argsort of the masked distance row (ties by station index)."""
    from core.geo import haversine_km

    d = haversine_km(tlat, tlon, lat, lon)
    d = np.where(np.isfinite(d), d, np.inf)
    logv = np.log1p(np.maximum(np.nan_to_num(np.asarray(values, "float32"), nan=0.0), 0.0))
    near, third = np.full((len(avail), len(tlat)), np.inf), np.full((len(avail), len(tlat)), np.inf)
    spread = np.zeros((len(avail), len(tlat)), "float32")
    for t in range(len(avail)):
        full = np.where(avail[t][None], d, np.inf)
        o = np.argsort(full, axis=1, kind="stable")[:, :k]
        dk = np.take_along_axis(full, o, axis=1)
        near[t] = dk[:, 0]
        if k >= 3 and dk.shape[1] >= 3:
            third[t] = dk[:, 2]
        w, v = np.isfinite(dk).astype("float32"), logv[t][o]
        cnt = np.maximum(w.sum(-1), 1.0)
        mean = (v * w).sum(-1) / cnt
        spread[t] = np.sqrt((((v - mean[..., None]) ** 2) * w).sum(-1) / cnt)
    return near, third, spread


def _random_network(seed):
    """Stations and targets with duplicated coordinates (ties), targets on stations, a station and a target
    without coordinates, hours with 0, 1 and 2 observed stations, a pattern shared by two hours, a station
    never observed, and observation rates from sparse (candidates run out) to dense."""
    rng = np.random.default_rng(seed)
    n_s, n_t, hours = int(rng.integers(8, 70)), int(rng.integers(5, 40)), 10
    lat, lon = 39 + rng.uniform(-1, 1, n_s), 116 + rng.uniform(-1, 1, n_s)
    lat[1:4], lon[1:4] = lat[0], lon[0]
    lat[5] = np.nan
    tlat, tlon = 39 + rng.uniform(-1, 1, n_t), 116 + rng.uniform(-1, 1, n_t)
    on = rng.integers(0, n_s, n_t // 3)
    tlat[: len(on)], tlon[: len(on)] = lat[on], lon[on]
    tlon[-1] = np.nan
    rate = rng.choice([0.05, 0.3, 0.7, 0.97], hours)[:, None]
    avail = rng.random((hours, n_s)) < rate
    avail[0], avail[1] = False, False
    avail[1, int(rng.integers(n_s))] = True
    avail[2, :] = False
    avail[2, rng.integers(0, n_s, 2)] = True
    avail[4] = avail[3]
    avail[:, 7] = False
    values = rng.uniform(5, 300, (hours, n_s))
    values[rng.random(values.shape) < 0.1] = np.nan
    return avail, values, lat, lon, tlat, tlon


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("k", [6, 2])
def test_neighbourhood_equals_the_per_hour_stable_search(seed, k):
    avail, values, lat, lon, tlat, tlon = _random_network(seed)
    nb = Neighbours(k=k)
    got = nb(avail, values, lat, lon, tlat, tlon)
    near, third, spread = _brute_neighbourhood(avail, values, lat, lon, tlat, tlon, k)
    np.testing.assert_array_equal(got.near_km, near)  # bit-identical distances
    np.testing.assert_array_equal(got.third_km, third)
    np.testing.assert_array_equal(got.spread, spread)
    # the cached geometry serves a second call with other hours
    again = nb(avail[::-1], values[::-1], lat, lon, tlat, tlon)
    np.testing.assert_array_equal(again.near_km, near[::-1])
    np.testing.assert_array_equal(again.spread, spread[::-1])


def test_one_neighbours_serves_threads_with_different_targets():
    """The dashboard's warm-up threads and a page share one loaded model: calls with different target sets (a
    station list, a grid) from several threads each get their own answer (the cached geometry is per call)."""
    from concurrent.futures import ThreadPoolExecutor

    rng = np.random.default_rng(0)
    n_s, hours = 300, 24
    lat, lon = 39 + rng.uniform(-2, 2, n_s), 116 + rng.uniform(-2, 2, n_s)
    avail = rng.random((hours, n_s)) < 0.8
    values = rng.uniform(5, 300, (hours, n_s))
    targets = [(39 + rng.uniform(-2, 2, m), 116 + rng.uniform(-2, 2, m)) for m in (3000, 200)]
    want = [Neighbours()(avail, values, lat, lon, *t) for t in targets]
    nb = Neighbours()
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda i: (i % 2, nb(avail, values, lat, lon, *targets[i % 2])), range(40)))
    for which, hood in got:
        np.testing.assert_array_equal(hood.near_km, want[which].near_km)
        np.testing.assert_array_equal(hood.spread, want[which].spread)


@pytest.mark.parametrize("seed", range(4))
def test_nearest_candidates_are_the_first_of_a_stable_argsort(seed):
    from core.geo import haversine_km
    from core.intervals import nearest_candidates

    _, _, lat, lon, tlat, tlon = _random_network(seed)
    d = haversine_km(tlat, tlon, lat, lon)
    d = np.where(np.isfinite(d), d, np.inf)
    for c in (1, 5, 16, len(lat)):
        order, dist = nearest_candidates(tlat, tlon, lat, lon, c)
        want = np.argsort(d, axis=1, kind="stable")[:, :c]
        np.testing.assert_array_equal(order, want)
        np.testing.assert_array_equal(dist, np.take_along_axis(d, want, axis=1))


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


def test_calibration_cells_come_from_every_validation_fold(world):
    from core.evaluation.runner import all_folds

    st = world.stations
    n = len(all_folds(st))
    assert n > 1
    one = calibrate("idw", stations=st, model=IDW(2.0), save=False, folds=(0,))
    every = calibrate("idw", stations=st, model=IDW(2.0), save=False)
    assert one.meta["val_folds"] == [0] and every.meta["val_folds"] == list(range(n))
    assert every.meta["n_cells"] > 2 * one.meta["n_cells"]  # each fold adds its own targets' cells


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
    near = Neighbours()(np.isfinite(st["pm25"].values), st["pm25"].values, st["lat"].values, st["lon"].values,
                        *world.grid.points()).near_km
    close, far = near <= 5, near >= 40
    assert np.nanmean(w.reshape(w.shape[0], -1)[far]) > np.nanmean(w.reshape(w.shape[0], -1)[close])


def _cells(rng, n=6000, months=("2019-07-01T00",)):
    pred = rng.uniform(5, 200, n)
    near = rng.uniform(0, 100, n)
    third = near + rng.uniform(0, 50, n)
    spread = rng.uniform(0.05, 0.8, n)
    times = np.array(months, "datetime64[h]")[rng.integers(0, len(months), n)]
    return pred, near, third, spread, times


def test_scale_follows_distance_and_spread_and_table_round_trips():
    rng = np.random.default_rng(1)
    pred, near, third, spread, times = _cells(rng)
    truth = pred * np.exp(rng.normal(0, 0.05 + near / 400 + spread / 4))
    table = fit_table("demo", pred, truth, near, times, third_km=third, spread=spread)
    assert (table.q_lo < 0).all() and (table.q_hi > 0).all() and table.counts.sum() == len(pred)
    t = times[:1]
    base = table.scale(np.array([[50.0]]), np.array([[5.0]]), t, np.array([[20.0]]), np.array([[0.2]]))
    far = table.scale(np.array([[50.0]]), np.array([[60.0]]), t, np.array([[80.0]]), np.array([[0.2]]))
    patchy = table.scale(np.array([[50.0]]), np.array([[5.0]]), t, np.array([[20.0]]), np.array([[0.7]]))
    assert far > 1.5 * base and patchy > 1.25 * base  # true ratios 2.2 and 2.1; σ is log-linear
    # the fitted interval covers about its level on fresh cells drawn the same way
    pred2, near2, third2, spread2, times2 = _cells(np.random.default_rng(2))
    truth2 = pred2 * np.exp(np.random.default_rng(3).normal(0, 0.05 + near2 / 400 + spread2 / 4))
    lo, hi = table.bounds(pred2, near2, times2, third2, spread2)
    assert abs(((truth2 >= lo) & (truth2 <= hi)).mean() - 0.9) < 0.02
    back = IntervalTable.from_json(table.to_json())
    np.testing.assert_allclose(back.scale_coef, table.scale_coef)
    np.testing.assert_allclose(back.bounds(pred2, near2, times2, third2, spread2), (lo, hi))


def test_error_falling_with_distance_cannot_narrow_far_intervals():
    rng = np.random.default_rng(4)
    pred, near, third, spread, times = _cells(rng)
    truth = pred * np.exp(rng.normal(0, 0.4 - near / 400))  # contrived: far targets err less
    table = fit_table("demo", pred, truth, near, times, third_km=third, spread=spread)
    assert table.scale_coef[1] == 0 and table.scale_coef[2] == 0
    lo, hi = table.bounds(np.full((1, 4), 50.0), np.array([[1.0, 10.0, 40.0, 90.0]]), times[:1])
    assert (np.diff(hi - lo) >= 0).all()


def test_quantile_level_rises_by_what_held_out_months_lose():
    rng = np.random.default_rng(5)
    months = ("2019-01-10", "2019-02-10", "2019-03-10", "2019-04-10")
    pred, near, third, spread, times = _cells(rng, months=months)
    noisy = np.isin(times.astype("datetime64[M]"), np.array(["2019-02", "2019-03"], "datetime64[M]"))
    truth = pred * np.exp(rng.normal(0, np.where(noisy, 0.4, 0.2)))  # months differ beyond the scale model
    table = fit_table("demo", pred, truth, near, times, third_km=third, spread=spread)
    assert max(table.meta["held_out_coverage"]) < 0.9 < min(table.meta["quantile_level"])  # per distance band
    assert max(table.meta["quantile_level"]) <= 0.93
    assert table.meta["held_out"] == "months"
    one_month = fit_table("demo", pred, truth, near, np.full(len(pred), np.datetime64("2019-01-10T00")))
    assert one_month.meta["held_out_coverage"] is None and one_month.meta["quantile_level"] == [0.9]


def test_one_pooled_quantile_pair_unless_it_misses_a_distance_band_on_held_out_stations():
    # the scale model follows the error with distance: one pooled pair (per-band pairs over-covered far targets
    # of unseen stations on validation). The error jumps at 20 km, which a log-linear distance term cannot
    # follow: the pooled pair misses a band on held-out stations, and the quantiles go per band.
    rng = np.random.default_rng(8)
    months = tuple(f"2019-{m:02d}-10" for m in range(1, 13))  # every season in both halves of the month folds
    pred, near, third, spread, times = _cells(rng, n=12000, months=months)
    stations = np.array([f"s{i}" for i in rng.integers(0, 40, len(pred))])
    smooth = pred * np.exp(rng.normal(0, 0.25 + 0.05 * np.log1p(near)))
    pooled = fit_table("demo", pred, smooth, near, times, third_km=third, spread=spread, stations=stations)
    assert pooled.band_edges == () and pooled.q_lo.shape == pooled.q_hi.shape == (1,)
    assert max(abs(np.array(pooled.meta["pooled_held_out_by_band"]) - 0.9)) <= 0.03
    step = pred * np.exp(rng.normal(0, np.where(near < 20, 0.05, 0.4)))
    banded = fit_table("demo", pred, step, near, times, third_km=third, spread=spread, stations=stations)
    assert banded.band_edges == (20.0,) and banded.q_hi[1] > banded.q_hi[0]
    assert max(abs(np.array(banded.meta["pooled_held_out_by_band"]) - 0.9)) > 0.03
    lo, hi = banded.bounds(pred, near, times, third, spread)
    inside = (step >= lo) & (step <= hi)
    for band in (near < 20, near >= 20):  # each band near its level in the cells it was fitted on
        assert abs(inside[band].mean() - 0.9) < 0.03
    forced = fit_table("demo", pred, step, near, times, third_km=third, spread=spread, stations=stations,
                       band_edges=())
    lo, hi = forced.bounds(pred, near, times, third, spread)
    assert abs(((step >= lo) & (step <= hi))[near < 20].mean() - 0.9) > 0.03  # what the bands are for


def test_tables_with_distance_bands_still_read():
    # a table saved before the edges were stored, with two quantile pairs, reads as the < / ≥ 20 km bands
    rng = np.random.default_rng(9)
    pred, near, third, spread, times = _cells(rng)
    truth = pred * np.exp(rng.normal(0, np.where(near < 20, 0.1, 0.4)))
    banded = fit_table("demo", pred, truth, near, times, third_km=third, spread=spread, band_edges=(20.0,))
    old = banded.to_json()
    del old["band_edges"]
    back = IntervalTable.from_json(old)
    assert back.band_edges == (20.0,)
    args = (np.full((1, 2), 50.0), np.array([[5.0, 40.0]]), times[:1])
    np.testing.assert_allclose(back.bounds(*args), banded.bounds(*args))
    bad = banded.to_json() | {"band_edges": [10.0, 30.0]}
    with pytest.raises(ValueError, match="do not match the distance bands"):
        IntervalTable.from_json(bad)


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


def test_scale_is_the_exponent_of_the_design_in_every_season():
    # the map path adds each hour's season coefficient instead of multiplying one-hot maps: same σ
    from core.intervals import design

    rng = np.random.default_rng(7)
    pred, near, third, spread, times = _cells(rng, n=3000, months=("2019-01-10", "2019-04-10", "2019-07-10",
                                                                   "2019-10-10"))
    truth = pred * np.exp(rng.normal(0, 0.1 + near / 300))
    table = fit_table("demo", pred, truth, near, times, third_km=third, spread=spread)
    assert (table.scale_coef[-3:] != 0).all()
    pred[:5], near[5:10] = np.nan, np.inf
    got = table.scale(pred[:, None], near[:, None], times, third[:, None], spread[:, None])[:, 0]
    want = np.exp(design(pred, near, third, spread, times) @ table.scale_coef)
    np.testing.assert_allclose(got, want, rtol=1e-5)


def _bounds_with_nan_to_num(table: IntervalTable, pred, near, times, third, spread):
    """The bounds as computed before the finite fast path: nan_to_num on every input, the level taken twice,
    the quantiles gathered per cell by distance band (the reference the fast path must equal bit for bit)."""
    from core.contracts.seasons import season_index
    from core.intervals import FAR_KM, SPREAD_FLOOR, band_of

    c = np.asarray(table.scale_coef, "float32")
    z = np.log1p(np.maximum(np.nan_to_num(np.asarray(pred, "float32"), nan=0.0), 0.0))
    nr = np.minimum(np.nan_to_num(np.asarray(near, "float32"), nan=FAR_KM, posinf=FAR_KM), FAR_KM)
    f3 = np.maximum(np.minimum(np.nan_to_num(np.asarray(third, "float32"), nan=FAR_KM, posinf=FAR_KM), FAR_KM), nr)
    out = c[0] + c[1] * np.log1p(nr)
    out += c[2] * np.log1p(f3)
    out += c[3] * z
    out += c[4] * (z * z)
    out += c[5] * np.log(np.nan_to_num(np.asarray(spread, "float32"), nan=0.0) + np.float32(SPREAD_FLOOR))
    per = np.concatenate([[0.0], c[6:9]]).astype("float32")[season_index(times)]
    sig = np.exp(out + per[:, None])
    z = np.log1p(np.maximum(pred, 0.0)).astype("float32")
    b = band_of(near, table.band_edges)
    return (np.expm1(np.maximum(z + table.q_lo.astype("float32")[b] * sig, 0.0)),
            np.expm1(z + table.q_hi.astype("float32")[b] * sig))


@pytest.mark.parametrize("edges", [(), (20.0,)])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("clean", [True, False])
def test_bounds_equal_the_nan_to_num_computation_bit_for_bit(edges, dtype, clean):
    rng = np.random.default_rng(6)
    pred, near, third, spread, _ = _cells(rng, n=600)
    times = np.array(["2019-01-10T00", "2019-04-10T05", "2019-07-01T00"], "datetime64[h]")
    pred, near, third, spread = (a.reshape(3, 200) for a in (pred, near, third, spread))
    pred = pred.astype(dtype)
    if not clean:  # NaN / inf predictions, stations out of reach, unknown spread
        pred[0, :3] = [np.nan, np.inf, -np.inf]
        near[1, :2], third[1, :2], spread[2, :2] = [np.inf, np.nan], [np.nan, np.inf], [np.nan, np.inf]
    n_b = len(edges) + 1
    table = IntervalTable("demo", 0.9, np.linspace(-2.5, -1.5, n_b), np.linspace(1.8, 2.4, n_b), np.zeros(7, int),
                          scale_coef=np.array([-1.0, 0.18, 0.02, -0.18, -0.01, 0.18, -0.18, -0.24, -0.22]),
                          band_edges=edges)
    with np.errstate(over="ignore"):  # expm1 of the +inf prediction's bound
        lo, hi = table.bounds(pred, near, times, third, spread)
        ref_lo, ref_hi = _bounds_with_nan_to_num(table, pred, near, times, third, spread)
    np.testing.assert_array_equal(lo, ref_lo)
    np.testing.assert_array_equal(hi, ref_hi)
