"""Synthetic PM2.5 world over BTH: an advection–diffusion simulation with known truth everywhere.

``simulate(cfg)`` integrates a column mass of PM2.5 on a regular lat/lon grid:

- **emissions** ∝ population (0.1° grid under ``<data>/geo``, regridded; synthetic Gaussian cities
  when absent) plus a rural floor, with a diurnal cycle (:func:`~core.data.synthetic_fields.emission_cycle`);
- **wind** (u, v): prevailing + rotating synoptic flow + drifting divergence-free eddies, seeded;
- **transport**: finite-volume, flux-limited upwind advection + explicit diffusion with cos-lat
  metric, CFL-bounded sub-steps, background inflow at open boundaries
  (:mod:`core.data.synthetic_transport`);
- **mixing**: surface concentration = column mass / mixing height (diurnal, deep at 14 h);
- **dry deposition**: first-order sink with rate ``v_d / H``.

It returns the truth grid, a StationSet sampled at real station locations (bilinear, noisy,
with gaps and outages; wind too, so it can serve as measured wind), an AOD-like column field
with spatially correlated cloud gaps in daytime hours, and :class:`SimWind` / :class:`SimAOD`
sources implementing the Protocols of :mod:`core.data.base`. Same config (incl. seed) →
bit-identical output.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from core.contracts.grid import BTH_BBOX, GridSpec
from core.contracts.kriger import grid_dataset
from core.contracts.settings import DEFAULT_DATASET
from core.contracts.stationset import TZ, DataWarning, make_stationset
from core.data.population import POP_CSV
from core.data.synthetic_fields import WindModel, emission_cycle, local_hour, mixing_height, population_density
from core.data.synthetic_obs import (
    bilinear,
    cloud_mask,
    missing_mask,
    sample,
    smooth_field,
    station_layout,
)
from core.data.synthetic_transport import Geometry, advect_diffuse, stable_substeps
from core.errors import InvalidRequest


@dataclass(frozen=True)
class SimConfig:
    """Everything that defines a simulation; equal configs give bit-identical results.

    Units: degrees, hours, seconds (``dt``), m, m/s, µg/m³ unless stated.
    """

    # grid and time
    bbox: tuple[float, float, float, float] = BTH_BBOX  # W, S, E, N
    res: float = 0.1  # cell size, degrees
    start: str = "2019-01-01T00:00"  # first output hour, Beijing time
    n_hours: int = 168  # output hours
    spinup_hours: int = 48  # integrated before `start` and discarded (emissions build up)
    seed: int = 0
    dt: float = 900.0  # longest internal step (s); the CFL bound may force shorter ones
    # physics
    diffusivity: float = 2000.0  # horizontal eddy diffusivity, m²/s
    deposition_velocity: float = 0.003  # m/s; first-order column loss rate v_d / H(t)
    background: float = 8.0  # µg/m³ of inflowing air at open boundaries and at the start
    boundary: str = "open"  # "open" (background inflow, outflow leaves) or "closed" (zero flux)
    mixing_height: float = 700.0  # daily mean boundary-layer depth, m
    mixing_amplitude: float = 0.35  # H = mean·(1 + a·cos(2π(h−14)/24))
    # wind regime
    wind_mean: tuple[float, float] = (0.8, -0.6)  # prevailing (u, v), m/s (winter north-westerly)
    wind_rotating: float = 2.5  # amplitude of the turning synoptic component, m/s
    wind_period_h: float = 96.0  # one full turn of the synoptic wind, hours
    wind_eddy: float = 1.2  # rms speed of the eddy field, m/s
    wind_modes: int = 6  # number of eddy modes
    wind_diurnal: float = 0.2  # relative afternoon strengthening of the wind
    # emissions
    emission_scale: float = 500.0  # effective PM2.5 emission (primary + secondary), µg s⁻¹ per person
    emission_rural: float = 60.0  # rural/industrial floor, person-equivalents per km²
    population: str | None = POP_CSV  # CSV under <data>/geo (or absolute); None → synthetic cities
    pop_year: int = 2015  # 2005 or 2015 column of the population grid
    release: tuple[float, float, float] | None = None  # instantaneous puff (lat, lon, kg) at `start`
    # observations
    stations: str = DEFAULT_DATASET  # dataset name, path to stations_region.csv, or "synthetic"
    noise_rel: float = 0.10  # multiplicative measurement noise (1σ)
    noise_abs: float = 2.0  # additive measurement noise (1σ), µg/m³
    wind_noise: float = 0.7  # station wind noise (1σ), m/s
    missing_rate: float = 0.05  # expected share of missing station-hours
    outage_hours: float = 12.0  # mean length of a station outage, hours
    cloud_fraction: float = 0.4  # mean cloud cover at AOD hours
    cloud_scale_km: float = 40.0  # correlation length of cloud blobs
    aod_hours: tuple[int, ...] = tuple(range(9, 17))  # local hours with a retrieval (daytime)
    mass_extinction: float = 5.0  # m²/g: AOD per column mass of PM2.5 (dry, before humidity growth)
    aod_background: float = 0.08  # AOD of the free troposphere

    def __post_init__(self) -> None:
        w, s, e, n = self.bbox
        checks = [
            (w < e and s < n and -90 <= s and n <= 90, f"bbox must be (W, S, E, N) with W<E, S<N: {self.bbox}"),
            (0 < self.res <= min(e - w, n - s) / 2, f"res must be > 0 and give ≥ 2 cells per side: {self.res}"),
            (self.n_hours >= 1 and self.spinup_hours >= 0, "n_hours must be ≥ 1 and spinup_hours ≥ 0"),
            (self.dt > 0, f"dt must be > 0 s: {self.dt}"),
            (self.diffusivity >= 0 and self.deposition_velocity >= 0, "diffusivity and deposition must be ≥ 0"),
            (self.background >= 0 and self.emission_scale >= 0 and self.emission_rural >= 0,
             "background and emissions must be ≥ 0"),
            (self.boundary in ("open", "closed"), f"boundary must be 'open' or 'closed': {self.boundary!r}"),
            (self.mixing_height > 0 and 0 <= self.mixing_amplitude < 1, "need mixing_height > 0, 0 ≤ amplitude < 1"),
            (0 <= self.missing_rate < 1, f"missing_rate must be in [0, 1): {self.missing_rate}"),
            (0 <= self.cloud_fraction <= 1, f"cloud_fraction must be in [0, 1]: {self.cloud_fraction}"),
            (self.pop_year in (2005, 2015), f"pop_year must be 2005 or 2015: {self.pop_year}"),
            (min(self.noise_rel, self.noise_abs, self.wind_noise) >= 0, "noise levels must be ≥ 0"),
            (all(0 <= h < 24 for h in self.aod_hours), f"aod_hours must be in 0..23: {self.aod_hours}"),
            (self.release is None or (len(self.release) == 3 and s <= self.release[0] <= n
                                      and w <= self.release[1] <= e and self.release[2] >= 0),
             f"release must be (lat, lon, kg ≥ 0) inside the bbox: {self.release}"),
        ]
        for ok, msg in checks:
            if not ok:
                raise InvalidRequest(f"SimConfig: {msg}")
        try:
            pd.Timestamp(self.start)
        except ValueError as err:
            raise InvalidRequest(f"SimConfig: start {self.start!r} is not a date/time") from err

    @classmethod
    def small(cls, **overrides) -> SimConfig:
        """A quick configuration for tests: 0.1° over BTH, 48 h after a 24 h spin-up."""
        return cls(**{"n_hours": 48, "spinup_hours": 24, **overrides})

    def replace(self, **changes) -> SimConfig:
        return replace(self, **changes)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, ensure_ascii=False)

    @classmethod
    def from_json(cls, text: str) -> SimConfig:
        raw = json.loads(text)
        tuples = {f.name for f in fields(cls) if "tuple" in str(f.type)}
        return cls(**{k: tuple(v) if k in tuples and v is not None else v for k, v in raw.items()})


def _beijing_times(times: np.ndarray) -> np.ndarray:
    """Times as naive Beijing-time datetime64[ns] (tz-aware inputs are converted)."""
    idx = pd.DatetimeIndex(np.atleast_1d(times))
    if idx.tz is not None:
        idx = idx.tz_convert(TZ).tz_localize(None)
    return idx.values.astype("datetime64[ns]")


class SimWind:
    """MetSource over the simulated wind: bilinear (u10, v10) of the truth grid, NaN for unknown times."""

    def __init__(self, truth: xr.Dataset):
        self._truth = truth

    def wind(self, times: np.ndarray, lat: np.ndarray, lon: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """``(u, v)`` m/s, each (time, point), at ``times`` (Beijing time) and points ``lat``/``lon`` (point,)."""
        sub = self._truth[["u10", "v10"]].reindex(time=_beijing_times(times))
        idx, w = bilinear(self._truth["lat"].values, self._truth["lon"].values, np.atleast_1d(lat), np.atleast_1d(lon))
        return sample(sub["u10"].values, idx, w), sample(sub["v10"].values, idx, w)


class SimAOD:
    """AODSource over the simulated AOD: the field at ``times`` (NaN under clouds, at night, or unknown times)."""

    def __init__(self, aod: xr.DataArray):
        self._aod = aod

    def aod(self, times: np.ndarray) -> xr.DataArray | None:
        """AOD (time, lat, lon), dimensionless."""
        return self._aod.reindex(time=_beijing_times(times))


@dataclass
class SimResult:
    """Output of :func:`simulate`.

    - ``truth``: Dataset (time, lat, lon): ``pm25`` µg/m³ (CF surface), ``u10``/``v10`` m/s,
      ``column`` µg/m², ``emission`` (lat, lon) µg m⁻² s⁻¹ (daily mean), ``mixing_height`` (time) m;
      coord ``cell_area`` (lat) m², so ``(column·cell_area).sum()`` is the total mass in µg;
    - ``stations``: StationSet (time, station) with ``pm25``, ``u10``, ``v10``;
    - ``aod``: DataArray (time, lat, lon), NaN under clouds and outside ``config.aod_hours``.
    """

    config: SimConfig
    grid: GridSpec
    truth: xr.Dataset
    stations: xr.Dataset
    aod: xr.DataArray
    warnings: list[DataWarning] = field(default_factory=list)

    @property
    def met(self) -> SimWind:
        return SimWind(self.truth)

    @property
    def aod_source(self) -> SimAOD:
        return SimAOD(self.aod)

    def total_mass(self) -> np.ndarray:
        """Total PM2.5 mass in the domain at each output hour, µg, (time,)."""
        return (self.truth["column"].astype("float64") * self.truth["cell_area"]).sum(("lat", "lon")).values


@dataclass
class _Run:
    column: np.ndarray  # (time, lat, lon) µg/m²
    u: np.ndarray  # (time, lat, lon) m/s
    v: np.ndarray
    height: np.ndarray  # (time,) m
    substeps: int


def _integrate(cfg: SimConfig, geom: Geometry, wind: WindModel, emission: np.ndarray, start: pd.Timestamp) -> _Run:
    """Step the column mass hour by hour from ``start − spinup`` and keep the hourly snapshots at output times.

    Within an hour wind, mixing height and the emission factor are frozen at mid-hour; each sub-step
    applies transport, then emission, then deposition (exact exponential decay).
    """
    shape = (cfg.n_hours, *geom.shape)
    out = _Run(np.empty(shape), np.empty(shape), np.empty(shape), np.empty(cfg.n_hours), 0)
    t0 = -float(cfg.spinup_hours)
    mass = np.full(geom.shape, cfg.background * mixing_height(local_hour(start, t0), cfg.mixing_height,
                                                               cfg.mixing_amplitude))
    for step in range(cfg.spinup_hours + cfg.n_hours):
        t = t0 + step
        k = step - cfg.spinup_hours
        if k == 0 and cfg.release is not None:
            lat, lon, kg = cfg.release
            j = int(np.argmin(np.abs(geom.lat - lat)))
            i = int(np.argmin(np.abs(geom.lon - lon)))
            mass[j, i] += kg * 1e9 / geom.area[j, 0]
        if k >= 0:
            out.column[k] = mass
            out.u[k], out.v[k] = wind.centres(t, geom)
            out.height[k] = mixing_height(local_hour(start, t), cfg.mixing_height, cfg.mixing_amplitude)
        mid = t + 0.5
        u, v = wind.faces(mid, geom)
        h = mixing_height(local_hour(start, mid), cfg.mixing_height, cfg.mixing_amplitude)
        n_sub, dt = stable_substeps(geom, u, v, cfg.diffusivity, 3600.0, cfg.dt)
        source = emission * emission_cycle(local_hour(start, mid)) * dt  # µg/m² per sub-step
        decay = np.exp(-cfg.deposition_velocity / h * dt)
        bg = cfg.background * h
        for _ in range(n_sub):
            mass = advect_diffuse(mass, u, v, geom, dt, cfg.diffusivity, cfg.boundary, bg)
            if cfg.emission_scale > 0:
                mass += source
            if decay != 1.0:
                mass *= decay
        out.substeps += n_sub
    return out


def _sha256(cfg: SimConfig, sources: list[str]) -> str:
    h = hashlib.sha256(cfg.to_json().encode())
    for s in sources:
        h.update(s.encode())
        if Path(s).is_file():
            h.update(Path(s).read_bytes())
    return h.hexdigest()


def simulate(cfg: SimConfig | None = None) -> SimResult:
    """Run the simulation described by ``cfg`` (default :class:`SimConfig`) and observe it."""
    cfg = cfg or SimConfig()
    grid = GridSpec.from_bbox(cfg.bbox, cfg.res)
    geom = Geometry.regular(grid.lat, grid.lon, cfg.res)
    start = pd.Timestamp(cfg.start)
    if start.tzinfo is not None:
        start = start.tz_convert(TZ).tz_localize(None)
    times = pd.date_range(start, periods=cfg.n_hours, freq="h")
    rng_wind, rng_noise, rng_miss, rng_cloud, rng_aod = (np.random.default_rng(s)
                                                         for s in np.random.SeedSequence(cfg.seed).spawn(5))

    density, pop_source, warnings = population_density(geom, cfg.population, cfg.pop_year)
    # rural floor only on land: cells the population layer leaves empty are sea or outside its extent
    emission = cfg.emission_scale * (density + cfg.emission_rural * 1e-6 * (density > 0))  # µg m⁻² s⁻¹
    wind = WindModel.random(rng_wind, mean=cfg.wind_mean, rotating=cfg.wind_rotating, period_h=cfg.wind_period_h,
                            eddy=cfg.wind_eddy, modes=cfg.wind_modes, diurnal=cfg.wind_diurnal,
                            lat0=float(grid.lat.mean()), lon0=float(grid.lon.mean()), start=start)
    run = _integrate(cfg, geom, wind, emission, start)
    pm25 = run.column / run.height[:, None, None]

    truth = grid_dataset(times.values.astype("datetime64[ns]"), grid, pm25, model="synthetic")
    truth["u10"] = (("time", "lat", "lon"), run.u.astype("float32"), {"units": "m s-1", "long_name": "eastward wind"})
    truth["v10"] = (("time", "lat", "lon"), run.v.astype("float32"), {"units": "m s-1", "long_name": "northward wind"})
    truth["column"] = (("time", "lat", "lon"), run.column, {"units": "ug m-2", "long_name": "PM2.5 column mass"})
    truth["emission"] = (("lat", "lon"), emission.astype("float32"),
                         {"units": "ug m-2 s-1", "long_name": "PM2.5 emission flux, daily mean"})
    truth["mixing_height"] = ("time", run.height, {"units": "m"})
    truth = truth.assign_coords(cell_area=("lat", geom.area[:, 0], {"units": "m2"}))
    truth["time"].attrs["tz"] = TZ
    truth.attrs.update({"source": "AirAtlas synthetic simulator", "sim_config": cfg.to_json(),
                        "emission_source": pop_source, "substeps": run.substeps})

    layout, station_warnings = station_layout(cfg.stations, cfg.bbox)
    warnings = warnings + station_warnings
    idx, w = bilinear(grid.lat, grid.lon, layout.lat, layout.lon)
    shape = (cfg.n_hours, len(layout))
    at_st = sample(pm25, idx, w)
    obs = at_st * (1 + cfg.noise_rel * rng_noise.standard_normal(shape))
    obs += cfg.noise_abs * rng_noise.standard_normal(shape)
    obs = np.maximum(obs, 1.0)  # monitors report ≥ 1 µg/m³
    u_st = sample(run.u, idx, w) + cfg.wind_noise * rng_noise.standard_normal(shape)
    v_st = sample(run.v, idx, w) + cfg.wind_noise * rng_noise.standard_normal(shape)
    gone = missing_mask(rng_miss, cfg.n_hours, len(layout), cfg.missing_rate, cfg.outage_hours)
    for a in (obs, u_st, v_st):  # one instrument shelter: an outage takes out all variables
        a[gone] = np.nan
    stations = make_stationset(
        times, layout.code, layout.lat, layout.lon, {"pm25": obs, "u10": u_st, "v10": v_st},
        name=layout.name, city=layout.city, is_bth=layout.is_bth, warnings=warnings,
        attrs={"source": "synthetic", "citation": "AirAtlas advection-diffusion simulator (core/data/synthetic.py)",
               "license": "CC0-1.0", "input_sha256": _sha256(cfg, [pop_source, layout.source]),
               "sim_config": cfg.to_json(), "station_source": layout.source},
    )

    cell_km = 111.2 * cfg.res * np.cos(np.radians(grid.lat.mean()))
    cloudy = cloud_mask(rng_cloud, pm25.shape, cfg.cloud_fraction, cfg.cloud_scale_km / cell_km)
    hygro = np.exp(0.2 * smooth_field(rng_aod, pm25.shape, 150 / cell_km, 12.0))  # humidity growth, slow and broad
    aod = cfg.aod_background + cfg.mass_extinction * run.column * 1e-6 * hygro
    aod *= np.exp(0.1 * rng_aod.standard_normal(pm25.shape))  # retrieval noise
    daytime = np.isin(times.hour, list(cfg.aod_hours))
    aod[cloudy | ~daytime[:, None, None]] = np.nan
    aod_da = xr.DataArray(aod.astype("float32"), dims=("time", "lat", "lon"),
                          coords={"time": truth["time"], "lat": truth["lat"], "lon": truth["lon"]},
                          name="aod", attrs={"units": "1", "long_name": "aerosol optical depth (synthetic)"})
    return SimResult(config=cfg, grid=grid, truth=truth, stations=stations, aod=aod_da, warnings=warnings)


def demo_config(seed: int = 0) -> SimConfig:
    """The dashboard's offline demo: five winter days at 0.1° over BTH."""
    return SimConfig(n_hours=120, seed=seed)


def demo_stationset(seed: int = 0) -> xr.Dataset:
    """A modest StationSet (5 days, real station locations when available) for offline demos."""
    return simulate(demo_config(seed)).stations
