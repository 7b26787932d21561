"""UCI "Beijing Multi-Site Air-Quality Data" (12 sites, hourly, 2013-03 … 2017-02) → StationSet.

Layout: ``PRSA_Data_<Site>_<start>-<end>.csv`` (one site per file; columns ``No, year, month,
day, hour, PM2.5, PM10, SO2, NO2, CO, O3, TEMP, PRES, DEWP, RAIN, wd, WSPM, station``; missing
= ``NA``) plus ``station_coords.csv`` (``station, cnemc_code, name_zh, city, lon, lat``), because
the UCI files carry no coordinates. Station ids are the CNEMC codes (1001A–1012A).

Units: pollutants µg/m³ as published, except **CO**: UCI documents CO in µg/m³ (values
~100–10,000) while the StationSet contract uses mg/m³, so CO is divided by 1000.
Wind: 16-point compass direction ``wd`` (where it blows from) + speed ``WSPM`` → (u, v) via
:func:`core.geo.wind_to_uv`; speed 0 is calm (u = v = 0 whatever the direction says), a missing
direction with non-zero speed gives NaN u/v. Time is Beijing local time as published.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from core.contracts.stationset import BTH_CITIES, make_stationset
from core.data.base import register_source
from core.data.cache import cached_load
from core.data.textio import (
    WarningLog,
    column,
    columns,
    drop_duplicate_hours,
    merge_station_frames,
    read_rows,
    require_columns,
    to_float,
)
from core.errors import CorruptFile, DataNotFound, UnusableData
from core.geo import wind_to_uv

SOURCE = "uci_beijing_multisite"
FILE_GLOB = "PRSA_Data_*.csv"
COORDS_FILE = "station_coords.csv"
NA_TOKENS = ("", "NA", "NaN", "nan")
# 16-point compass, degrees clockwise from north (the direction the wind blows from)
COMPASS = {d: 22.5 * i for i, d in enumerate(
    "N NNE NE ENE E ESE SE SSE S SSW SW WSW W WNW NW NNW".split())}
# UCI column -> (StationSet variable, factor to contract units)
VARIABLES = {
    "PM2.5": ("pm25", 1.0), "PM10": ("pm10", 1.0), "SO2": ("so2", 1.0), "NO2": ("no2", 1.0),
    "O3": ("o3", 1.0), "CO": ("co", 1e-3), "TEMP": ("t2m", 1.0), "DEWP": ("td2m", 1.0),
}
TIME_COLUMNS = ("year", "month", "day", "hour")
ATTRS = {
    "source": SOURCE,
    "citation": ("Zhang, S., Guo, B., Dong, A., He, J., Xu, Z., Chen, S.X. (2017) Cautionary tales on "
                 "air-quality improvement in Beijing. Proc. R. Soc. A 473: 20170457. "
                 "Data: UCI Machine Learning Repository #501."),
    "license": "CC BY 4.0 (as listed by UCI)",
    "co_units_note": "UCI publishes CO in ug m-3; converted to mg m-3 (divided by 1000).",
    "wind_note": "u10/v10 from 16-point compass wd + WSPM (nearest CMA station); WSPM 0 = calm (u=v=0).",
}
_SITE_RE = re.compile(r"^PRSA_Data_(?P<site>.+?)_\d{8}-\d{8}\.csv$")


def detect(path: Path) -> bool:
    """A folder with at least one ``PRSA_Data_*.csv`` file is in the UCI layout."""
    return Path(path).is_dir() and any(Path(path).glob(FILE_GLOB))


@register_source("uci", detect)
def load_uci(path: Path) -> xr.Dataset:
    """Load a UCI Beijing multi-site folder as a StationSet (cached by input sha256)."""
    path = Path(path)
    files = sorted(path.glob(FILE_GLOB))
    if not files:
        raise UnusableData(f"{path}: no {FILE_GLOB} files; this is not a UCI Beijing multi-site folder.")
    coords = path / COORDS_FILE
    if not coords.is_file():
        raise DataNotFound(
            f"{coords} is missing. The UCI files carry no coordinates: add {COORDS_FILE} with columns "
            "station,cnemc_code,name_zh,city,lon,lat (one row per site, e.g. Dongsi,1003A,东四,北京,116.434,39.9522)."
        )
    return cached_load("uci", path, [*files, coords], lambda: _parse(path, files, coords))


def _site_of(file: Path) -> str:
    m = _SITE_RE.match(file.name)
    return m.group("site") if m else file.stem.removeprefix("PRSA_Data_")


def _read_coords(coords: Path, log: WarningLog) -> dict[str, dict[str, object]]:
    header, rows, lines = read_rows(coords, log)
    idx = require_columns(coords, header, ("station", "cnemc_code", "lon", "lat"))
    lon = to_float(column(rows, idx["lon"]), path=coords, lines=lines, column_name="lon", log=log)
    lat = to_float(column(rows, idx["lat"]), path=coords, lines=lines, column_name="lat", log=log)
    out: dict[str, dict[str, object]] = {}
    for k, row in enumerate(rows):
        site = row[idx["station"]].strip()
        if site in out:
            log.add(coords, int(lines[k]), f"site {site!r} listed twice; first row kept")
            continue
        out[site] = {
            "code": row[idx["cnemc_code"]].strip() or site,
            "name_zh": row[idx["name_zh"]].strip() if "name_zh" in idx else "",
            "city": row[idx["city"]].strip() if "city" in idx else "",
            "lat": lat[k], "lon": lon[k],
        }
    return out


def _read_site_file(file: Path, site: str, log: WarningLog) -> pd.DataFrame | None:
    """One PRSA file → DataFrame indexed by Beijing time with contract variables (+ u10, v10)."""
    header, rows, lines = read_rows(file, log)
    try:
        idx = require_columns(file, header, (*TIME_COLUMNS, "PM2.5"))
    except CorruptFile as err:  # a wrong file in the folder must not sink the other sites
        log.add(file, 1, f"{err}; file skipped")
        return None
    if not rows:
        log.add(file, None, "no data rows; file skipped")
        return None
    cols = columns(rows, len(header))
    num = {c: to_float(cols[idx[c]], path=file, lines=lines, column_name=c, log=log, missing=NA_TOKENS)
           for c in (*TIME_COLUMNS, *VARIABLES, "WSPM") if c in idx}
    time = pd.to_datetime(
        pd.DataFrame({c: num[c] for c in TIME_COLUMNS}), errors="coerce"
    )
    bad_t = time.isna().to_numpy()
    for i in np.flatnonzero(bad_t):
        log.add(file, int(lines[i]), "invalid date/hour; row skipped", kind="invalid date/hour")
    if "station" in idx:
        names = np.char.strip(cols[idx["station"]].astype(str))
        other = names[(names != site) & (names != "")]
        if other.size:
            log.add(file, None, f"{other.size} rows name a site other than {site!r} (e.g. {other[0]!r}); "
                    "values kept under the file's site")
    df = pd.DataFrame({VARIABLES[c][0]: num[c] * VARIABLES[c][1] for c in VARIABLES if c in num})
    speed = num.get("WSPM", np.full(len(rows), np.nan))
    if "wd" in idx:
        wd = np.char.strip(cols[idx["wd"]].astype(str))
        deg = pd.Series(wd).map(COMPASS).to_numpy(dtype="float64", na_value=np.nan)
        unknown = np.isnan(deg) & ~np.isin(wd, NA_TOKENS)
        for i in np.flatnonzero(unknown):
            log.add(file, int(lines[i]), f"column wd: unknown compass direction {str(wd[i])!r} set to missing",
                    kind="unknown compass direction")
        u, v = wind_to_uv(deg, speed)  # calm → 0, 0
        df["u10"], df["v10"] = u, v
    df.index = pd.DatetimeIndex(time)
    df["_line"] = lines
    return drop_duplicate_hours(df[~bad_t], log, file, "first occurrence kept")


def _parse(path: Path, files: list[Path], coords_file: Path) -> xr.Dataset:
    log = WarningLog(root=path)
    coords = _read_coords(coords_file, log)
    per_site: dict[str, list[pd.DataFrame]] = {}
    for f in files:
        site = _site_of(f)
        df = _read_site_file(f, site, log)
        if df is not None and len(df):
            per_site.setdefault(site, []).append(df)
    if not per_site:
        raise UnusableData(f"{path}: none of the {len(files)} PRSA_Data files has usable rows; "
                           "see the file names in the warnings above or re-download the UCI archive.")
    frames: dict[str, pd.DataFrame] = merge_station_frames(per_site, log, path, "site")
    t0 = min(df.index.min() for df in frames.values())
    t1 = max(df.index.max() for df in frames.values())
    axis = pd.date_range(t0, t1, freq="h")
    sites = sorted(frames, key=lambda s: str(coords.get(s, {}).get("code", s)))
    variables = [v for v in (*(v for v, _ in VARIABLES.values()), "u10", "v10")
                 if any(v in frames[s] for s in sites)]
    data = {v: np.full((len(axis), len(sites)), np.nan, dtype="float32") for v in variables}
    present = np.zeros(len(axis), bool)
    for j, site in enumerate(sites):
        df = frames[site]
        off = ((df.index - t0) // pd.Timedelta(hours=1)).to_numpy()
        ok = (df.index - t0) % pd.Timedelta(hours=1) == pd.Timedelta(0)
        if not ok.all():
            log.add(path, None, f"site {site}: {int((~ok).sum())} rows not on the hour; skipped")
        present[off[ok]] = True
        for v in variables:
            if v in df:
                data[v][off[ok], j] = df[v].to_numpy()[ok]
    codes, names, cities, lats, lons = [], [], [], [], []
    for site in sites:
        c = coords.get(site)
        if c is None:
            log.add(coords_file, None, f"site {site!r} has no row here: no coordinates, station id {site!r}")
            c = {"code": site, "name_zh": "", "city": "", "lat": np.nan, "lon": np.nan}
        codes.append(c["code"])
        names.append(f"{site} / {c['name_zh']}" if c["name_zh"] else site)
        cities.append(c["city"])
        lats.append(c["lat"])
        lons.append(c["lon"])
    if len(set(codes)) != len(codes):
        raise UnusableData(f"{coords_file}: two sites share one cnemc_code ({codes}); fix the coordinates file.")
    return make_stationset(
        axis, codes, lats, lons, data, name=names, city=cities,
        is_bth=[c in BTH_CITIES for c in cities], present=present, attrs=ATTRS, warnings=log.warnings(),
    )
