"""Observation operators of the synthetic simulator: stations, missingness, AOD with clouds.

They turn the simulated truth into what a monitoring network and a satellite would deliver:
point samples with noise and gaps, and a column-aerosol field that clouds hide.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.ndimage import gaussian_filter
from scipy.special import ndtri

from core.contracts.stationset import BTH_CITIES, DataWarning
from core.data.synthetic_fields import CITIES
from core.errors import CorruptFile, DataNotFound
from core.paths import dataset_dir

STATIONS_FILE = "stations_region.csv"


@dataclass(frozen=True)
class StationLayout:
    """Where the simulated monitors are. All arrays have shape (station,)."""

    code: np.ndarray
    name: np.ndarray
    city: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    is_bth: np.ndarray
    source: str

    def __len__(self) -> int:
        return len(self.code)


def _inside(lat: np.ndarray, lon: np.ndarray, bbox: tuple[float, float, float, float]) -> np.ndarray:
    w, s, e, n = bbox
    return np.isfinite(lat) & np.isfinite(lon) & (lon >= w) & (lon <= e) & (lat >= s) & (lat <= n)


def read_station_list(path: Path, bbox: tuple[float, float, float, float]) -> StationLayout:
    """Stations of a CNEMC ``stations_region.csv`` (code, name, city, lon, lat[, is_BTH]) inside ``bbox``."""
    try:
        df = pd.read_csv(path, dtype={"code": str, "name": str, "city": str})
    except (pd.errors.ParserError, UnicodeDecodeError) as err:
        raise CorruptFile(f"{path}: cannot parse as CSV ({err}).") from err
    missing = {"code", "lon", "lat"} - set(df.columns)
    if missing:
        raise CorruptFile(f"{path}: missing column(s) {', '.join(sorted(missing))}; expected code,name,city,lon,lat.")
    df = df.drop_duplicates("code")
    lat = pd.to_numeric(df["lat"], errors="coerce").to_numpy(float)
    lon = pd.to_numeric(df["lon"], errors="coerce").to_numpy(float)
    df = df[_inside(lat, lon, bbox)]
    city = df["city"].fillna("").astype(str).to_numpy() if "city" in df else np.full(len(df), "")
    if "is_BTH" in df:
        is_bth = df["is_BTH"].astype(str).str.lower().isin({"true", "1", "yes"}).to_numpy()
    else:
        is_bth = np.isin(city, list(BTH_CITIES))
    return StationLayout(
        code=df["code"].astype(str).to_numpy(),
        name=df["name"].fillna("").astype(str).to_numpy() if "name" in df else df["code"].astype(str).to_numpy(),
        city=city,
        lat=pd.to_numeric(df["lat"], errors="coerce").to_numpy(float),
        lon=pd.to_numeric(df["lon"], errors="coerce").to_numpy(float),
        is_bth=is_bth,
        source=str(path),
    )


def synthetic_layout(bbox: tuple[float, float, float, float]) -> StationLayout:
    """A fixed, seed-independent station network: clusters at the BTH cities plus rural sites.

    Cities get ``2 + 10·√(pop/22 M)`` stations scattered (σ 0.1°) around their centre; 15 rural
    stations are spread over the bbox. Like real monitors, the layout does not change with the
    simulation seed.
    """
    rng = np.random.default_rng(20190101)
    w, s, e, n = bbox
    code, name, city, lat, lon = [], [], [], [], []
    for cname, clat, clon, mil in CITIES:
        k = int(round(2 + 10 * np.sqrt(mil / 22.0)))
        la = clat + 0.1 * rng.standard_normal(k)
        lo = clon + 0.1 * rng.standard_normal(k)
        for m in range(k):
            code.append(f"S{len(code) + 1:03d}")
            name.append(f"{cname}{m + 1}号")
            city.append(cname)
            lat.append(la[m])
            lon.append(lo[m])
    n_rural = 15
    la, lo = rng.uniform(s, n, n_rural), rng.uniform(w, e, n_rural)
    for m in range(n_rural):
        code.append(f"S{len(code) + 1:03d}")
        name.append(f"rural{m + 1}")
        city.append("")
        lat.append(la[m])
        lon.append(lo[m])
    lat_a, lon_a = np.asarray(lat), np.asarray(lon)
    keep = _inside(lat_a, lon_a, bbox)
    city_a = np.asarray(city)
    return StationLayout(code=np.asarray(code)[keep], name=np.asarray(name)[keep], city=city_a[keep],
                         lat=lat_a[keep], lon=lon_a[keep], is_bth=np.isin(city_a[keep], list(BTH_CITIES)),
                         source="synthetic layout")


def station_layout(spec: str, bbox: tuple[float, float, float, float]) -> tuple[StationLayout, list[DataWarning]]:
    """Stations for ``spec``: a dataset name (``<data>/raw/<name>/stations_region.csv``), a CSV path,
    or ``"synthetic"``. A dataset that is not on this machine falls back to the synthetic layout with
    a warning; an explicit CSV path that does not exist is an error.
    """
    if spec == "synthetic":
        return synthetic_layout(bbox), []
    if spec.endswith(".csv"):
        path = Path(spec).expanduser()
        if not path.is_file():
            raise DataNotFound(f"Station list {path} does not exist; give a stations_region.csv or 'synthetic'.")
    else:
        try:
            path = dataset_dir(spec) / STATIONS_FILE
        except DataNotFound:
            path = None
        if path is None or not path.is_file():
            warn = DataWarning(f"{spec}/{STATIONS_FILE}", None, "station list not found; synthetic station layout used")
            return synthetic_layout(bbox), [warn]
    layout = read_station_list(path, bbox)
    if len(layout) == 0:
        warn = DataWarning(str(path), None, "no station inside the simulation bbox; synthetic station layout used")
        return synthetic_layout(bbox), [warn]
    return layout, []


def bilinear(grid_lat: np.ndarray, grid_lon: np.ndarray, lat: np.ndarray, lon: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """Indices (4, point) into the flattened (lat, lon) grid and weights (4, point) for bilinear sampling.

    Points beyond the outermost cell centres take the edge value (clamped), never NaN.
    """
    def axis(g: np.ndarray, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if len(g) == 1:
            return np.zeros(len(x), int), np.zeros(len(x))
        f = np.clip((x - g[0]) / (g[1] - g[0]), 0, len(g) - 1)
        i = np.minimum(np.floor(f).astype(int), len(g) - 2)
        return i, f - i

    j, fy = axis(np.asarray(grid_lat, float), np.asarray(lat, float))
    i, fx = axis(np.asarray(grid_lon, float), np.asarray(lon, float))
    nx = len(grid_lon)
    j1, i1 = np.minimum(j + 1, len(grid_lat) - 1), np.minimum(i + 1, nx - 1)
    idx = np.stack([j * nx + i, j * nx + i1, j1 * nx + i, j1 * nx + i1])
    w = np.stack([(1 - fy) * (1 - fx), (1 - fy) * fx, fy * (1 - fx), fy * fx])
    return idx, w


def sample(field: np.ndarray, idx: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``field`` (time, lat, lon) at the points of :func:`bilinear` → (time, point)."""
    flat = field.reshape(field.shape[0], -1)
    return (flat[:, idx] * w[None]).sum(axis=1)


