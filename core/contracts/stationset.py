"""The StationSet contract: one ``xr.Dataset`` with dims ``(time, station)``.

- coords: ``time`` (hourly datetime64, Beijing local time, ``attrs["tz"] = "Asia/Shanghai"``),
  ``station`` (code, str), ``lat``, ``lon`` (WGS84 float64, NaN when unknown), ``name``, ``city``,
  ``is_bth`` (bool).
- data_vars: ``pm25`` float32 µg/m³ (NaN = missing); optional ``pm10 no2 so2 o3`` (µg/m³),
  ``co`` (mg/m³), ``u10 v10`` (m/s), ``t2m td2m`` (°C), ``qc_pm25`` (uint8 flags).
- attrs: ``source``, ``citation``, ``license``, ``input_sha256``, ``load_warnings`` (JSON list).

Helpers here build, check and summarise StationSets; sources only parse their files.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import xarray as xr

from core.errors import UnusableData

TZ = "Asia/Shanghai"
POLLUTANTS = ("pm25", "pm10", "so2", "no2", "o3", "co")
MET_VARS = ("u10", "v10", "t2m", "td2m")
UNITS = {
    "pm25": "ug m-3", "pm10": "ug m-3", "so2": "ug m-3", "no2": "ug m-3", "o3": "ug m-3",
    "co": "mg m-3", "u10": "m s-1", "v10": "m s-1", "t2m": "degC", "td2m": "degC", "qc_pm25": "1",
}
ACTIVE_MIN_COVERAGE = 0.5  # share of present hours with PM2.5 for a station to be a graph node

# BTH = Beijing, Tianjin and the 11 prefecture-level cities of Hebei.
BTH_CITIES = frozenset(
    "北京 天津 石家庄 唐山 秦皇岛 邯郸 邢台 保定 张家口 承德 沧州 廊坊 衡水".split()
)


@dataclass(frozen=True)
class DataWarning:
    """A data problem the loader survived: where it is and what was done about it."""

    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.message}"


def make_stationset(
    time: pd.DatetimeIndex | np.ndarray,
    codes: Sequence[str],
    lat: Sequence[float],
    lon: Sequence[float],
    data: Mapping[str, np.ndarray],
    *,
    name: Sequence[str] | None = None,
    city: Sequence[str] | None = None,
    is_bth: Sequence[bool] | None = None,
    present: np.ndarray | None = None,
    attrs: Mapping[str, str] | None = None,
    warnings: Sequence[DataWarning] = (),
) -> xr.Dataset:
    """Build a StationSet from arrays of shape ``(time, station)``.

    ``present`` (time,) marks hours that exist in the source (absent hours are all-NaN
    by construction; coverage is computed over present hours). Defaults to all True.
    """
    time = pd.DatetimeIndex(time)
    if time.tz is not None:
        time = time.tz_convert(TZ).tz_localize(None)
    n_t, n_s = len(time), len(codes)
    codes = [str(c) for c in codes]
    coords = {
        "time": ("time", time.values.astype("datetime64[ns]")),
        "station": ("station", np.asarray(codes, dtype=object).astype(str)),
        "lat": ("station", np.asarray(lat, dtype="float64")),
        "lon": ("station", np.asarray(lon, dtype="float64")),
        "name": ("station", np.asarray(name if name is not None else codes, dtype=str)),
        "city": ("station", np.asarray(city if city is not None else [""] * n_s, dtype=str)),
        "is_bth": ("station", np.asarray(is_bth if is_bth is not None else [False] * n_s, dtype=bool)),
        "present": ("time", np.ones(n_t, bool) if present is None else np.asarray(present, bool)),
    }
    data_vars = {}
    for var, arr in data.items():
        arr = np.asarray(arr)
        if arr.shape != (n_t, n_s):
            raise ValueError(f"{var}: shape {arr.shape} != (time, station) = {(n_t, n_s)}")
        dtype = "uint8" if var.startswith("qc_") else "float32"
        data_vars[var] = (("time", "station"), arr.astype(dtype), {"units": UNITS.get(var, "")})
    ds = xr.Dataset(data_vars, coords=coords)
    ds["time"].attrs["tz"] = TZ
    ds.attrs.update({"source": "", "citation": "", "license": "", "input_sha256": ""})
    ds.attrs.update(dict(attrs or {}))
    ds.attrs["load_warnings"] = json.dumps([asdict(w) for w in warnings], ensure_ascii=False)
    validate_stationset(ds)
    return ds


def validate_stationset(ds: xr.Dataset) -> None:
    """Raise ``ValueError`` if ``ds`` breaks the StationSet contract."""
    for dim in ("time", "station"):
        if dim not in ds.dims:
            raise ValueError(f"StationSet lacks dimension '{dim}'")
    for c in ("lat", "lon", "name", "city", "is_bth"):
        if c not in ds.coords:
            raise ValueError(f"StationSet lacks coordinate '{c}'")
    if "pm25" not in ds:
        raise ValueError("StationSet lacks data variable 'pm25'")
    if ds.sizes["time"] > 1:
        steps = np.diff(ds["time"].values).astype("timedelta64[m]").astype(int)
        if (steps != 60).any():
            raise ValueError("StationSet time axis must be regular hourly")
    if len(set(ds["station"].values.tolist())) != ds.sizes["station"]:
        raise ValueError("StationSet station codes must be unique")


def load_warnings(ds: xr.Dataset) -> list[DataWarning]:
    """The warnings recorded by the loader that built ``ds``."""
    return [DataWarning(**w) for w in json.loads(ds.attrs.get("load_warnings", "[]"))]


def pm25_coverage(ds: xr.Dataset) -> xr.DataArray:
    """Share of present hours with a PM2.5 value, per station."""
    present = ds["present"] if "present" in ds.coords else xr.ones_like(ds["time"], dtype=bool)
    n = max(int(present.sum()), 1)
    return ds["pm25"].where(present).notnull().sum("time") / n


def active_mask(ds: xr.Dataset, min_coverage: float = ACTIVE_MIN_COVERAGE) -> np.ndarray:
    """Stations that can be graph nodes: coordinates known and PM2.5 coverage ≥ ``min_coverage``."""
    has_xy = np.isfinite(ds["lat"].values) & np.isfinite(ds["lon"].values)
    return has_xy & (pm25_coverage(ds).values >= min_coverage)


def active_stations(ds: xr.Dataset, min_coverage: float = ACTIVE_MIN_COVERAGE) -> xr.Dataset:
    """``ds`` restricted to active stations; raises :class:`UnusableData` if none remain."""
    mask = active_mask(ds, min_coverage)
    if not mask.any():
        raise UnusableData(
            f"No station has coordinates and ≥{min_coverage:.0%} PM2.5 coverage "
            f"({ds.attrs.get('source', 'dataset')}); check stations list and data files."
        )
    return ds.isel(station=np.flatnonzero(mask))


def summary(ds: xr.Dataset) -> dict:
    """The facts `python -m core data info` prints (keys are a public contract)."""
    present = ds["present"].values if "present" in ds.coords else np.ones(ds.sizes["time"], bool)
    act = active_mask(ds)
    times = ds["time"].values[present]
    pm = ds["pm25"].values[present][:, act]
    has_wind = "u10" in ds and bool(np.isfinite(ds["u10"].values).any())
    return {
        "source": ds.attrs.get("source", ""),
        "stations_total": int(ds.sizes["station"]),
        "stations_active": int(act.sum()),
        "bth_active": int((act & ds["is_bth"].values).sum()),
        "time_start": pd.Timestamp(times.min()).strftime("%Y-%m-%dT%H") if len(times) else None,
        "time_end": pd.Timestamp(times.max()).strftime("%Y-%m-%dT%H") if len(times) else None,
        "hours_present": int(present.sum()),
        "pm25_missing_rate": float(np.isnan(pm).mean()) if pm.size else 1.0,
        "variables": sorted(str(v) for v in ds.data_vars),
        "wind": "measured" if has_wind else "none",
        "warnings": len(load_warnings(ds)),
        "input_sha256": ds.attrs.get("input_sha256", ""),
    }
