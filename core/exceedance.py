"""Exceedance days: per cell, the days whose 24-h mean PM2.5 is above a limit, and people × days above.

A day's 24-h mean counts only with at least ``MIN_HOURS`` hourly values (GB 3095-2012's validity
rule for a 24-h mean: ≥ 20 hours); other days are "not valid" and neither above nor below.
Times are Beijing local time, so days are Beijing calendar days.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from core.errors import InvalidRequest

MIN_HOURS = 20
LIMITS = {"WHO 2021 AQG 24-h (15 µg/m³)": 15.0, "GB 3095-2012 Grade II 24-h (75 µg/m³)": 75.0}


def daily_means(pm25: xr.DataArray, min_hours: int = MIN_HOURS) -> xr.DataArray:
    """24-h means ``(day, lat, lon)`` µg/m³ of hourly ``pm25`` ``(time, lat, lon)``; NaN on days < min_hours."""
    if pm25.sizes.get("time", 0) == 0:
        raise InvalidRequest("No hours in the period: choose a period with data.")
    day = pm25["time"].dt.floor("D").rename("day")
    grouped = pm25.groupby(day)
    mean = grouped.mean("time", skipna=True)
    count = pm25.notnull().groupby(day).sum("time")
    return mean.where(count >= min_hours)


def exceedance_days(pm25: xr.DataArray, limits: dict[str, float] | None = None,
                    min_hours: int = MIN_HOURS) -> xr.Dataset:
    """Per cell: ``days_above`` ``(limit, lat, lon)`` and ``valid_days`` ``(lat, lon)``; attrs carry the day count."""
    limits = LIMITS if limits is None else limits
    daily = daily_means(pm25, min_hours)
    above = xr.concat([(daily > v).sum("day") for v in limits.values()], dim="limit")
    out = xr.Dataset({"days_above": above.assign_coords(limit=list(limits)),
                      "valid_days": daily.notnull().sum("day")})
    out["days_above"].attrs = {"units": "days", "long_name": "days with a 24-h mean above the limit"}
    out.attrs = {"n_days": int(daily.sizes["day"]), "min_hours": min_hours,
                 "first_day": str(daily["day"].values[0])[:10], "last_day": str(daily["day"].values[-1])[:10]}
    return out


def people_days(days_above: np.ndarray, people: np.ndarray) -> float:
    """Σ people × days above (person-days), cells ``(lat, lon)``; NaN cells count 0."""
    return float(np.nansum(np.asarray(days_above, float) * np.nan_to_num(np.asarray(people, float))))
