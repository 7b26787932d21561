"""NOAA ISD-Lite station observations (wind, temperature, dew point) → StationSet.

Layout: ``isd_lite/<USAF>-<WBAN>-<YYYY>`` (optionally ``.gz``; one station-year per file, no header)
plus ``stations.csv`` (``usaf, wban, name, lat, lon``; more columns are ignored).

ISD-Lite record (fixed width ``4,3,3,3,6,6,6,6,6,6,6,6``; every field is separated by at least one
blank, so the line is split on whitespace): ``year month day hour`` (**UTC**), air temperature
°C×10, dew point °C×10, sea-level pressure hPa×10, wind direction (degrees the wind blows *from*,
clockwise from true north; 0 = calm), wind speed m/s×10, sky cover, precipitation 1 h and 6 h mm×10.
Missing = ``-9999``.

Conversions: times UTC → Beijing time (UTC+8); ×10 fields scaled back; wind (direction, speed) →
(u10, v10) via :func:`core.geo.wind_to_uv`: speed 0 is calm (u = v = 0); a missing direction
(``-9999``) with a valid speed means "variable/unreported" → NaN u, v; direction 0 with a non-zero
speed is contradictory (0 codes calm) → NaN with a warning. Synoptic stations report every 3 h and
airports hourly: all go onto one hourly axis with NaN between reports.

ISD has no PM2.5: ``pm25`` is present (the contract requires it) and all-NaN, so ``summary()``
reports 0 active stations; ``wind`` is "measured". For wind at arbitrary places use
:class:`core.data.isd_wind.IsdWind`.
"""

from __future__ import annotations

import gzip
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
    columns,
    drop_duplicate_hours,
    merge_station_frames,
    read_rows,
    require_columns,
    to_float,
)
from core.errors import CorruptFile, DataNotFound, UnusableData
from core.geo import wind_to_uv

SOURCE = "isd_lite"
DATA_DIR = "isd_lite"
STATIONS_FILE = "stations.csv"
MISSING = -9999
N_FIELDS = 12
UTC_OFFSET = pd.Timedelta(hours=8)  # Beijing time = UTC+8, no daylight saving
FILE_RE = re.compile(r"^(?P<usaf>[0-9A-Z]{6})-(?P<wban>\d{5})-(?P<year>\d{4})(?:\.gz)?$")
# plausible physical ranges (after scaling); values outside are instrument/coding errors
RANGES = {"t2m": (-80.0, 60.0), "td2m": (-90.0, 45.0), "ws": (0.0, 90.0)}
# ISD stations inside Beijing–Tianjin–Hebei (USAF → prefecture city); every other station: city "".
BTH_ISD = {
    "545110": "北京",                     # Beijing Capital International Airport
    "545270": "天津", "545273": "天津",    # Tianjin, Tianjin Binhai
    "536980": "石家庄", "470312": "石家庄",  # Shijiazhuang, Zhengding airport
    "537980": "邢台", "546020": "保定", "546180": "沧州",  # Xingtai, Baoding, Botou
    "544010": "张家口", "544050": "张家口", "535930": "张家口",  # Zhangjiakou, Huailai, Yu Xian (Weixian)
    "544230": "承德", "543080": "承德", "543110": "承德",  # Chengde, Fengning, Weichang
    "545340": "唐山", "545390": "唐山",    # Tangshan, Leting
    "544360": "秦皇岛",                    # Qinglong
}
ATTRS = {
    "source": SOURCE,
    "citation": "NOAA National Centers for Environmental Information, Integrated Surface Database (ISD), ISD-Lite.",
    "license": "NOAA NCEI data; redistribution terms of the re-packaged files not stated",
    "time_note": "ISD-Lite times are UTC; converted to Beijing time (UTC+8).",
    "wind_note": ("u10/v10 from ISD-Lite direction/speed; speed 0 = calm (u=v=0); missing direction with "
                  "valid speed = NaN. Synoptic stations report 3-hourly: NaN between reports."),
    "pm25_note": "ISD has no PM2.5; pm25 is all-NaN (the StationSet contract requires the variable).",
}


def detect(path: Path) -> bool:
    """A folder with an ``isd_lite/`` sub-folder is in the ISD-Lite layout."""
    return (Path(path) / DATA_DIR).is_dir()


