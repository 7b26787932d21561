"""One siting run end to end for a day: stations → ``infer`` → surface → ranked sites (CLI and dashboard)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from core.contracts.grid import GridSpec
from core.contracts.kriger import Kriger, Window
from core.districts import district_names
from core.engine.infer import infer
from core.errors import InvalidRequest, UnusableData
from core.siting.score import DEFAULT_SPACING_KM, rank_sites

HISTORY_HOURS = 15 * 24


def day_window(ds: xr.Dataset, date: str) -> Window:
    """The 24 hours of ``date`` (Beijing time); a clear error outside the data or on a day without PM2.5."""
    try:
        d = pd.Timestamp(date).normalize()
    except (ValueError, TypeError) as err:
        raise InvalidRequest(f"--date must look like 2019-01-12 (got {date!r}).") from err
    w = Window.of(d, d + pd.Timedelta(hours=23))
    times = ds["time"].values
    day = (times >= w.start) & (times <= w.end)
    if not day.any():
        raise InvalidRequest(f"{d.date()} is outside the data ({pd.Timestamp(times[0]).date()} … "
                             f"{pd.Timestamp(times[-1]).date()}); choose a date inside.")
    if not np.isfinite(ds["pm25"].values[day]).any():
        raise InvalidRequest(f"No PM2.5 measured on {d.date()} (archive gap); choose another date.")
    return w


def sites_for_day(ds: xr.Dataset, model: Kriger, date: str, n: int, observed: np.ndarray | None = None,
                  res: float = 0.1, min_spacing_km: float = DEFAULT_SPACING_KM,
                  pop: xr.DataArray | None = None, use_interval: bool = True
                  ) -> tuple[pd.DataFrame, str, xr.Dataset]:
    """Top ``n`` new-monitor sites on ``date`` given the ``observed`` stations (default: all).

    Returns (sites table, uncertainty kind, the surface used).
    """
    from core.data.population import load_population_grid

    w = day_window(ds, date)
    if observed is None:
        observed = np.ones(ds.sizes["station"], bool)
    times = ds["time"].values
    sl = ds.isel(time=(times >= w.start - np.timedelta64(HISTORY_HOURS, "h")) & (times <= w.end))
    day_obs = np.isfinite(sl["pm25"].sel(time=slice(w.start, w.end)).values).any(axis=0) & observed
    if not day_obs.any():
        raise InvalidRequest("No observed station has data on that day: unmask some stations or pick another date.")
    grid = GridSpec.from_bbox(res=res)
    result = infer(model, sl, observed, grid=grid, window=w)
    if result.grid is None:
        raise UnusableData(f"Model '{model.name}' returned no grid surface; it cannot be used for siting.")
    surface = result.grid
    if result.station_lo is not None and "pm25_lo" not in surface:
        surface.attrs["note"] = "model gives station intervals but no grid interval"
    la, lo = np.meshgrid(surface["lat"].values, surface["lon"].values, indexing="ij")
    district = district_names(la.ravel(), lo.ravel()).reshape(la.shape)
    table, kind = rank_sites(surface, sl["lat"].values[day_obs], sl["lon"].values[day_obs],
                             pop if pop is not None else load_population_grid(), n,
                             district=district if (district != "").any() else None, min_spacing_km=min_spacing_km,
                             use_interval=use_interval)
    return table, kind, surface
