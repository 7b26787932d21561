"""The one inference step every consumer calls (CLI, evaluator, dashboard, reanalysis).

It blanks hidden stations *before* the model sees the data, so no model can read the
truth at a place it is meant to infer — honesty is enforced here, once.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from core.contracts.grid import GridSpec
from core.contracts.kriger import InferenceResult, Kriger, Window
from core.contracts.stationset import POLLUTANTS
from core.errors import InvalidRequest


def broadcast_observed(observed: np.ndarray, n_time: int, n_station: int) -> np.ndarray:
    """``observed`` as bool ``(time, station)``; accepts ``(station,)`` too."""
    obs = np.asarray(observed, dtype=bool)
    if obs.shape == (n_station,):
        obs = np.broadcast_to(obs, (n_time, n_station))
    if obs.shape != (n_time, n_station):
        raise ValueError(f"observed mask shape {obs.shape} fits neither (station,) nor (time, station)")
    return np.ascontiguousarray(obs)


def mask_hidden(stations: xr.Dataset, observed: np.ndarray) -> xr.Dataset:
    """Copy of ``stations`` with everything derived from the hidden truth blanked where ``observed`` is False.

    Pollutants become NaN; QC flags (``qc_*``, computed from the very values being hidden — a flag
    would leak e.g. "a spike happened here") become 0. Meteorology is not derived from PM2.5 and stays.
    """
    keep = xr.DataArray(observed, dims=("time", "station"))
    out = stations.copy()
    for var in out.data_vars:
        da = out[var]
        pollutant, qc = var in POLLUTANTS, str(var).startswith("qc_")
        if not (pollutant or qc):
            continue
        if da.dims == ("time", "station"):  # the usual layout: numpy, ~10× cheaper than xarray's aligned where
            fill = np.nan if pollutant else 0
            dtype = np.result_type(da.dtype, np.float32) if pollutant else da.dtype
            # replace the data of the copy's own Variable (a shallow copy: the caller's array is untouched);
            # assigning a DataArray would re-align coordinates, ~4 ms per variable
            out.variables[var].values = np.where(observed, da.values, fill).astype(dtype, copy=False)
        else:
            out[var] = da.where(keep) if pollutant else da.where(keep, 0).astype(da.dtype)
    return out


def infer(
    model: Kriger,
    stations: xr.Dataset,
    observed: np.ndarray,
    grid: GridSpec | None = None,
    window: Window | None = None,
) -> InferenceResult:
    """Run ``model`` with hidden stations blanked; returns predictions for ``window``.

    ``observed``: bool ``(station,)`` or ``(time, station)`` over ``stations``' full time axis.
    """
    n_t, n_s = stations.sizes["time"], stations.sizes["station"]
    obs = broadcast_observed(observed, n_t, n_s)
    if window is None:
        window = Window(stations["time"].values[0], stations["time"].values[-1])
    in_window = (stations["time"].values >= window.start) & (stations["time"].values <= window.end)
    if not in_window.any():
        raise InvalidRequest(
            f"No data between {np.datetime_as_string(window.start, 'h')} and "
            f"{np.datetime_as_string(window.end, 'h')}; choose dates inside "
            f"{np.datetime_as_string(stations['time'].values[0], 'D')} … "
            f"{np.datetime_as_string(stations['time'].values[-1], 'D')}."
        )
    has_value = obs[in_window] & np.isfinite(stations["pm25"].values[in_window])
    if not has_value.any():
        raise InvalidRequest("No observed PM2.5 value in the chosen window: unmask some stations or pick other dates.")
    return model.infer(mask_hidden(stations, obs), obs, grid, window)
