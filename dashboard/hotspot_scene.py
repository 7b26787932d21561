"""What the Hotspots page shows for one scenario: :func:`compute` → :class:`HotspotScene`.

No widgets here: the page (``dashboard/views/hotspots.py``) renders the scene. Inference goes through
``loaders.run_scenario`` (cached); hotspots are ranked by ``core.hotspots.hotspot_table``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xarray as xr

from core.contracts.kriger import InferenceResult
from core.hotspots import Threshold, hotspot_table
from dashboard import coverage, decision, layers, loaders, names
from dashboard.state import Scenario
from dashboard.uncertainty_layers import interval_text


class NothingToShow(Exception):
    """The scenario has nothing to infer from (or the model gave no surface): the page says why and stops."""

    def __init__(self, message: str, error: bool = False) -> None:
        super().__init__(message)
        self.error = error


@dataclass(frozen=True)
class HotspotScene:
    """What the page shows for one scenario, threshold rule and prominence.

    ``field`` / ``g_lo`` / ``g_hi`` (lat, lon): the shown PM2.5 (daily mean over the hours with data, or the hour)
    and its interval, NaN outside BTH districts; ``table``: ranked hotspots above ``threshold``; ``wind``: (lat, lon,
    u, v) measured at stations, or None.
    """

    sl: xr.Dataset
    obs_mask: np.ndarray
    reporting: np.ndarray
    hours_with_data: np.ndarray
    rep_now: np.ndarray
    result: InferenceResult
    shown_grid: xr.Dataset
    field: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    g_lo: np.ndarray | None
    g_hi: np.ndarray | None
    truth: xr.DataArray
    labels: dict
    stations: pd.DataFrame
    people: np.ndarray | None
    table: pd.DataFrame
    threshold: float
    wind: tuple | None
    wind_note: str

    @property
    def grid(self) -> xr.Dataset:
        return self.result.grid

    @property
    def has_interval(self) -> bool:
        return self.g_lo is not None


def when_text(hour: int | None) -> str:
    return "daily mean" if hour is None else f"{hour:02d}:00"



def check_reporting(sc: Scenario, reporting: np.ndarray, obs_mask: np.ndarray,
                     hours_with_data: np.ndarray) -> np.ndarray:
    """Observed stations reporting at the shown time (station,); :class:`NothingToShow` when none can be used."""
    when = when_text(sc.hour)
    if sc.hour is not None and not reporting[sc.hour].any():
        raise NothingToShow(
            f"**No station reported PM2.5 at {when} on {sc.date}**: nothing to infer from. "
            f"This day has data at {coverage.hours_label(hours_with_data)} only — choose one of those hours "
            "(the hour list marks the others 'no data') or another day.")
    rep_now = (reporting.any(axis=0) if sc.hour is None else reporting[sc.hour]) & obs_mask
    if obs_mask.any() and not rep_now.any():  # all hidden: run_scenario says so
        raise NothingToShow(
            f"None of the observed stations reported PM2.5 {'on' if sc.hour is None else 'at ' + when} "
            f"{sc.date} (the only stations that did are hidden): unhide some in the Masking lab.")
    return rep_now


def measured_wind(sc: Scenario, info: dict, sl: xr.Dataset, truth: xr.DataArray,
                  result: InferenceResult) -> tuple[tuple | None, str]:
    """(lat, lon, u, v) of the measured 10-m wind at stations for the shown time, or None; and the line saying so."""
    if info["wind"] == "measured":
        w = sl.sel(time=truth["time"])
        u = w["u10"].mean("time") if sc.hour is None else w["u10"].isel(time=sc.hour)
        v = w["v10"].mean("time") if sc.hour is None else w["v10"].isel(time=sc.hour)
        return (sl["lat"].values, sl["lon"].values, u.values, v.values), "wind: measured (10 m, station records)"
    if result.wind == "inferred":
        return None, f"wind: inferred inside {sc.model} (no arrows exported)"
    return None, "wind: not available (no measured wind in this dataset, model gives none)"


def compute(sc: Scenario, info: dict, rule: Threshold, prominence: float) -> HotspotScene:
    """Everything the page shows for the scenario ``sc`` (inference through loaders.run_scenario, cached)."""
    sl = loaders.window_slice(sc.dataset, sc.date)
    obs_mask = loaders.observed_mask(sl, sc.masked)
    reporting = loaders.reporting_per_hour(sc.dataset, sc.date)  # (24, station): measured PM2.5
    hours_with_data = np.flatnonzero(reporting.any(axis=1))
    rep_now = check_reporting(sc, reporting, obs_mask, hours_with_data)
    result = loaders.run_scenario(sc.dataset, sc.date, sc.model, sc.masked, True)
    if result.grid is None:
        raise NothingToShow(f"Model '{sc.model}' returned no grid surface; choose another model.", error=True)
    grid = result.grid
    # A daily mean over the hours that have data (a partial day's empty hours are pure extrapolation).
    shown_grid = grid.isel(time=hours_with_data) if sc.hour is None else grid
    sel = shown_grid if sc.hour is None else grid.isel(time=sc.hour)
    field = (sel["pm25"].mean("time") if sc.hour is None else sel["pm25"]).values
    lat, lon = grid["lat"].values, grid["lon"].values

    truth = loaders.truth_of(sc.dataset, sc.date)
    shown = truth.mean("time").values if sc.hour is None else truth.isel(time=sc.hour).values
    labels = names.station_labels(sl["station"].values, sl["name"].values, sl["city"].values)
    stations = layers.station_frame(sl["station"].values, [names.strip_annotation(n) for n in sl["name"].values],
                                    [names.city_label(c) for c in sl["city"].values],
                                    sl["lat"].values, sl["lon"].values, obs_mask, np.where(obs_mask, shown, np.nan))
    s_lo, s_hi = decision.station_interval(result, sc.hour)
    stations["interval"] = interval_text(s_lo, s_hi, len(stations))
    g_lo, g_hi = decision.shown_interval(shown_grid, sc.hour)

    district = loaders.district_of_cells(tuple(lat.tolist()), tuple(lon.tolist()))
    inside = district != ""
    if inside.any():  # show and rank only inside BTH districts (no surface over the sea or other provinces)
        field = np.where(inside, field, np.nan)
        if g_lo is not None:
            g_lo, g_hi = np.where(inside, g_lo, np.nan), np.where(inside, g_hi, np.nan)
    people = decision.cell_people(tuple(lat.tolist()), tuple(lon.tolist()))
    seen = obs_mask & np.isfinite(truth.values).any(axis=0)
    monitors = (sl["lat"].values[seen], sl["lon"].values[seen])
    _, table, threshold = hotspot_table(field, lat, lon, rule, monitors=monitors, lo=g_lo, hi=g_hi, people=people,
                                        district=district, min_prominence=prominence)
    wind, wind_note = measured_wind(sc, info, sl, truth, result)
    return HotspotScene(sl=sl, obs_mask=obs_mask, reporting=reporting, hours_with_data=hours_with_data,
                        rep_now=rep_now, result=result, shown_grid=shown_grid, field=field, lat=lat, lon=lon,
                        g_lo=g_lo, g_hi=g_hi, truth=truth, labels=labels, stations=stations, people=people,
                        table=table, threshold=threshold, wind=wind, wind_note=wind_note)
