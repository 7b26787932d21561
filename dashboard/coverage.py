"""How much of the shown scenario rests on measurements: stations reporting per hour, distance to them.

Pure numpy (no ``st.*``): the pages turn these figures into messages.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from core.exceedance import MIN_HOURS

FAR_KM = 50.0  # beyond this distance from every reporting station an estimate is an extrapolation
KM_PER_DEG = 111.195


def hours_label(hours: np.ndarray) -> str:
    """``[8]`` → ``'08:00'``; ``[0, 1, 2, 5]`` → ``'00:00–02:00, 05:00'``."""
    hours = sorted(int(h) for h in hours)
    runs: list[list[int]] = []
    for h in hours:
        if runs and h == runs[-1][-1] + 1:
            runs[-1].append(h)
        else:
            runs.append([h])
    return ", ".join(f"{r[0]:02d}:00" if len(r) == 1 else f"{r[0]:02d}:00–{r[-1]:02d}:00" for r in runs)


def nearest_km(lat: np.ndarray, lon: np.ndarray, st_lat: np.ndarray, st_lon: np.ndarray) -> np.ndarray:
    """Distance (km) from each cell of the ``(lat, lon)`` grid to the nearest of the given stations.

    Local equirectangular projection around the grid's mean latitude: a few % off at 300 km, plenty
    for a "how far is the nearest monitor" message. ``inf`` everywhere when no station is given.
    """
    la, lo = np.meshgrid(np.asarray(lat, float), np.asarray(lon, float), indexing="ij")
    ok = np.isfinite(st_lat) & np.isfinite(st_lon)
    if not ok.any():
        return np.full(la.shape, np.inf)
    k = np.cos(np.radians(float(np.mean(lat))))
    tree = cKDTree(np.column_stack([np.asarray(st_lon, float)[ok] * k, np.asarray(st_lat, float)[ok]]))
    d, _ = tree.query(np.column_stack([lo.ravel() * k, la.ravel()]))
    return (d * KM_PER_DEG).reshape(la.shape)


def far_share(dist_km: np.ndarray, shown: np.ndarray, limit_km: float = FAR_KM) -> float:
    """Share (%) of the shown cells farther than ``limit_km`` from every reporting station."""
    return 100.0 * float((shown & (dist_km > limit_km)).sum()) / max(int(shown.sum()), 1)


def far_is_alarming(share_now: float, share_all: float) -> bool:
    """Whether to warn, not just note: hiding stations pushed much more of the map out of reach, or most of it is.

    Sparse mountains (north Zhangjiakou, Chengde) are far from any monitor even with all stations in, so
    a fixed share would warn on every map; what misleads is a map that looks the same with far less data.
    """
    return share_now > 60.0 or share_now > share_all + 10.0


def far_message(dist_km: np.ndarray, shown: np.ndarray, width: np.ndarray | None = None,
                limit_km: float = FAR_KM, level: str = "90 %") -> str | None:
    """A message when part of the shown area is farther than ``limit_km`` from every reporting station.

    ``shown``: bool (lat, lon) cells on the map; ``width``: optional interval width (µg/m³) per cell,
    compared far vs near so the reader sees the uncertainty grow.
    """
    far = shown & (dist_km > limit_km)
    if not far.any():
        return None
    share = 100.0 * far.sum() / max(int(shown.sum()), 1)
    worst = float(np.nanmax(np.where(shown, dist_km, np.nan)))
    msg = (f"**{share:.0f} % of the area shown is more than {limit_km:.0f} km from any reporting station** "
           + (f"(up to {worst:,.0f} km). " if np.isfinite(worst) else "(no station reports). ")
           + "There the surface is an extrapolation, not an interpolation between monitors: treat it with care.")
    if width is not None and np.isfinite(width).any():
        near = shown & ~far & np.isfinite(width)
        w_far = float(np.nanmedian(np.where(far, width, np.nan))) if np.isfinite(np.where(far, width, np.nan)).any() \
            else float("nan")
        w_near = float(np.nanmedian(np.where(near, width, np.nan))) if near.any() else float("nan")
        if np.isfinite(w_far):
            msg += (f" Median {level} interval width there: {w_far:,.0f} µg/m³"
                    + (f" (vs {w_near:,.0f} µg/m³ within {limit_km:.0f} km of a station)." if np.isfinite(w_near)
                       else "."))
    return msg


MIN_DAY_HOURS = MIN_HOURS  # GB 3095-2012: a 24-h mean needs at least 20 hourly values
PARTIAL_MEAN = ("The 'daily mean' below averages those hours only; it is not a 24-h mean "
                f"(GB 3095-2012 needs ≥ {MIN_DAY_HOURS} hours).")


def missing_day_text(date: str) -> str:
    """The message of a day on which no station reported PM2.5 (an archive gap)."""
    return (f"**No PM2.5 data on {date}** (archive gap): no station reported that day, so there is nothing to "
            "infer from. Pick another date (the note under the sidebar's date lists this month's missing and "
            "partial days).")


def empty_hour_text(date: str, hour: int, hours: np.ndarray) -> str:
    """The message of an hour without any PM2.5 report on a day that has some."""
    return (f"**No station reported PM2.5 at {hour:02d}:00 on {date}**: nothing to infer from. This day has data at "
            f"{hours_label(hours)} only — choose one of those hours (the hour list marks the others 'no data') "
            "or another day.")


def partial_day_text(date: str, hours: np.ndarray, consequence: str = PARTIAL_MEAN) -> str:
    """The warning of a day with data in fewer than 24 hours; ``consequence`` says what it means for the page."""
    return f"**Partial day**: {date} has data in {len(hours)} of 24 hours ({hours_label(hours)}). {consequence}"
