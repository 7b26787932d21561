"""Cached access to core: datasets, models, geo layers, inference results.

- ``st.cache_resource``: objects shared by every session and never mutated — the parsed
  year of station data (≈90 MB; copying it per session would be wasteful) and the models.
- ``st.cache_data``: everything derived per scenario (window slices, inference results,
  geo layers, metrics reports); callers get their own copy.

All inference goes through :func:`core.engine.infer.infer`.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
import xarray as xr

from core.contracts import registry
from core.contracts.grid import BTH_BBOX, GridSpec
from core.contracts.kriger import InferenceResult, Window
from core.contracts.settings import DEFAULT_DATASET, MAX_HISTORY_HOURS
from core.contracts.stationset import active_stations
from core.engine.infer import infer
from core.errors import AirAtlasError, DataNotFound, InvalidRequest
from core.paths import METRICS_DIR, MODELS_DIR, data_dir, geo_dir
from dashboard.names import sort_cities

DEMO = "demo"
PRIMARY = DEFAULT_DATASET
HISTORY_DAYS = MAX_HISTORY_HOURS // 24  # history handed to a model before the chosen day
CLASSICAL = registry.classical()  # interpolators: always ready, numpy only (no torch import)
# Raw folders that hold no PM2.5 (met only): not offered as datasets.
NOT_PM25 = ("isd_lite",)
# A network whose stations span more than this many degrees of longitude is national (cnemc_china_2019):
# its maps cover CHINA_BBOX on a coarser grid, and the sidebar says they are slower.
NATIONAL_SPAN_DEG = 20.0
# Surface grid step (degrees) by extent width: ~35k cells over China at 0.25° (a BTH map at 0.05° has ~17k)
GRID_RES = ((NATIONAL_SPAN_DEG, 0.25), (3.0, 0.05), (0.0, 0.01))


def device_name(model: str | None = None) -> str:
    """"GPU (name)" when CUDA is usable, else "CPU" — what ``model`` runs on.

    A baseline is numpy, always on the CPU: for it torch is not imported (~3 s of a cold start).
    """
    if model in CLASSICAL:
        return "CPU"
    import torch

    if torch.cuda.is_available():
        return f"GPU ({torch.cuda.get_device_name(0)})"
    return "CPU"


@st.cache_data(show_spinner=False, ttl=600)
def available_datasets() -> list[str]:
    """Station datasets under ``<data>/raw`` (primary first) plus the synthetic demo."""
    try:
        raw = data_dir() / "raw"
        names = sorted(p.name for p in raw.iterdir() if p.is_dir() and not p.name.startswith(NOT_PM25))
    except (AirAtlasError, OSError):
        names = []
    if PRIMARY in names:
        names.remove(PRIMARY)
        names.insert(0, PRIMARY)
    return [*names, DEMO]


def default_dataset() -> str:
    names = available_datasets()
    return PRIMARY if PRIMARY in names else DEMO


def _demo_stationset() -> xr.Dataset:
    """The demo scenario, simulated on the first start and read from the parsed-data cache after (~2 s less)."""
    from core.data.demo import demo_stationset

    try:
        return demo_stationset(seed=0)
    except ImportError as err:
        raise DataNotFound(
            "The synthetic demo scenario needs core/data/synthetic.py (demo_stationset), which this "
            "checkout does not have yet. Get the real data with `python -m core data fetch`."
        ) from err


@st.cache_resource(show_spinner="Loading station data …")
def load_dataset(name: str) -> xr.Dataset:
    """Active stations of a dataset (shared, read-only). Raises AirAtlasError with a message."""
    if name == DEMO:
        ds = _demo_stationset()
    else:
        from core.data.load import load_stationset

        ds = load_stationset(dataset=name)
    return active_stations(ds)


@st.cache_data(show_spinner="Summarising the dataset …")
def dataset_info(name: str) -> dict:
    """Facts the sidebar and pages need: date range, days with data, region, provenance."""
    ds = load_dataset(name)
    pm = ds["pm25"].values
    days = pd.DatetimeIndex(ds["time"].values).normalize()
    hours = pd.Series(np.isfinite(pm).any(axis=1), index=days).groupby(level=0).sum()
    has = hours > 0
    all_days = pd.date_range(days.min(), days.max(), freq="D")
    lat, lon = ds["lat"].values, ds["lon"].values
    bth = bth_mask(ds)
    national = bool(np.nanmax(lon) - np.nanmin(lon) > NATIONAL_SPAN_DEG)
    if national:
        from core.reanalysis.domain import CHINA_BBOX

        bbox = CHINA_BBOX
    elif bth.sum() >= 20:
        bbox = BTH_BBOX
    else:
        pad = 0.25
        bbox = (float(lon.min() - pad), float(lat.min() - pad), float(lon.max() + pad), float(lat.max() + pad))
    has_wind = "u10" in ds and bool(np.isfinite(ds["u10"].values).any())
    return {
        "name": name, "demo": name == DEMO, "national": national,
        "start": str(days.min().date()), "end": str(days.max().date()),
        "days_with_data": [str(d.date()) for d in has.index[has.values]],
        # Days with 1–23 hours of data (date → hours) and days with none: the date picker marks them.
        "partial_days": {str(d.date()): int(n) for d, n in hours.items() if 0 < n < 24},
        "missing_days": [str(d.date()) for d in all_days if d not in has.index or not has.get(d, False)],
        "n_coord_mismatch": int(np.asarray(ds.coords.get("coord_mismatch", np.zeros(ds.sizes["station"], bool))).sum()),
        "n_stations": int(ds.sizes["station"]), "n_bth": int(bth.sum()),
        "bbox": tuple(float(v) for v in bbox), "wind": "measured" if has_wind else "none",
        "source": ds.attrs.get("source", name), "citation": ds.attrs.get("citation", ""),
        "license": ds.attrs.get("license", ""),
        "cities": sort_cities(str(c) for c in ds["city"].values if str(c)),  # BTH first
    }


def bth_mask(ds: xr.Dataset) -> np.ndarray:
    """bool (station,): BTH stations whose coordinates agree with their city (core.data.coords_check)."""
    bth = ds["is_bth"].values.astype(bool)
    if "coord_mismatch" in ds.coords:
        bth = bth & ~ds["coord_mismatch"].values.astype(bool)
    return bth


@st.cache_data(show_spinner=False, max_entries=64)
def reporting_per_hour(dataset: str, date: str) -> np.ndarray:
    """bool (24, station): which stations measured PM2.5 in each hour of ``date`` (all False outside the data)."""
    ds = load_dataset(dataset)
    d = pd.Timestamp(date)
    pm = ds["pm25"].sel(time=slice(d, d + pd.Timedelta(hours=23)))
    out = np.zeros((24, ds.sizes["station"]), bool)
    idx = ((pd.DatetimeIndex(pm["time"].values) - d) // pd.Timedelta(hours=1)).to_numpy()
    out[idx] = np.isfinite(pm.values)
    return out


def grid_res(info: dict) -> float:
    """Grid step in degrees: 0.05° over BTH, 0.01° for small areas, 0.25° over China (``GRID_RES``)."""
    w, _, e, _ = info["bbox"]
    return next(r for width, r in GRID_RES if (e - w) > width)


def grid_for(info: dict) -> GridSpec:
    """A modest grid (see :func:`grid_res`) so a surface stays quick."""
    return GridSpec.from_bbox(tuple(info["bbox"]), res=grid_res(info))


@st.cache_resource(show_spinner="Loading model …")
def load_model(name: str):
    """A registry model, shared by all sessions; never mutated after loading."""

    from core.engine.models import get_model
    return get_model(name)


@st.cache_data(show_spinner=False)
def model_names() -> list[str]:
    return registry.available()


def window_of(date: str, days: int = 1) -> Window:
    """The ``days`` days ending with ``date`` (hourly, inclusive, Beijing time)."""
    d = pd.Timestamp(date)
    return Window.of(d - pd.Timedelta(days=days - 1), d + pd.Timedelta(hours=23))


@st.cache_data(show_spinner=False, max_entries=32)
def window_slice(dataset: str, date: str, days: int = 1) -> xr.Dataset:
    """Stations from ``HISTORY_DAYS`` before the window to the end of ``date`` (a copy)."""
    ds = load_dataset(dataset)
    d = pd.Timestamp(date)
    times = ds["time"].values
    if not (times[0] <= np.datetime64(d + pd.Timedelta(hours=23)) and np.datetime64(d) <= times[-1]):
        raise InvalidRequest(
            f"{date} is outside the data ({pd.Timestamp(times[0]).date()} … {pd.Timestamp(times[-1]).date()}); "
            "pick another date."
        )
    start = d - pd.Timedelta(days=HISTORY_DAYS + days - 1)
    sl = ds.sel(time=slice(start, d + pd.Timedelta(hours=23)))
    day = sl.sel(time=slice(d, d + pd.Timedelta(hours=23)))
    if not np.isfinite(day["pm25"].values).any():
        raise InvalidRequest(f"No PM2.5 data on {date} (archive gap); pick another date.")
    return sl.load()


def observed_mask(ds: xr.Dataset, masked: tuple[str, ...]) -> np.ndarray:
    """bool (station,): False where the station is hidden."""
    return ~np.isin(ds["station"].values.astype(str), np.asarray(masked, dtype=str))


@st.cache_resource(show_spinner=False)
def model_fingerprint(name: str) -> str:
    """core.surface_store.model_fingerprint of a loaded model (reads its checkpoint once per server)."""
    from core.surface_store import model_fingerprint as fp

    return fp(load_model(name))


def compute_scenario(dataset: str, date: str, model: str, masked: tuple[str, ...], with_grid: bool = True,
                     days: int = 1) -> InferenceResult:
    """The uncached body of :func:`run_scenario` (also run by the background prefetcher, outside a page).

    Surfaces go through the on-disk store (core.surface_store): computed once by ``infer``, shared by every
    session and server start after. Station-only runs take ~0.1 s and are not stored.
    """
    sl = window_slice(dataset, date, days)
    obs = observed_mask(sl, masked)
    if not obs.any():
        raise InvalidRequest("Every station is hidden: unmask at least one station to infer anything.")
    window = window_of(date, days)
    if not with_grid:
        return infer(load_model(model), sl, obs, grid=None, window=window)
    from core.surface_store import stored_infer

    result, _ = stored_infer(load_model(model), sl, obs, grid=grid_for(dataset_info(dataset)), window=window,
                             model_fp=model_fingerprint(model))
    return result


@st.cache_data(show_spinner=False, max_entries=64)
def run_scenario(dataset: str, date: str, model: str, masked: tuple[str, ...], with_grid: bool = True,
                 days: int = 1) -> InferenceResult:
    """Inference for one scenario (cached by its arguments), through ``core.engine.infer.infer``.

    ``days`` > 1 infers the ``days`` days ending with ``date`` (the attention page's prediction days).
    """
    return compute_scenario(dataset, date, model, masked, with_grid, days)


EXCEEDANCE_MEMO = 8  # periods kept in memory per server


@st.cache_resource(show_spinner=False)
def _exceedance_memo() -> dict:
    return {}


def period_exceedance(dataset: str, end: str, n_days: int, model: str, masked: tuple[str, ...],
                      _on_day=None) -> tuple[xr.Dataset, np.ndarray, np.ndarray, list[str]]:
    """Days above the limits over the ``n_days`` days ending with ``end`` (core.exceedance.exceedance_days).

    Each day is the very surface the Hotspots page shows for it (one stored inference per day, so the
    days are shared with every other page and session). Returns ``(exceedance, lat, lon, days without
    data)``. ``_on_day(i, n)`` reports progress (not part of the key).

    Memoised by hand, not with st.cache_data: that would record the progress bar ``_on_day`` draws and
    replay it into a block of an earlier run on the next hit (CacheReplayClosureError on any rerun).
    """
    memo, key = _exceedance_memo(), (dataset, end, n_days, model, tuple(masked))
    if key not in memo:
        memo[key] = _period_exceedance(dataset, end, n_days, model, masked, _on_day)
        while len(memo) > EXCEEDANCE_MEMO:
            memo.pop(next(iter(memo)))  # the oldest period first
    return memo[key]


def _period_exceedance(dataset: str, end: str, n_days: int, model: str, masked: tuple[str, ...],
                       _on_day=None) -> tuple[xr.Dataset, np.ndarray, np.ndarray, list[str]]:
    from core.exceedance import exceedance_days

    days = pd.date_range(end=pd.Timestamp(end), periods=n_days, freq="D")
    parts, skipped = [], []
    for i, d in enumerate(days):
        if _on_day is not None:
            _on_day(i, n_days)
        try:
            res = compute_scenario(dataset, str(d.date()), model, masked, True)
        except InvalidRequest:  # a day with no data at all: neither above nor below
            skipped.append(str(d.date()))
            continue
        if res.grid is None:
            raise InvalidRequest(f"Model '{model}' returned no grid surface; choose another model.")
        parts.append(_measured_hours_only(res.grid, reporting_per_hour(dataset, str(d.date())).any(axis=1)))
    if not parts:
        raise InvalidRequest(f"No PM2.5 data in the {n_days} days ending {end}; choose another period.")
    parts = _on_one_grid(parts)
    pm = xr.concat([g["pm25"] for g in parts], dim="time", join="exact")
    exc = exceedance_days(pm)
    # Days counted on each bound of the 90 % interval (daily means of the hourly bounds), when every day has one.
    if all({"pm25_lo", "pm25_hi"} <= set(g.data_vars) for g in parts):
        for bound in ("lo", "hi"):
            days = exceedance_days(xr.concat([g[f"pm25_{bound}"] for g in parts], dim="time",
                                             join="exact"))["days_above"]
            exc[f"days_above_{bound}"] = days
    return exc, pm["lat"].values, pm["lon"].values, skipped


def _measured_hours_only(grid: xr.Dataset, measured: np.ndarray) -> xr.Dataset:
    """``grid`` with the hours no station measured (``measured`` (time,) bool False) set to NaN.

    A model may fill every hour of a partial day; only measured hours count towards a 24-h mean.
    """
    return grid.where(xr.DataArray(measured, dims="time", coords={"time": grid["time"]}))


def _on_one_grid(parts: list[xr.Dataset]) -> list[xr.Dataset]:
    """Daily surfaces on the first day's lat/lon labels.

    Days may come from the surface store or a fresh ``infer``; float noise in the cell centres would make
    ``xr.concat`` outer-join the grids (twice the cells, half of them NaN, exceedance days silently wrong).
    Labels within 1e-6° are the same cell; anything else is a different grid and an error.
    """
    lat, lon = parts[0]["lat"].values, parts[0]["lon"].values
    out = []
    for g in parts:
        if g["lat"].shape != lat.shape or g["lon"].shape != lon.shape or not (
                np.allclose(g["lat"].values, lat, rtol=0, atol=1e-6)
                and np.allclose(g["lon"].values, lon, rtol=0, atol=1e-6)):
            raise InvalidRequest("The daily surfaces of this period are on different grids; clear the surface "
                                 "store ($AIRATLAS_CACHE/surfaces) and reload.")
        out.append(g.assign_coords(lat=lat, lon=lon))
    return out


def truth_of(dataset: str, date: str) -> xr.DataArray:
    """Observed PM2.5 (time, station) on ``date`` — the ground truth at hidden stations."""
    sl = window_slice(dataset, date)
    w = window_of(date)
    return sl["pm25"].sel(time=slice(w.start, w.end))


# ---------------------------------------------------------------- attention and influence (attention page)
ATTENTION_DAYS = 7


def has_checkpoint(model: str) -> bool:
    """Whether the registry can serve ``model`` now (a learned model needs its trained checkpoint)."""
    return registry.is_ready(model, Path(MODELS_DIR))


def attention_days(info: dict, date: str) -> int:
    """Prediction days of the attention heatmap: up to ATTENTION_DAYS days with data ending with ``date``."""
    return int(min(ATTENTION_DAYS, max(1, sum(1 for d in info["days_with_data"] if d <= date))))


def explaining(models: list[str], what: str) -> list[str]:
    """The models among ``models`` whose served result explains ``what`` ("attention" or "influence": the
    spec's ``explains``) and that can be served now; the best on validation days first."""
    rank = {m: i for i, m in enumerate(validation_ranking())}
    ok = [m for m in models if registry.is_learned(m) and what in registry.get_spec(m).explains and has_checkpoint(m)]
    return sorted(ok, key=lambda m: rank.get(m, len(rank)))


def attention_model(models: list[str]) -> str | None:
    """The model whose temporal attention the attention page shows (None: no such model is trained)."""
    return next(iter(explaining(models, "attention")), None)


def influence_models(models: list[str]) -> list[str]:
    """The models whose spatial influence the attention page can show, the default first."""
    return explaining(models, "influence")


# ---------------------------------------------------------------- exposure (environmental justice page)
EXPOSURE_RES = 0.1  # degrees: the population grid's resolution, ~4,400 cells over BTH
EXPOSURE_N_BOOT = 500
EXPOSURE_PERIODS = {"day": "the chosen day", "week": "7 days ending on the chosen day", "month": "the calendar month"}
EXPOSURE_DEFAULTS = {"period": "week", "weighting": "grid"}  # what the justice page opens with


def period_bounds(date: str, kind: str, first: str, last: str) -> tuple[str, str]:
    """(start, end) dates of the period, clipped to the data's range."""
    d = pd.Timestamp(date)
    if kind == "day":
        a, b = d, d
    elif kind == "week":
        a, b = d - pd.Timedelta(days=6), d
    else:
        a, b = d.replace(day=1), d + pd.offsets.MonthEnd(0)
    a, b = max(a, pd.Timestamp(first)), min(b, pd.Timestamp(last))
    return str(a.date()), str(b.date())


@st.cache_resource(show_spinner="Loading census units …")
def census_units():
    """Census units (core.exposure), shared and read-only."""
    from core.exposure import load_census_units

    return load_census_units()


@st.cache_resource(show_spinner=False)
def population_grid():
    """The 0.1° population grid (core.data.population), shared and read-only."""
    from core.data.population import load_population_grid

    return load_population_grid()


@st.cache_data(show_spinner=False, max_entries=16)
def exposure_for(dataset: str, model: str, masked: tuple[str, ...], start: str, end: str, weighting: str):
    """(per-unit table, summary, warnings) for one scenario and period, through the core exposure run
    (``core.exposure.infer_surface`` then ``surface_exposure``, the two halves of ``python -m core exposure``).

    Here rather than in the page so the background warm-up (dashboard.prefetch) fills it for the page's defaults.
    """
    from core.exposure import infer_surface, summarize, surface_exposure

    ds = load_dataset(dataset)
    t0, t1 = pd.Timestamp(start), pd.Timestamp(end) + pd.Timedelta(hours=23)
    sl = ds.sel(time=slice(t0 - pd.Timedelta(days=HISTORY_DAYS), t1))
    if sl.sizes["time"] == 0:
        raise InvalidRequest(f"No station data between {start} and {end}; pick another date.")
    obs = observed_mask(sl, masked)
    if not obs.any():
        raise InvalidRequest("Every station is hidden: unmask at least one station in the Masking lab.")
    surface = infer_surface(load_model(model), sl, obs, Window.of(t0.to_datetime64(), t1.to_datetime64()),
                            res=EXPOSURE_RES, model=model)
    # here the hours count that some OBSERVED station measured (hidden stations' reports are not the model's input)
    measured = np.isfinite(sl["pm25"].reindex(time=surface["time"]).values[:, obs]).any(axis=1)
    result = surface_exposure(_measured_hours_only(surface, measured), weighting, units=census_units(),
                              population_grid=population_grid() if weighting == "grid" else None)
    return result.table, summarize(result, n_boot=EXPOSURE_N_BOOT, seed=0), list(result.warnings)


# ---------------------------------------------------------------- geo context
DISPLAY_TOLERANCE = 0.01  # degrees (~1 km): outlines for display; keeps every map's JSON small
# W, S, E, N: Natural Earth context kept around BTH. Wider than any view of the region (a 1400-px-wide lab
# map spans ≈108–125 °E), so the land fill never ends in a straight edge inside the map.
CONTEXT_BOX = (98.0, 24.0, 136.0, 54.0)
# The same around China, for a national dataset's maps (a wide view of CHINA_BBOX spans ≈60–150 °E).
NATIONAL_CONTEXT_BOX = (55.0, 5.0, 155.0, 60.0)


def _display_geojson(path: Path, tolerance: float = DISPLAY_TOLERANCE, clip: tuple | None = None,
                     layer: str | None = None) -> dict | None:
    """:func:`_simplified_geojson`, kept on disk (``$AIRATLAS_CACHE/display``) keyed by the file's bytes, the
    arguments, the simplifying code and the geo libraries' versions: a server start reads the JSON (~0.05 s)
    instead of reading and simplifying the layers with geopandas (~0.5 s of the cold start)."""
    import hashlib
    import inspect
    import os
    from importlib.metadata import version

    from core.hashing import update_from_file
    from core.paths import cache_dir

    h = hashlib.sha256(f"{tolerance}|{clip}|{layer}|{version('shapely')}|{version('geopandas')}|"
                       f"{inspect.getsource(_simplified_geojson)}".encode())
    try:
        update_from_file(h, path)
    except OSError:
        return None  # a missing context layer only removes that layer
    entry = cache_dir() / "display" / f"{path.stem}-{h.hexdigest()[:32]}.json"
    try:
        return json.loads(entry.read_text())
    except (OSError, ValueError):  # absent, or unreadable: rebuilt below
        pass
    out = _simplified_geojson(path, tolerance, clip, layer)
    if out is not None:
        entry.parent.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_suffix(f".tmp{os.getpid()}")
        tmp.write_text(json.dumps(out))
        os.replace(tmp, entry)  # a killed process never leaves a half-written entry
    return out


def _simplified_geojson(path: Path, tolerance: float, clip: tuple | None, layer: str | None) -> dict | None:
    """A GeoJSON dict simplified for display (shared borders stay shared) with 3-decimal coordinates.

    The files hold ~3 MB of vertices; sent with every map render they would dominate the time a
    rerun takes in the browser, so outlines are simplified to ~1 km once and cached.
    """
    import geopandas as gpd
    import shapely

    try:
        gdf = gpd.read_file(path, **({"layer": layer} if layer else {}))
    except Exception:  # noqa: BLE001 — a missing/corrupt context layer only removes that layer
        return None
    if gdf.crs is None:
        gdf = gdf.set_crs(4326)
    if clip is not None:
        gdf = gdf.clip(clip)
        geoms = gdf.geometry.simplify(tolerance * 2).values
    else:
        geoms = shapely.coverage_simplify(gdf.geometry.values, tolerance)
    gdf = gdf.set_geometry(shapely.transform(geoms, lambda c: np.round(c, 3)))
    return json.loads(gdf.to_json(drop_id=True))


def _national_view() -> bool:
    """Whether this session's scenario is on a national dataset (the sidebar's context), for the context layers."""
    ctx = st.session_state.get("ctx")
    return bool(ctx is not None and getattr(ctx, "info", {}).get("national"))


def geo_layers(national: bool | None = None) -> dict:
    """Boundaries (cnmaps, WGS84), Natural Earth context and place labels; missing parts are None.

    The land context is clipped around BTH, or around China when the session shows a national dataset
    (``national`` None: from the session's scenario).
    """
    return _geo_layers(_national_view() if national is None else national)


@st.cache_resource(show_spinner="Loading boundaries and basemap …")
def _geo_layers(national: bool = False) -> dict:
    """:func:`geo_layers`, shared and read-only (a resource, not copied per call: ~3 MB of GeoJSON dicts would
    take ~0.1 s to copy)."""
    out: dict = {"district": None, "city": None, "province": None, "countries": None, "places": None,
                 "message": ""}
    try:
        g = geo_dir()
    except AirAtlasError as err:
        out["message"] = str(err)
        return out
    adm = g / "cn_admin_bth_cnmaps"
    out["district"] = _display_geojson(adm / "bth_district_simplified_wgs84.geojson")
    out["city"] = _display_geojson(adm / "bth_city_simplified_wgs84.geojson")
    out["province"] = _display_geojson(adm / "bth_province_simplified_wgs84.geojson", tolerance=0.03)
    base = g / "basemap_offline"
    if national:  # the East Asia layer stops at 95 °E: the world layer (topojson), coarser at this zoom (~190 kB)
        out["countries"] = _display_geojson(base / "countries-10m.json", tolerance=0.025, clip=NATIONAL_CONTEXT_BOX,
                                            layer="countries")
    else:
        out["countries"] = _display_geojson(base / "east_asia_countries_10m.geojson", clip=CONTEXT_BOX)
    try:
        places = pd.read_csv(base / "bth_geonames_places_pop500.csv")
        out["places"] = places[places["population"] >= 700_000][["name", "name_zh", "lat", "lon", "population"]]
    except (OSError, ValueError, KeyError):
        out["places"] = None
    if out["district"] is None:
        out["message"] = f"District boundaries not found under {adm}; maps show no admin boundaries."
    return out


def context(land: bool = True) -> tuple[list, list]:
    """layers.context_bitmaps of :func:`geo_layers` (land and outlines as images; around China for a national
    dataset), serialised once per server (layers.Serialized)."""
    return _context(land, _national_view())


@st.cache_resource(show_spinner=False)
def _context(land: bool, national: bool) -> tuple[list, list]:
    from dashboard.layers import Serialized, ZoomLabels, context_bitmaps

    below, above = context_bitmaps(_geo_layers(national), land=land)
    # City labels stay unserialised: deck() places them for each map's zoom (no overlap).
    return ([Serialized(lay) for lay in below],
            [lay if isinstance(lay, ZoomLabels) else Serialized(lay) for lay in above])


@st.cache_data(show_spinner="Naming districts …")
def district_of_cells(lat: tuple[float, ...], lon: tuple[float, ...]) -> np.ndarray:
    """District name (城市 区县) of each grid cell centre, ``(lat, lon)``; '' outside BTH districts."""
    import geopandas as gpd

    la, lo = np.meshgrid(np.asarray(lat), np.asarray(lon), indexing="ij")
    names = np.full(la.shape, "", dtype=object)
    try:
        districts = gpd.read_file(geo_dir() / "cn_admin_bth_cnmaps" / "bth_district_simplified_wgs84.geojson")
    except Exception:  # noqa: BLE001 — without boundaries hotspots are simply unnamed
        return names
    if districts.crs is None:
        districts = districts.set_crs(4326)
    pts = gpd.GeoDataFrame(geometry=gpd.points_from_xy(lo.ravel(), la.ravel()), crs=4326)
    joined = gpd.sjoin(pts, districts[["geometry", "city", "name"]], how="left", predicate="within")
    joined = joined[~joined.index.duplicated(keep="first")]
    label = (joined["city"].fillna("").str.replace("市", "", regex=False) + " " + joined["name"].fillna("")).str.strip()
    return label.to_numpy(dtype=object).reshape(la.shape)


# ---------------------------------------------------------------- reports and cards
@st.cache_data(show_spinner=False, ttl=120)
def validation_ranking() -> list[str]:
    """Model names by validation MAE on mask-50 (``evaluate --split val`` reports, pooled over the validation
    station folds reported); [] without any."""
    from core.evaluation.selection import ranking_on_validation

    return ranking_on_validation(Path(METRICS_DIR))


@st.cache_data(show_spinner=False, ttl=120)
def metrics_reports() -> list[tuple[str, dict]]:
    """Every ``assets/metrics/*.json`` as (file name, content); unreadable files are skipped."""
    out = []
    for p in sorted(Path(METRICS_DIR).glob("*.json")):
        try:
            out.append((p.name, json.loads(p.read_text(encoding="utf-8"))))
        except (OSError, ValueError):
            continue
    return out


@st.cache_data(show_spinner=False, ttl=120)
def model_card(name: str) -> dict | None:
    p = Path(MODELS_DIR) / name / "card.json"
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@st.cache_data(show_spinner=False, ttl=120)
def interval_meta(name: str) -> dict | None:
    """``assets/models/<name>/intervals.json`` without its quantile arrays (level, fitting facts); None if absent."""
    p = Path(MODELS_DIR) / name / "intervals.json"
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return {k: v for k, v in data.items() if k not in ("q_lo", "q_hi", "counts")}