def _data_files(path: Path) -> list[Path]:
    return sorted(p for p in (path / DATA_DIR).iterdir() if p.is_file() and not p.name.startswith("."))


@register_source("isd", detect)
def load_isd(path: Path) -> xr.Dataset:
    """Load an ISD-Lite folder as a StationSet of u10, v10, t2m, td2m (cached by input sha256)."""
    path = Path(path)
    if not (path / DATA_DIR).is_dir():
        raise DataNotFound(f"{path / DATA_DIR} not found: an ISD-Lite folder holds {DATA_DIR}/<USAF>-<WBAN>-<YYYY> "
                           f"files and {STATIONS_FILE}.")
    files = _data_files(path)
    if not files:
        raise UnusableData(f"{path / DATA_DIR} is empty: download ISD-Lite station-year files "
                           "(https://www.ncei.noaa.gov/pub/data/noaa/isd-lite/<YYYY>/) into it.")
    stations = path / STATIONS_FILE
    if not stations.is_file():
        raise DataNotFound(f"{stations} not found: it gives each station's coordinates "
                           "(columns usaf,wban,name,lat,lon; e.g. from NOAA isd-history.csv).")
    return cached_load("isd", path, [*files, stations], lambda: _parse(path, files, stations))


def _read_stations(file: Path, log: WarningLog) -> dict[str, dict[str, object]]:
    header, rows, lines = read_rows(file, log)
    idx = require_columns(file, header, ("usaf", "wban", "lat", "lon"))
    cols = columns(rows, len(header))
    lat = to_float(cols[idx["lat"]], path=file, lines=lines, column_name="lat", log=log)
    lon = to_float(cols[idx["lon"]], path=file, lines=lines, column_name="lon", log=log)
    out: dict[str, dict[str, object]] = {}
    for k in range(len(rows)):
        usaf = str(cols[idx["usaf"]][k]).strip()
        sid = f"{usaf}-{str(cols[idx['wban']][k]).strip()}"
        if sid in out:
            log.add(file, int(lines[k]), f"station {sid} listed twice; first row kept")
            continue
        name = str(cols[idx["name"]][k]).strip() if "name" in idx else sid
        out[sid] = {"usaf": usaf, "name": name or sid, "lat": lat[k], "lon": lon[k]}
    return out


def _read_records(file: Path, log: WarningLog) -> np.ndarray:
    """One ISD-Lite file → int64 array ``(n, 12)`` of raw fields; bad lines skipped with a warning."""
    opener = gzip.open if file.suffix == ".gz" else open
    try:
        with opener(file, "rt", encoding="ascii") as fh:
            text = fh.read()
    except (UnicodeDecodeError, OSError, EOFError) as err:
        raise CorruptFile(f"{file}: not an ISD-Lite text file ({err}); re-download it.") from None
    recs: list[list[int]] = []
    for n, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if not tokens:
            continue
        if len(tokens) != N_FIELDS:
            log.add(file, n, f"{len(tokens)} fields instead of {N_FIELDS}; line skipped",
                    kind="line with wrong number of fields skipped")
            continue
        try:
            recs.append([int(t) for t in tokens] + [n])
        except ValueError:
            log.add(file, n, f"non-integer field in {line.strip()!r}; line skipped", kind="non-integer field")
    return np.asarray(recs, dtype=np.int64).reshape(-1, N_FIELDS + 1)


def _scaled(raw: np.ndarray, scale: float, var: str | None, file: Path, lines: np.ndarray,
            log: WarningLog) -> np.ndarray:
    """-9999 → NaN, ÷scale, out-of-range values → NaN with a warning."""
    out = np.where(raw == MISSING, np.nan, raw / scale)
    if var in RANGES:
        lo, hi = RANGES[var]
        bad = np.isfinite(out) & ((out < lo) | (out > hi))
        for i in np.flatnonzero(bad):
            log.add(file, int(lines[i]), f"{var} {out[i]:g} outside [{lo:g}, {hi:g}]; set to missing",
                    kind=f"{var} out of range")
        out[bad] = np.nan
    return out