def missing_mask(rng: np.random.Generator, n_time: int, n_station: int, rate: float,
                 outage_hours: float) -> np.ndarray:
    """Bool (time, station), True = missing, with expected share ``rate``.

    Half the rate comes from isolated random gaps, the rest from multi-hour outages (Poisson starts,
    geometric lengths with mean ``outage_hours``), sized so that the two together give ``rate``.
    """
    mask = np.zeros((n_time, n_station), bool)
    if rate <= 0:
        return mask
    p_gap = rate / 2
    mask |= rng.random((n_time, n_station)) < p_gap
    p_out = 1 - (1 - rate) / (1 - p_gap)  # share the outages must add on top of the gaps
    mean_len = max(outage_hours, 1.0)
    # Outages may overlap: with start rate λ per hour and mean length m, the number covering an
    # hour is ~Poisson(λm), so P(covered) = 1 − exp(−λm) = p_out.
    start_rate = -np.log1p(-p_out) / mean_len
    # Start before the window so an outage can already be running at t=0.
    pre = int(np.ceil(8 * mean_len))
    starts = rng.random((n_time + pre, n_station)) < start_rate
    t0, st = np.nonzero(starts)
    lengths = rng.geometric(1 / mean_len, len(t0))
    for a, s, ln in zip(t0 - pre, st, lengths, strict=True):
        mask[max(a, 0):max(a + ln, 0), s] = True
    return mask


def cloud_mask(rng: np.random.Generator, shape: tuple[int, int, int], fraction: float, scale_cells: float,
               hours_corr: float = 3.0) -> np.ndarray:
    """Bool (time, lat, lon), True = cloudy: thresholded smooth Gaussian field (space and time).

    The cloud cover varies from day to day around ``fraction`` (± ~0.2); blobs have a correlation
    length of ``scale_cells`` cells and persist for ~``hours_corr`` hours.
    """
    if fraction <= 0:
        return np.zeros(shape, bool)
    if fraction >= 1:
        return np.ones(shape, bool)
    z = gaussian_filter(rng.standard_normal(shape), sigma=(hours_corr, scale_cells, scale_cells), mode="reflect")
    z /= z.std()
    n_days = int(np.ceil(shape[0] / 24))
    daily = np.clip(fraction + 0.2 * rng.standard_normal(n_days), 0.02, 0.98)
    thresh = ndtri(1 - np.repeat(daily, 24)[: shape[0]])
    return z > thresh[:, None, None]


def smooth_field(rng: np.random.Generator, shape: tuple[int, int, int], scale_cells: float,
                 hours_corr: float) -> np.ndarray:
    """Unit-variance smooth Gaussian random field (time, lat, lon)."""
    z = gaussian_filter(rng.standard_normal(shape), sigma=(hours_corr, scale_cells, scale_cells), mode="reflect",
                        truncate=3.0)
    return z / z.std()
