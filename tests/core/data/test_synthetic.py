"""Physics and observation tests of the synthetic advection–diffusion simulator."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xarray as xr
from scipy.stats import spearmanr

from core.contracts.grid import BTH_BBOX, GridSpec
from core.contracts.stationset import load_warnings, summary, validate_stationset
from core.data.base import AODSource, MetSource
from core.data.synthetic import SimConfig, SimResult, demo_stationset, simulate
from core.data.synthetic_fields import SOURCE_RES, WindModel, mixing_height, regrid_density
from core.data.synthetic_obs import bilinear, missing_mask, sample
from core.data.synthetic_transport import Geometry, advect_diffuse, stable_substeps
from core.errors import InvalidRequest

KM_PER_DEG = 111.195  # km per degree of latitude on the 6371 km sphere

# A passive tracer: no emissions, no deposition, no background, closed walls.
PASSIVE = {"emission_scale": 0.0, "emission_rural": 0.0, "deposition_velocity": 0.0, "background": 0.0,
           "boundary": "closed"}


@pytest.fixture(scope="module")
def small() -> SimResult:
    """The small configuration, run once per module (≈1 s)."""
    return simulate(SimConfig.small())


def _centre_of_mass(column: np.ndarray, lat: np.ndarray, lon: np.ndarray, area: np.ndarray) -> tuple[float, float]:
    m = column * area[:, None]
    tot = m.sum()
    return float((m.sum(1) * lat).sum() / tot), float((m.sum(0) * lon).sum() / tot)


# ---------------------------------------------------------------- transport numerics

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_transport_conserves_mass_closed_and_stays_positive(seed: int) -> None:
    rng = np.random.default_rng(seed)
    grid = GridSpec.from_bbox((114.0, 37.0, 117.0, 40.0), 0.1)
    geom = Geometry.regular(grid.lat, grid.lon, 0.1)
    mass = rng.lognormal(10, 1.5, geom.shape)  # rough, positive field: the limiter is exercised
    u = rng.normal(0, 6, (geom.shape[0], geom.shape[1] + 1))  # arbitrary, divergent face winds
    v = rng.normal(0, 6, (geom.shape[0] + 1, geom.shape[1]))
    n, dt = stable_substeps(geom, u, v, 3000.0, 3 * 3600.0, 900.0)
    total0 = geom.total(mass)
    for _ in range(n):
        mass = advect_diffuse(mass, u, v, geom, dt, 3000.0, "closed")
    assert abs(geom.total(mass) / total0 - 1) < 1e-12
    assert mass.min() >= 0


def test_transport_open_boundary_lets_mass_out() -> None:
    """Control for the conservation test: with open walls and wind, a blob at the edge leaves."""
    grid = GridSpec.from_bbox((114.0, 37.0, 116.0, 39.0), 0.1)
    geom = Geometry.regular(grid.lat, grid.lon, 0.1)
    mass = np.zeros(geom.shape)
    mass[:, -3:] = 1.0
    u = np.full((geom.shape[0], geom.shape[1] + 1), 5.0)
    v = np.zeros((geom.shape[0] + 1, geom.shape[1]))
    n, dt = stable_substeps(geom, u, v, 0.0, 3600.0, 900.0)
    out = mass
    for _ in range(n):
        out = advect_diffuse(out, u, v, geom, dt, 0.0, "open", 0.0)
    assert geom.total(out) < 0.8 * geom.total(mass)


def test_uniform_field_stays_uniform_under_uniform_zonal_wind() -> None:
    grid = GridSpec.from_bbox((114.0, 37.0, 117.0, 40.0), 0.1)
    geom = Geometry.regular(grid.lat, grid.lon, 0.1)
    mass = np.full(geom.shape, 3.0)
    u = np.full((geom.shape[0], geom.shape[1] + 1), 7.0)
    v = np.zeros((geom.shape[0] + 1, geom.shape[1]))
    out = advect_diffuse(mass, u, v, geom, 300.0, 1000.0, "open", 3.0)
    np.testing.assert_allclose(out, 3.0, rtol=1e-12)


def test_substeps_respect_cfl() -> None:
    geom = Geometry.regular(*GridSpec.from_bbox(BTH_BBOX, 0.1).__dict__.values(), 0.1)
    u = np.full((geom.shape[0], geom.shape[1] + 1), 12.0)
    v = np.full((geom.shape[0] + 1, geom.shape[1]), -8.0)
    n, dt = stable_substeps(geom, u, v, 2000.0, 3600.0, 900.0)
    courant = 12.0 * dt / geom.dx.min() + 8.0 * dt / geom.dy
    assert n * dt == pytest.approx(3600.0)
    assert courant <= 0.5


# ---------------------------------------------------------------- full simulator physics

def test_mass_conserved_without_sources_and_sinks() -> None:
    """Closed walls, no emission/deposition, a puff in a time-varying rotating + eddy wind."""
    cfg = SimConfig.small(**{**PASSIVE, "background": 5.0}, release=(39.9, 116.4, 5e5))
    res = simulate(cfg)
    total = res.total_mass()
    assert np.abs(total / total[0] - 1).max() < 1e-10
    # ...and the field did move: the puff's cell is no longer the maximum it was.
    col = res.truth["column"].values
    assert not np.allclose(col[0], col[-1], rtol=0.01)


def test_deposition_removes_mass_at_rate_vd_over_h() -> None:
    cfg = SimConfig.small(**{**PASSIVE, "background": 5.0, "deposition_velocity": 0.01}, spinup_hours=0, n_hours=6)
    res = simulate(cfg)
    total = res.total_mass()
    h_mid = mixing_height((np.arange(5) + 0.5) % 24, cfg.mixing_height, cfg.mixing_amplitude)
    expected = total[0] * np.exp(-np.cumsum(cfg.deposition_velocity / h_mid * 3600.0))
    np.testing.assert_allclose(total[1:], expected, rtol=1e-10)


@pytest.mark.parametrize("wind", [(5.0, 0.0), (0.0, -5.0), (-3.5, 3.5)], ids=["+u", "-v", "-u+v"])
def test_plume_moves_downwind(wind: tuple[float, float]) -> None:
    hours = 10
    cfg = SimConfig.small(**PASSIVE, n_hours=hours + 1, spinup_hours=0, wind_mean=wind, wind_rotating=0.0,
                          wind_eddy=0.0, wind_diurnal=0.0, release=(39.35, 116.65, 1e6))
    res = simulate(cfg)
    col, lat, lon = res.truth["column"].values, res.truth["lat"].values, res.truth["lon"].values
    area = res.truth["cell_area"].values
    lat0, lon0 = _centre_of_mass(col[0], lat, lon, area)
    lat1, lon1 = _centre_of_mass(col[-1], lat, lon, area)
    moved = np.array([(lon1 - lon0) * KM_PER_DEG * np.cos(np.radians((lat0 + lat1) / 2)), (lat1 - lat0) * KM_PER_DEG])
    expected = np.array(wind) * hours * 3.6  # km
    assert np.linalg.norm(moved - expected) < 0.05 * np.linalg.norm(expected)
    # The peak travelled too (not just a smeared tail), and the plume spread out.
    j, i = np.unravel_index(np.argmax(col[-1]), col[-1].shape)
    peak = np.array([(lon[i] - lon0) * KM_PER_DEG * np.cos(np.radians(lat0)), (lat[j] - lat0) * KM_PER_DEG])
    assert np.dot(peak, expected) / np.linalg.norm(expected) ** 2 > 0.8
    assert col[-1].max() < col[0].max()


def test_concentration_is_column_over_mixing_height(small: SimResult) -> None:
    t = small.truth
    np.testing.assert_allclose(t["pm25"].values, t["column"].values / t["mixing_height"].values[:, None, None],
                               rtol=1e-6)
    # deep afternoon mixing dilutes: the domain mean is lower at 14 h than at 2 h of the same day
    mean = t["pm25"].mean(("lat", "lon"))
    assert float(mean.sel(time="2019-01-01T14")) < float(mean.sel(time="2019-01-02T02"))


def test_truth_is_plausible_and_polluted_where_people_live(small: SimResult) -> None:
    pm = small.truth["pm25"].values
    assert np.isfinite(pm).all() and pm.min() > 0
    assert 15 < pm.mean() < 150  # winter BTH, µg/m³
    emis, mean = small.truth["emission"].values, pm.mean(0)
    land = emis > 0  # sea cells have no emission but receive plumes
    hi = emis > np.quantile(emis[land], 0.9)
    lo = land & (emis < np.quantile(emis[land], 0.1))
    assert mean[hi].mean() > 2 * mean[lo].mean()
    assert spearmanr(emis.ravel(), mean.ravel()).statistic > 0.4


def test_same_seed_same_output_different_seed_differs(small: SimResult) -> None:
    again = simulate(SimConfig.small())
    assert again.truth.identical(small.truth)
    assert again.stations.identical(small.stations)
    assert again.aod.identical(small.aod)
    other = simulate(SimConfig.small(seed=1))
    assert not np.allclose(other.truth["pm25"].values, small.truth["pm25"].values)
    assert not np.array_equal(np.isnan(other.stations["pm25"].values), np.isnan(small.stations["pm25"].values))


# ---------------------------------------------------------------- observations

def test_stations_pass_contract(small: SimResult) -> None:
    ds = small.stations
    validate_stationset(ds)
    assert ds["time"].attrs["tz"] == "Asia/Shanghai"
    assert str(ds["time"].values[0]) .startswith("2019-01-01T00")
    assert ds.sizes["time"] == 48 and ds.sizes["station"] > 20
    assert ds["pm25"].dtype == np.float32 and {"u10", "v10"} <= set(ds.data_vars)
    w, s, e, n = BTH_BBOX
    assert ((ds["lon"] >= w) & (ds["lon"] <= e) & (ds["lat"] >= s) & (ds["lat"] <= n)).all()
    assert ds["is_bth"].any()
    assert ds.attrs["source"] == "synthetic" and len(ds.attrs["input_sha256"]) == 64


def test_station_samples_match_truth_within_noise(small: SimResult) -> None:
    cfg, ds = small.config, small.stations
    ref = small.truth["pm25"].interp(lat=ds["lat"], lon=ds["lon"]).transpose("time", "station").values
    obs = ds["pm25"].values
    ok = np.isfinite(obs) & np.isfinite(ref) & (ref > 20)  # away from the ≥1 µg/m³ floor
    z = (obs[ok] - ref[ok]) / np.sqrt((cfg.noise_rel * ref[ok]) ** 2 + cfg.noise_abs**2)
    assert ok.sum() > 1000
    assert abs(z.mean()) < 0.1
    assert 0.85 < z.std() < 1.15
    assert np.abs(z).max() < 6
    # station wind is the grid wind plus noise
    uref = small.truth["u10"].interp(lat=ds["lat"], lon=ds["lon"]).transpose("time", "station").values
    du = ds["u10"].values - uref
    du = du[np.isfinite(du)]
    assert abs(du.mean()) < 0.1 and du.std() == pytest.approx(cfg.wind_noise, rel=0.15)


@pytest.mark.parametrize("rate", [0.05, 0.2, 0.4])
def test_missing_mask_rate_and_outages(rate: float) -> None:
    mask = missing_mask(np.random.default_rng(3), 24 * 60, 200, rate, 12.0)
    assert mask.mean() == pytest.approx(rate, abs=0.02)
    # multi-hour outages exist: runs of ≥ 6 missing hours are far more common than under independence
    runs6 = np.lib.stride_tricks.sliding_window_view(mask, 6, axis=0).all(-1).mean()
    assert runs6 > 20 * rate**6


@pytest.mark.parametrize("rate", [0.0, 0.1, 0.3])
def test_station_missing_rate_close_to_configured(rate: float) -> None:
    res = simulate(SimConfig.small(missing_rate=rate, spinup_hours=0))
    miss = np.isnan(res.stations["pm25"].values).mean()
    assert miss == pytest.approx(rate, abs=0.05)  # ~3σ for 48 h × ~157 stations; the mask test is tighter
    # one shelter: wind is missing exactly where PM2.5 is
    assert np.array_equal(np.isnan(res.stations["u10"].values), np.isnan(res.stations["pm25"].values))


def test_aod_has_cloud_gaps_and_tracks_column(small: SimResult) -> None:
    cfg, aod = small.config, small.aod.values
    hours = small.truth["time"].dt.hour.values
    day = np.isin(hours, cfg.aod_hours)
    assert np.isnan(aod[~day]).all()
    gaps = np.isnan(aod[day]).mean()
    assert 0.1 < gaps < 0.8
    ok = np.isfinite(aod)
    assert (aod[ok] > 0).all()
    col = small.truth["column"].values
    assert np.corrcoef(np.log(aod[ok]), np.log(col[ok]))[0, 1] > 0.8
    # clouds come in blobs: a cloudy pixel's eastern neighbour is cloudy far more often than the base rate
    cloudy = np.isnan(aod[day])
    both = (cloudy[:, :, :-1] & cloudy[:, :, 1:]).sum() / cloudy[:, :, :-1].sum()
    assert both > 0.8 and both > gaps + 0.2


def test_sources_implement_protocols(small: SimResult) -> None:
    met, aod = small.met, small.aod_source
    assert isinstance(met, MetSource) and isinstance(aod, AODSource)
    t = small.truth
    times = np.concatenate([t["time"].values[:3], [np.datetime64("2030-01-01T00")]])
    aware = pd.DatetimeIndex(times).tz_localize("Asia/Shanghai").tz_convert("UTC")  # same instants, in UTC
    np.testing.assert_array_equal(met.wind(aware, [39.0], [116.0])[0], met.wind(times, [39.0], [116.0])[0])
    u, v = met.wind(times, t["lat"].values[[5, 20]], t["lon"].values[[7, 30]])
    assert u.shape == v.shape == (4, 2)
    np.testing.assert_allclose(u[:3, 0], t["u10"].values[:3, 5, 7], rtol=1e-6)
    np.testing.assert_allclose(v[:3, 1], t["v10"].values[:3, 20, 30], rtol=1e-6)
    assert np.isnan(u[3]).all()
    a = aod.aod(times)
    assert isinstance(a, xr.DataArray) and a.dims == ("time", "lat", "lon") and a.sizes["time"] == 4
    assert np.isnan(a.values[3]).all()


def test_separable_grid_wind_equals_pointwise_wind() -> None:
    wind = WindModel.random(np.random.default_rng(4), mean=(1.0, -2.0), rotating=2.0, period_h=96.0, eddy=1.5,
                            modes=6, diurnal=0.2, lat0=39.0, lon0=116.0, start=pd.Timestamp("2019-01-01"))
    lat, lon = np.linspace(36, 42, 31), np.linspace(113, 120, 29)
    for t in (-5.0, 0.0, 13.7):
        pu, pv = wind(t, lat[:, None], lon[None, :])
        gu, gv = wind.grid(t, lat, lon)
        np.testing.assert_allclose(gu, pu, atol=1e-12)
        np.testing.assert_allclose(gv, pv, atol=1e-12)
    # the eddies move the air: speed varies in space and time
    assert np.std(wind.grid(0.0, lat, lon)[0]) > 0.3 and not np.allclose(wind.grid(0.0, lat, lon)[0], pu)


def test_bilinear_reproduces_a_plane() -> None:
    lat, lon = np.arange(36.05, 40, 0.1), np.arange(114.05, 118, 0.1)
    plane = 3 * lat[:, None] - 2 * lon[None, :] + 1
    plat, plon = np.array([36.2, 37.777, 39.9]), np.array([114.3, 116.51, 117.9])
    idx, w = bilinear(lat, lon, plat, plon)
    np.testing.assert_allclose(sample(plane[None], idx, w)[0], 3 * plat - 2 * plon + 1, rtol=1e-10)
    np.testing.assert_allclose(w.sum(0), 1.0)


# ---------------------------------------------------------------- inputs

def test_regrid_preserves_mean_density() -> None:
    rng = np.random.default_rng(0)
    dens = rng.gamma(1.0, 1e-3, (80, 80))
    j0, i0 = int(round(36.0 / SOURCE_RES)), int(round(113.0 / SOURCE_RES))  # source covers 36–44 N, 113–121 E
    for res in (0.1, 0.2, 0.5):
        grid = GridSpec.from_bbox((114.0, 37.0, 118.0, 41.0), res)
        out = regrid_density(dens, j0, i0, Geometry.regular(grid.lat, grid.lon, res))
        sub = dens[10:50, 10:50]  # the source cells inside the bbox
        assert out.mean() == pytest.approx(sub.mean(), rel=1e-9), res
    fine = GridSpec.from_bbox((114.0, 37.0, 118.0, 41.0), 0.05)
    out = regrid_density(dens, j0, i0, Geometry.regular(fine.lat, fine.lon, 0.05))
    np.testing.assert_array_equal(out[::2, ::2], dens[10:50, 10:50])


@pytest.mark.parametrize("bad", [{"res": 0.0}, {"res": 5.0}, {"missing_rate": 1.0}, {"boundary": "periodic"},
                                 {"cloud_fraction": 1.5}, {"bbox": (120.0, 36.0, 113.0, 42.0)}, {"start": "soon"},
                                 {"n_hours": 0}, {"pop_year": 2020}, {"release": (30.0, 116.0, 1.0)}])
def test_bad_config_is_a_clear_error(bad: dict) -> None:
    with pytest.raises(InvalidRequest, match="SimConfig"):
        SimConfig(**bad)


def test_config_json_roundtrip() -> None:
    cfg = SimConfig.small(release=(39.0, 116.0, 10.0), seed=7)
    assert SimConfig.from_json(cfg.to_json()) == cfg


def test_works_without_any_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRATLAS_DATA", str(tmp_path))
    res = simulate(SimConfig.small(n_hours=24))
    ds = res.stations
    validate_stationset(ds)
    assert res.truth.attrs["emission_source"] == "synthetic cities"
    assert ds.attrs["station_source"] == "synthetic layout"
    assert len(load_warnings(ds)) == 2
    assert ds.sizes["station"] >= 50 and ds["is_bth"].sum() >= 40
    # the synthetic emissions still peak at Beijing/Tianjin, not in the empty north-west
    emis = res.truth["emission"]
    assert float(emis.sel(lat=39.9, lon=116.4, method="nearest")) > 20 * float(emis.sel(lat=42.0, lon=114.0,
                                                                                        method="nearest"))
    assert np.isfinite(res.truth["pm25"].values).all()


def test_synthetic_station_layout_is_seed_independent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = simulate(SimConfig.small(n_hours=2, spinup_hours=0, stations="synthetic", population=None, seed=0))
    b = simulate(SimConfig.small(n_hours=2, spinup_hours=0, stations="synthetic", population=None, seed=5))
    assert a.stations["station"].equals(b.stations["station"]) and a.stations["lat"].equals(b.stations["lat"])


@pytest.mark.realdata
def test_real_station_locations_and_population(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AIRATLAS_DATA", str(shared_data))
    res = simulate(SimConfig.small(n_hours=6, spinup_hours=0))
    ds = res.stations
    assert load_warnings(ds) == []
    assert "pop_grid_0p1deg_bth" in res.truth.attrs["emission_source"]
    codes = set(ds["station"].values.tolist())
    assert {"1001A", "1003A"} <= codes  # Beijing 万寿西宫, 东四
    assert ds.sel(station="1001A")["city"].item() == "北京" and bool(ds.sel(station="1001A")["is_bth"])
    assert 140 <= ds.sizes["station"] <= 170 and 80 <= int(ds["is_bth"].sum()) <= 95
    # emissions are population-driven: the grid's people are the file's cells inside the bbox
    pop = pd.read_csv(shared_data / "geo" / "pop_grid_0p1deg_bth" / "bth_pop_0p1deg_2005_2015.csv")
    w, s, e, n = BTH_BBOX
    inside = pop["lon_center"].between(w, e) & pop["lat_center"].between(s, n)
    cfg = res.config
    emis = res.truth["emission"].values.astype(float)
    people = np.where(emis > 0, emis / cfg.emission_scale - cfg.emission_rural * 1e-6, 0.0)
    people_total = (people * res.truth["cell_area"].values[:, None]).sum()
    assert people_total == pytest.approx(pop.loc[inside, "pop_2015"].sum(), rel=1e-4)


def test_demo_stationset_is_a_usable_stationset() -> None:
    ds = demo_stationset(seed=0)
    validate_stationset(ds)
    assert ds.sizes["time"] == 120
    assert summary(ds)["stations_active"] >= 0.9 * ds.sizes["station"]
    assert summary(ds)["wind"] == "measured"