def _station_frame(file: Path, log: WarningLog) -> pd.DataFrame:
    """Records of one file as a DataFrame indexed by Beijing time (u10, v10, t2m, td2m)."""
    rec = _read_records(file, log)
    lines = rec[:, -1]
    utc = pd.to_datetime(
        pd.DataFrame({"year": rec[:, 0], "month": rec[:, 1], "day": rec[:, 2], "hour": rec[:, 3]}),
        errors="coerce",
    )
    bad_t = utc.isna().to_numpy()
    for i in np.flatnonzero(bad_t):
        log.add(file, int(lines[i]), "invalid date/hour; line skipped", kind="invalid date/hour")
    t2m = _scaled(rec[:, 4], 10.0, "t2m", file, lines, log)
    td2m = _scaled(rec[:, 5], 10.0, "td2m", file, lines, log)
    ws = _scaled(rec[:, 8], 10.0, "ws", file, lines, log)
    wd = rec[:, 7].astype("float64")
    bad_wd = (wd != MISSING) & ((wd < 0) | (wd > 360))
    for i in np.flatnonzero(bad_wd):
        log.add(file, int(lines[i]), f"wind direction {int(wd[i])} outside 0–360; set to missing",
                kind="wind direction out of range")
    contradictory = (wd == 0) & (ws > 0)
    for i in np.flatnonzero(contradictory):
        log.add(file, int(lines[i]), f"wind direction 0 (calm) with speed {ws[i]:g} m/s; wind set to missing",
                kind="calm direction with non-zero speed")
    wd[(wd == MISSING) | bad_wd | contradictory] = np.nan
    u, v = wind_to_uv(wd, ws)   # NaN direction → NaN u, v; calm → 0, 0
    df = pd.DataFrame({"u10": u, "v10": v, "t2m": t2m, "td2m": td2m, "_line": lines},
                      index=pd.DatetimeIndex(utc) + UTC_OFFSET)
    return drop_duplicate_hours(df[~bad_t], log, file)


def _parse(path: Path, files: list[Path], stations_file: Path) -> xr.Dataset:
    log = WarningLog(root=path)
    meta = _read_stations(stations_file, log)
    frames: dict[str, list[pd.DataFrame]] = {}
    for f in files:
        m = FILE_RE.match(f.name)
        if not m:
            log.add(f, None, "file name is not <USAF>-<WBAN>-<YYYY>; file skipped")
            continue
        df = _station_frame(f, log)
        if df.empty:
            log.add(f, None, "no usable records; station has no data")
        frames.setdefault(f"{m['usaf']}-{m['wban']}", []).append(df)
    merged: dict[str, pd.DataFrame] = merge_station_frames(frames, log, path, "station")
    nonempty = [df for df in merged.values() if len(df)]
    if not nonempty:
        raise UnusableData(f"{path / DATA_DIR}: no file has a usable ISD-Lite record; "
                           "see the warnings or re-download the files.")
    t0 = min(df.index.min() for df in nonempty)
    t1 = max(df.index.max() for df in nonempty)
    axis = pd.date_range(t0, t1, freq="h")
    sids = sorted(merged)
    data = {v: np.full((len(axis), len(sids)), np.nan) for v in ("u10", "v10", "t2m", "td2m")}
    present = np.zeros(len(axis), bool)
    for j, sid in enumerate(sids):
        df = merged[sid]
        pos = axis.get_indexer(df.index)  # every ISD-Lite time is on the hour
        present[pos] = True
        for v in data:
            data[v][pos, j] = df[v].to_numpy()
    data["pm25"] = np.full((len(axis), len(sids)), np.nan)
    lat, lon, names, cities = [], [], [], []
    for sid in sids:
        m = meta.get(sid)
        if m is None:
            log.add(stations_file, None, f"station {sid} has a data file but no row here; position unknown")
            m = {"usaf": sid.split("-")[0], "name": sid, "lat": np.nan, "lon": np.nan}
        lat.append(m["lat"])
        lon.append(m["lon"])
        names.append(m["name"])
        cities.append(BTH_ISD.get(str(m["usaf"]), ""))
    return make_stationset(
        axis, sids, lat, lon, data, name=names, city=cities, is_bth=[c in BTH_CITIES for c in cities],
        present=present, attrs=ATTRS, warnings=log.warnings(),
    )
