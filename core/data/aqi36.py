"""AQI-36 (ST-MVL; Yi et al., IJCAI 2016): 36 Beijing PM2.5 stations, hourly, 2014-05 … 2015-04.

Layout: ``pm25_ground.txt`` (truth: ``datetime`` + one column per station, empty = missing),
``pm25_latlng.txt`` (``sensor_id, latitude, longitude``) and ``pm25_missing.txt`` (the same table
with extra values removed). Station ids are the 6-digit BJMEMC sensor ids as strings — the
leading zeros are part of the id (``001001``), not a number.

``pm25`` is the ground truth. The benchmark's evaluation mask (used by BRITS, GRIN, SPIN, PriSTI)
is kept as the bool data variable ``eval_mask`` (time, station): True where the ground file has a
value and the missing file does not (≈11.33 % of cells). A model is given ``pm25.where(~eval_mask)``
and scored on ``eval_mask``. The first timestamp is 01:00 (2014-05-01 01:00 … 2015-04-30 23:00,
8,759 hours, Beijing time).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from core.contracts.stationset import make_stationset
from core.data.base import register_source
from core.data.cache import cached_load
from core.data.textio import WarningLog, columns, read_rows, require_columns, to_float
from core.errors import CorruptFile, DataNotFound, UnusableData

SOURCE = "aqi36_stmvl"
GROUND = "pm25_ground.txt"
MISSING = "pm25_missing.txt"
LATLNG = "pm25_latlng.txt"
TIME_FORMAT = "%Y/%m/%d %H:%M:%S"
ATTRS = {
    "source": SOURCE,
    "citation": ("X. Yi, Y. Zheng, J. Zhang, T. Li. ST-MVL: Filling Missing Values in Geo-sensory Time Series "
                 "Data. IJCAI 2016 (AQI-36 benchmark, as distributed with PriSTI, ICDE 2023)."),
    "license": "not stated (Microsoft Research Urban Computing data release)",
    "eval_mask_note": "eval_mask = value in pm25_ground.txt and empty in pm25_missing.txt (benchmark test cells).",
}


def detect(path: Path) -> bool:
    """A folder holding ``pm25_ground.txt`` is in the AQI-36 layout."""
    return (Path(path) / GROUND).is_file()


@register_source("aqi36", detect)
def load_aqi36(path: Path) -> xr.Dataset:
    """Load an AQI-36 folder as a StationSet with ``eval_mask`` (cached by input sha256)."""
    path = Path(path)
    ground = path / GROUND
    if not ground.is_file():
        raise DataNotFound(f"{ground} not found: an AQI-36 folder needs {GROUND}, {LATLNG} and {MISSING}.")
    latlng = path / LATLNG
    if not latlng.is_file():
        raise DataNotFound(f"{latlng} not found: the station coordinates (sensor_id,latitude,longitude) of "
                           f"the {GROUND} columns. Copy it from the same AQI-36 release.")
    files = [ground, latlng] + ([path / MISSING] if (path / MISSING).is_file() else [])
    return cached_load("aqi36", path, files, lambda: _parse(path))


def _read_table(file: Path, log: WarningLog) -> tuple[pd.DatetimeIndex, list[str], np.ndarray, np.ndarray]:
    """``datetime`` + station columns → (time, station ids, values (time, station), line numbers)."""
    header, rows, lines = read_rows(file, log)
    require_columns(file, header, ("datetime",))
    if header[0] != "datetime":
        raise CorruptFile(f"{file}: first column must be 'datetime', found {header[0]!r}.")
    stations = header[1:]
    if len(set(stations)) != len(stations) or any(not s for s in stations):
        raise CorruptFile(f"{file}: station columns in the header line must be unique and non-empty.")
    cols = columns(rows, len(header))
    time = pd.to_datetime(pd.Series(cols[0], dtype=object), format=TIME_FORMAT, errors="coerce")
    bad_t = time.isna().to_numpy()
    for i in np.flatnonzero(bad_t):
        log.add(file, int(lines[i]), f"unparseable datetime {str(cols[0][i])!r}; row skipped",
                kind="unparseable datetime")
    values = np.column_stack(
        [to_float(c, path=file, lines=lines, column_name=s, log=log) for s, c in zip(stations, cols[1:], strict=True)]
    ) if rows else np.empty((0, len(stations)))
    time, values, lines = pd.DatetimeIndex(time[~bad_t]), values[~bad_t], lines[~bad_t]
    dup = time.duplicated(keep="first")
    for ln in lines[dup]:
        log.add(file, int(ln), "duplicated datetime; first occurrence kept", kind="duplicated datetime")
    off_hour = (time.minute != 0) | (time.second != 0)
    for ln in lines[off_hour & ~dup]:
        log.add(file, int(ln), "datetime not on the hour; row skipped", kind="datetime not on the hour")
    keep = ~dup & ~off_hour
    return time[keep], stations, values[keep], lines[keep]


def _read_latlng(file: Path, log: WarningLog) -> dict[str, tuple[float, float]]:
    header, rows, lines = read_rows(file, log)
    idx = require_columns(file, header, ("sensor_id", "latitude", "longitude"))
    cols = columns(rows, len(header))
    lat = to_float(cols[idx["latitude"]], path=file, lines=lines, column_name="latitude", log=log)
    lon = to_float(cols[idx["longitude"]], path=file, lines=lines, column_name="longitude", log=log)
    out: dict[str, tuple[float, float]] = {}
    for k, sid in enumerate(cols[idx["sensor_id"]]):
        sid = str(sid).strip()  # kept as text: '001001' is not the number 1001
        if sid in out:
            log.add(file, int(lines[k]), f"sensor {sid} listed twice; first row kept")
        elif not (-90 <= lat[k] <= 90 and -180 <= lon[k] <= 180):
            log.add(file, int(lines[k]), f"sensor {sid}: coordinates out of range; position unknown")
            out[sid] = (np.nan, np.nan)
        else:
            out[sid] = (lat[k], lon[k])
    return out


def _parse(path: Path) -> xr.Dataset:
    log = WarningLog(root=path)
    ground = path / GROUND
    time, stations, truth, _ = _read_table(ground, log)
    if len(time) == 0:
        raise UnusableData(f"{ground}: no rows with a valid datetime; re-download the AQI-36 files.")
    order = np.argsort(time.values, kind="stable")
    time, truth = time[order], truth[order]
    axis = pd.date_range(time[0], time[-1], freq="h")
    pos = axis.get_indexer(time)
    pm25 = np.full((len(axis), len(stations)), np.nan)
    pm25[pos] = truth
    present = np.zeros(len(axis), bool)
    present[pos] = True
    if not present.all():
        log.add(ground, None, f"{int((~present).sum())} hours between {axis[0]} and {axis[-1]} have no row")

    coords = _read_latlng(path / LATLNG, log)
    for sid in stations:
        if sid not in coords:
            log.add(path / LATLNG, None, f"station {sid} of {GROUND} has no coordinates here; position unknown")
    extra = sorted(set(coords) - set(stations))
    if extra:
        log.add(path / LATLNG, None, f"{len(extra)} sensors not in {GROUND} ignored: {', '.join(extra[:5])}")
    lat = [coords.get(s, (np.nan, np.nan))[0] for s in stations]
    lon = [coords.get(s, (np.nan, np.nan))[1] for s in stations]

    mask = _eval_mask(path / MISSING, axis, stations, pm25, log)
    ds = make_stationset(
        axis, stations, lat, lon, {"pm25": pm25}, name=stations, city=["北京"] * len(stations),
        is_bth=[True] * len(stations), present=present, attrs=ATTRS, warnings=log.warnings(),
    )
    if mask is not None:  # bool, so it is added after make_stationset (which stores float32)
        ds["eval_mask"] = (("time", "station"), mask, {"long_name": "AQI-36 evaluation cells"})
    return ds


def _eval_mask(file: Path, axis: pd.DatetimeIndex, stations: list[str], pm25: np.ndarray,
               log: WarningLog) -> np.ndarray | None:
    """True where ground has a value and ``pm25_missing.txt`` does not; None without the file."""
    if not file.is_file():
        log.add(file, None, f"{MISSING} not found: no evaluation mask (eval_mask omitted)")
        return None
    time, m_stations, values, _ = _read_table(file, log)
    pos = axis.get_indexer(time)
    col = {s: j for j, s in enumerate(stations)}
    observed = np.zeros(pm25.shape, bool)  # value present in the missing file
    rows_ok = pos >= 0
    if (~rows_ok).any():
        log.add(file, None, f"{int((~rows_ok).sum())} rows with datetimes absent from {GROUND} ignored")
    unknown = [s for s in m_stations if s not in col]
    if unknown:
        log.add(file, None, f"station columns not in {GROUND} ignored: {', '.join(unknown[:5])}")
    for j, s in enumerate(m_stations):
        if s in col:
            observed[pos[rows_ok], col[s]] = np.isfinite(values[rows_ok, j])
    covered = np.zeros(len(axis), bool)
    covered[pos[rows_ok]] = True
    if (~covered & np.isfinite(pm25).any(axis=1)).any():
        log.add(file, None, f"{int((~covered).sum())} hours of {GROUND} have no row here; not evaluation cells")
    gt = np.isfinite(pm25)
    extra = observed & ~gt
    if extra.any():
        log.add(file, None, f"{int(extra.sum())} cells have a value here but not in {GROUND}; ignored")
    return gt & ~observed & covered[:, None]
