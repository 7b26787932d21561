"""Surface → census units: population-weighted PM2.5, people above thresholds, disparity.

Pure functions (GeoDataFrame / xarray in and out); the CLI and the dashboard call them.

Method, in short (details in :mod:`core.exposure.weights`, :mod:`core.exposure.census`,
:mod:`core.exposure.disparity`):

1. the hourly grid surface ``(time, lat, lon)`` µg/m³ is averaged over each census unit with
   exact cell–polygon overlap areas (equal-area projection), cells weighted by where people
   live inside the unit (0.1° population grid, uniform where it has nobody);
2. daily means per unit (Beijing calendar days, valid with ≥ 20 hours as GB 3095-2012 asks)
   and a period mean (mean of valid daily means);
3. each unit's people are its 2020 census population (NBS), so the BTH total is the census total;
4. people above WHO 2021 and GB 3095-2012 Grade II thresholds, vulnerability indicators and
   disparity figures; the same for ``pm25_lo`` / ``pm25_hi`` when the surface carries them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd
import xarray as xr
from pyproj import CRS

from core.errors import UnusableData
from core.exposure.census import CITATIONS, DEFINITIONS, VULNERABILITY, join_census, vulnerability_indicators
from core.exposure.disparity import concentration_index, disparity, quintile_ratio
from core.exposure.weights import CellWeights, cell_weights

MIN_DAY_HOURS = 20  # GB 3095-2012: a 24-h mean needs at least 20 hourly values
BOUNDS = ("pm25", "pm25_lo", "pm25_hi")


@dataclass(frozen=True)
class Threshold:
    key: str
    standard: str
    averaging: str  # "24h" or "annual"
    value: float  # µg/m³


THRESHOLDS = (
    Threshold("WHO2021_24h_15", "WHO 2021 Air Quality Guideline", "24h", 15.0),
    Threshold("WHO2021_annual_5", "WHO 2021 Air Quality Guideline", "annual", 5.0),
    Threshold("GB3095_II_24h_75", "GB 3095-2012 Grade II", "24h", 75.0),
    Threshold("GB3095_II_annual_35", "GB 3095-2012 Grade II", "annual", 35.0),
)


class ExposureWarning(UserWarning):
    """Something the aggregation survived but the user must know (e.g. a unit outside the grid)."""


@dataclass
class ExposureResult:
    """Per-unit exposure for one period.

    - ``table``: GeoDataFrame, one row per census unit: CODE, NAME, population (census POPU),
      pm25 [pm25_lo, pm25_hi] period means (µg/m³), valid_days, days_above_<threshold key>,
      covered, coverage (share of the unit's area inside the grid), weighting, the vulnerability
      shares (:data:`core.exposure.census.VULNERABILITY`), geometry (EPSG:4326);
    - ``daily``: Dataset (day, unit) of daily unit means for each bound present, NaN = invalid day;
    - ``warnings``: human-readable messages (also emitted as :class:`ExposureWarning`).
    """

    table: gpd.GeoDataFrame
    daily: xr.Dataset
    start: str
    end: str
    bounds: tuple[str, ...]
    warnings: list[str] = field(default_factory=list)


def surface_crs(surface: xr.Dataset) -> CRS:
    """The surface's CRS: ``spatial_ref``/``crs`` CF metadata if present, else lon/lat WGS84 (the contract)."""
    for name in ("spatial_ref", "crs"):
        if name in surface.variables and "crs_wkt" in surface[name].attrs:
            return CRS.from_wkt(surface[name].attrs["crs_wkt"])
    if "crs" in surface.attrs:
        return CRS.from_user_input(surface.attrs["crs"])
    return CRS.from_epsg(4326)


def check_surface(surface: xr.Dataset) -> None:
    """Raise :class:`UnusableData` unless ``surface`` follows the grid-surface contract."""
    if not isinstance(surface, xr.Dataset) or "pm25" not in surface:
        raise UnusableData("The grid surface must be an xr.Dataset with a 'pm25' variable (µg/m³).")
    dims = tuple(surface["pm25"].dims)
    if dims != ("time", "lat", "lon"):
        raise UnusableData(f"The grid surface's pm25 has dims {dims}; expected (time, lat, lon).")
    if surface.sizes["time"] == 0:
        raise UnusableData("The grid surface has no time steps in the chosen period.")


def _unit_hourly(values: np.ndarray, weights: CellWeights, chunk: int = 512) -> np.ndarray:
    """Weighted unit means of ``values`` (time, lat, lon) → (time, unit); NaN cells are left out."""
    n_t = values.shape[0]
    flat = values.reshape(n_t, -1)
    wt = weights.matrix.T.tocsc()
    out = np.full((n_t, weights.matrix.shape[0]), np.nan)
    for s in range(0, n_t, chunk):  # chunks bound memory for year-long surfaces
        v = flat[s:s + chunk].astype(float)
        ok = np.isfinite(v)
        num = np.asarray(np.where(ok, v, 0.0) @ wt)
        den = np.asarray(ok.astype(float) @ wt)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[s:s + chunk] = np.where(den > 1e-9, num / den, np.nan)
    return out


def daily_means(hourly: xr.DataArray, min_hours: int = MIN_DAY_HOURS) -> xr.DataArray:
    """Calendar-day means (dims day, unit) of hourly unit values; days with < ``min_hours`` values → NaN."""
    day = hourly["time"].dt.floor("D").rename("day")
    mean = hourly.groupby(day).mean("time")
    count = hourly.notnull().groupby(day).sum("time")
    return mean.where(count >= min_hours)


def unit_exposure(surface: xr.Dataset, units: gpd.GeoDataFrame, population: xr.DataArray | None = None,
                  start=None, end=None, min_hours: int = MIN_DAY_HOURS) -> ExposureResult:
    """Per-unit population-weighted PM2.5 over ``[start, end]`` (inclusive; default: the whole surface).

    ``surface``: Dataset (time, lat, lon) with pm25 [pm25_lo, pm25_hi] µg/m³, regular lon/lat grid;
    ``units``: census units from :func:`core.exposure.census.load_census_units` (CRS must match the surface's);
    ``population``: persons per cell used to spread people inside units, or None for uniform.
    """
    check_surface(surface)
    join_census(units[["CODE", "geometry"]], pd.DataFrame(units.drop(columns=["geometry"])),
                crs=surface_crs(surface))  # CRS and code checks with clear messages
    if start is not None or end is not None:
        surface = surface.sel(time=slice(start, end))
        check_surface(surface)
    bounds = tuple(b for b in BOUNDS if b in surface)
    w = cell_weights(surface["lat"].values, surface["lon"].values, units, population)
    msgs: list[str] = []
    codes = units["CODE"].astype(str).to_numpy()
    if (~w.covered).any():
        miss = [f"{c} {n}" for c, n in zip(codes[~w.covered], units["NAME"].to_numpy()[~w.covered], strict=True)]
        msgs.append(f"{len(miss)} census unit(s) lie outside the grid and get no exposure "
                    f"(their people are left out of every figure): {', '.join(miss[:20])}. Use a grid that covers BTH.")
    part = w.covered & (w.coverage < 0.95)
    if part.any():
        msgs.append(f"{int(part.sum())} unit(s) are less than 95 % inside the grid; their exposure is the mean "
                    f"over the covered part: {', '.join(codes[part][:20])}.")
    daily = {}
    table = units[["CODE", "NAME", *(["ENG_NAME"] if "ENG_NAME" in units else []), "geometry"]].copy()
    table["population"] = units["POPU"].astype(float).to_numpy()
    for b in bounds:
        hourly = xr.DataArray(_unit_hourly(surface[b].values, w), dims=("time", "unit"),
                              coords={"time": surface["time"].values, "unit": codes})
        d = daily_means(hourly, min_hours)
        daily[b] = d
        table[b] = d.mean("day", skipna=True).values if d.sizes["day"] else np.nan
    valid = daily["pm25"].notnull()
    table["valid_days"] = valid.sum("day").values
    nodata = w.covered & ~np.isfinite(table["pm25"].to_numpy(float))
    if nodata.any():
        msgs.append(f"{int(nodata.sum())} covered unit(s) have no valid day (surface NaN or < {min_hours} h/day): "
                    f"{', '.join(codes[nodata][:20])}.")
    if int(valid.sum()) and (valid.sum("unit") == 0).any():
        msgs.append(f"{int((valid.sum('unit') == 0).sum())} day(s) have fewer than {min_hours} valid hours and "
                    "are left out of 24-h figures.")
    for t in THRESHOLDS:
        if t.averaging == "24h":
            table[f"days_above_{t.key}"] = (daily["pm25"] > t.value).sum("day").values
    table["covered"] = w.covered
    table["coverage"] = w.coverage
    table["weighting"] = w.weighting
    vul = vulnerability_indicators(units)
    for c in vul.columns:
        table[c] = vul[c].to_numpy()
    for m in msgs:
        warnings.warn(m, ExposureWarning, stacklevel=2)
    t0, t1 = surface["time"].values[[0, -1]]
    return ExposureResult(table=gpd.GeoDataFrame(table, geometry="geometry", crs=units.crs),
                          daily=xr.Dataset(daily), start=str(np.datetime_as_string(t0, "h")),
                          end=str(np.datetime_as_string(t1, "h")), bounds=bounds, warnings=msgs)


def _usable(table: pd.DataFrame, col: str = "pm25") -> np.ndarray:
    return table["covered"].to_numpy(bool) & np.isfinite(table[col].to_numpy(float))


def pop_weighted_mean(table: pd.DataFrame, col: str = "pm25") -> float:
    """Population-weighted mean of a per-unit column over units with a value (µg/m³ for pm25)."""
    ok = _usable(table, col)
    if not ok.any():
        return float("nan")
    return float(np.average(table[col].to_numpy(float)[ok], weights=table["population"].to_numpy(float)[ok]))


def population_above(result: ExposureResult, bound: str = "pm25") -> dict[str, dict]:
    """People above each threshold (:data:`THRESHOLDS`) for one bound of the surface.

    24-h thresholds: ``person_days`` above, ``people`` = mean people per valid day, ``share`` of the
    covered population, ``people_any_day`` (at least one day above). Annual thresholds: the
    period mean against the annual value (indicative when the period is shorter than a year).
    """
    tab = result.table
    ok = _usable(tab, bound)
    pop = tab["population"].to_numpy(float)
    total = pop[ok].sum()
    daily = result.daily[bound].values  # (day, unit)
    out: dict[str, dict] = {}
    for t in THRESHOLDS:
        rec: dict = {"standard": t.standard, "averaging": t.averaging, "threshold_ugm3": t.value}
        if t.averaging == "24h":
            above = np.nan_to_num(daily > t.value) * ok  # (day, unit) bool as float
            n_days = int(np.isfinite(daily[:, ok]).any(axis=1).sum()) if ok.any() else 0
            person_days = float((above * pop).sum())
            rec |= {"people": person_days / n_days if n_days else float("nan"),
                    "share": person_days / n_days / total if n_days and total else float("nan"),
                    "person_days": person_days, "days": n_days,
                    "people_any_day": float(pop[(above.sum(0) > 0) & ok].sum())}
        else:
            m = tab[bound].to_numpy(float)
            people = float(pop[ok & (m > t.value)].sum())
            rec |= {"people": people, "share": people / total if total else float("nan"),
                    "note": "period mean compared with the annual guideline"}
        out[t.key] = rec
    return out


def disparities(result: ExposureResult, n_boot: int = 1000, seed: int = 0) -> dict[str, dict]:
    """Per vulnerability indicator: quintile ratio, concentration index, bootstrap interval; lo/hi bounds."""
    tab = result.table
    out: dict[str, dict] = {}
    for name, (label, fld, _) in VULNERABILITY.items():
        ok = _usable(tab)
        h, v, w = (tab[c].to_numpy(float)[ok] for c in ("pm25", name, "population"))
        rec = {"label": label, "census_field": fld, "definition": DEFINITIONS[name]} | disparity(
            h, v, w, n_boot=n_boot, seed=seed)
        for b in result.bounds[1:]:  # the same figures on the surface's lower / upper bound
            okb = _usable(tab, b)
            hb, vb, wb = (tab[c].to_numpy(float)[okb] for c in (b, name, "population"))
            rec[b.removeprefix("pm25_")] = {"ratio": quintile_ratio(hb, vb, wb),
                                            "concentration_index": concentration_index(hb, vb, wb)}
        out[name] = rec
    return out


def summarize(result: ExposureResult, n_boot: int = 1000, seed: int = 0) -> dict:
    """The JSON facts of ``python -m core exposure`` (keys are a public contract: scripts read them)."""
    tab = result.table
    ok = _usable(tab)
    out = {
        "period": {"start": result.start, "end": result.end, "timezone": "Asia/Shanghai"},
        "units": int(len(tab)),
        "units_with_exposure": int(ok.sum()),
        "population_total": float(tab["population"].to_numpy(float)[ok].sum()),
        "population_census_total": float(tab["population"].sum()),
        "pop_weighted_pm25": pop_weighted_mean(tab),
        "above": population_above(result),
        "disparity": disparities(result, n_boot=n_boot, seed=seed),
    }
    for b in result.bounds[1:]:
        out[f"pop_weighted_{b}"] = pop_weighted_mean(tab, b)
        out[f"above_{b.removeprefix('pm25_')}"] = {k: {"people": v["people"], "share": v["share"]}
                                                  for k, v in population_above(result, b).items()}
    out["warnings"] = list(result.warnings)
    out["method"] = METHOD
    out["sources"] = dict(CITATIONS)
    return out


METHOD = (
    "Hourly PM2.5 surface averaged over each of the 222 BTH 2020-census units with exact cell–polygon "
    "overlap areas (local Albers equal-area), cells weighted inside each unit by the 0.1° population grid "
    "(uniform where it is empty); unit population = census POPU (NBS 2020), so the BTH total is preserved. "
    f"Daily means on Beijing calendar days with ≥{MIN_DAY_HOURS} valid hours; period mean = mean of valid daily "
    "means. 24-h thresholds: person-days above / valid days; annual thresholds: period mean vs annual value. "
    "Disparity: population-weighted quintiles of units ranked by each indicator (most/least vulnerable mean "
    "exposure ratio) and a concentration index with a seeded percentile bootstrap over units."
)
