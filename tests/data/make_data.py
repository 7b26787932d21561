"""Tiny data folders for tests, written into a pytest ``tmp_path``.

:func:`make_cnemc_folder` writes a CNEMC daily-archive folder (``hourly/china_sites_YYYYMMDD.csv[.gz]``
+ ``stations_region.csv``) with a few stations and days, and switches that inject each defect the
real archive has. It returns the truth it wrote (PM2.5 per hour and station) and, for every injected
defect, the file name and line where it sits, so tests can check the loader's warnings precisely.

PM2.5 written for station index ``s`` at hour index ``t`` (from the first day) is
``pm25_value(t, s) = 10 + 7*s + (t % 24)`` µg/m³: unique enough to detect misplaced values.
"""

from __future__ import annotations

import datetime as dt
import gzip
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from core.contracts.stationset import BTH_CITIES

TYPES = ("AQI", "PM2.5", "PM2.5_24h", "PM10", "PM10_24h", "SO2", "NO2", "O3", "O3_8h", "CO")
# code, name, city, lon, lat (real-looking places: three in BTH, one outside)
STATIONS = (
    ("1001A", "万寿西宫", "北京", 116.366, 39.8673),
    ("1015A", "市监测中心", "天津", 117.151, 39.097),
    ("1029A", "职工医院", "石家庄", 114.462, 38.067),
    ("1081A", "尖草坪", "太原", 112.487, 37.939),
)


def pm25_value(t: int, s: int) -> float:
    """PM2.5 (µg/m³) the fixture writes for hour index ``t`` and station index ``s``."""
    return float(10 + 7 * s + (t % 24))


def _other_value(typ: str, t: int, s: int) -> str:
    base = {"AQI": 30, "PM10": 40, "SO2": 5, "NO2": 20, "O3": 50}.get(typ.split("_")[0], 1)
    if typ == "CO":
        return f"{0.3 + 0.1 * s:.1f}"
    return str(base + s + t % 24)


@dataclass
class CnemcFixture:
    """A written CNEMC folder and what the tests need to know about it."""

    path: Path
    days: list[dt.date]
    codes: list[str]  # station columns written (union)
    pm25: pd.DataFrame  # truth: index = hourly time (every hour of every written day), columns = codes; NaN = empty
    files: dict[dt.date, Path] = field(default_factory=dict)
    where: dict[str, tuple[str, int | None]] = field(default_factory=dict)  # defect → (file name, line)


def make_cnemc_folder(
    root: Path,
    *,
    start: str = "2020-03-01",
    n_days: int = 3,
    stations: tuple = STATIONS,
    extra_codes: tuple[str, ...] = (),
    gz: bool = True,
    missing_day: int | None = None,
    partial_day: tuple[int, tuple[int, ...]] | None = None,
    duplicate_hour: tuple[int, int] | None = None,
    empty_cells: tuple[tuple[int, int, str], ...] = (),
    ragged_last_row: int | None = None,
    non_numeric: tuple[int, int, str, str] | None = None,
    negative: tuple[int, int, str] | None = None,
    date_mismatch: int | None = None,
    dead_stations: tuple[str, ...] = (),
    spike: tuple[int, int, str, float] | None = None,
    corrupt_gzip: int | None = None,
    bad_header: int | None = None,
    station_list: bool = True,
    with_is_bth: bool = True,
    drop_station_from_day: tuple[int, str] | None = None,
    no_coords: tuple[str, ...] = (),
) -> CnemcFixture:
    """Write a CNEMC folder under ``root`` and return what was written.

    Day/hour arguments are indices: ``day`` counts from ``start`` (0-based), ``hour`` is 0–23.

    - ``extra_codes``: additional station columns with data (no row in the stations list unless listed
      in ``stations``) — e.g. codes without coordinates.
    - ``missing_day``: that day's file is not written.
    - ``partial_day=(day, hours)``: only those hours are written that day.
    - ``duplicate_hour=(day, hour)``: that hour's block of rows is written twice, the copy with PM2.5 + 1000
      (the loader must keep the first).
    - ``empty_cells``: ``(day, hour, code)`` PM2.5 cells left empty.
    - ``ragged_last_row=day``: the file's last row is cut in the middle (fewer fields than the header).
    - ``non_numeric=(day, hour, code, text)`` / ``negative=(day, hour, code)``: one bad PM2.5 cell.
    - ``date_mismatch=day``: that file's rows carry the date of the day *after the last day*
      (the file name says otherwise).
    - ``dead_stations``: columns present in every file but always empty.
    - ``spike=(day, hour, code, value)``: one PM2.5 value replaced (e.g. 1500 for fireworks).
    - ``corrupt_gzip=day``: that file is garbage bytes with a ``.gz`` name.
    - ``bad_header=day``: that file's header lacks ``date,hour,type``.
    - ``station_list=False``: no stations_region.csv; ``with_is_bth=False``: the list has no is_BTH column.
    - ``drop_station_from_day=(day, code)``: that station's column is absent from that day's file.
    - ``no_coords``: listed stations whose lat/lon cells are empty.
    """
    folder = Path(root)
    hourly = folder / "hourly"
    hourly.mkdir(parents=True, exist_ok=True)
    listed = [s[0] for s in stations]
    codes = listed + [c for c in extra_codes if c not in listed] + [c for c in dead_stations if c not in listed]
    day0 = dt.date.fromisoformat(start)
    days = [day0 + dt.timedelta(days=i) for i in range(n_days)]
    times = pd.date_range(pd.Timestamp(day0), periods=24 * n_days, freq="h")
    truth = pd.DataFrame(np.nan, index=times, columns=codes)
    fx = CnemcFixture(path=folder, days=days, codes=codes, pm25=truth)

    for di, day in enumerate(days):
        name = f"china_sites_{day:%Y%m%d}.csv" + (".gz" if gz else "")
        path = hourly / name
        if di == missing_day:
            fx.where["missing_day"] = (f"china_sites_{day:%Y%m%d}", None)
            continue
        day_codes = [c for c in codes if drop_station_from_day != (di, c)]
        if bad_header == di:
            header = ["datum", "stunde", "typ"] + day_codes
            fx.where["bad_header"] = (name, 1)
        else:
            header = ["date", "hour", "type"] + day_codes
        row_date = (days[-1] + dt.timedelta(days=1)) if date_mismatch == di else day
        hours = list(partial_day[1]) if partial_day and partial_day[0] == di else list(range(24))
        if partial_day and partial_day[0] == di:
            fx.where["partial_day"] = (name, None)
        lines = [",".join(header)]
        blocks = [(h, False) for h in hours]
        if duplicate_hour and duplicate_hour[0] == di:
            blocks.insert(hours.index(duplicate_hour[1]) + 1, (duplicate_hour[1], True))
        for h, is_copy in blocks:
            t = di * 24 + h
            for typ in TYPES:
                cells = []
                for c in day_codes:
                    s = codes.index(c)
                    if c in dead_stations:
                        cells.append("")
                    elif typ == "PM2.5":
                        v = pm25_value(t, s) + (1000 if is_copy else 0)
                        text = f"{v:g}"
                        if (di, h, c) in empty_cells:
                            text = ""
                        if non_numeric and non_numeric[:3] == (di, h, c):
                            text = non_numeric[3]
                            fx.where["non_numeric"] = (name, len(lines) + 1)
                        if negative and negative == (di, h, c):
                            text = "-5"
                            fx.where["negative"] = (name, len(lines) + 1)
                        if spike and spike[:3] == (di, h, c):
                            text = f"{spike[3]:g}"
                            fx.where["spike"] = (name, len(lines) + 1)
                        if is_copy:
                            fx.where.setdefault("duplicate_hour", (name, len(lines) + 1))
                        cells.append(text)
                        if not is_copy and text == f"{v:g}" and date_mismatch != di:
                            truth.iloc[t, s] = v
                        elif spike and spike[:3] == (di, h, c) and not is_copy:
                            truth.iloc[t, s] = spike[3]
                    else:
                        cells.append(_other_value(typ, t, s))
                lines.append(",".join([f"{row_date:%Y%m%d}", str(h), typ] + cells))
        if ragged_last_row == di:
            cut = lines[-1].split(",")
            lines[-1] = ",".join(cut[: len(cut) // 2])
            fx.where["ragged_last_row"] = (name, len(lines))
        if date_mismatch == di:
            fx.where["date_mismatch"] = (name, 2)
        text = "\n".join(lines) + "\n"
        if corrupt_gzip == di:
            path.write_bytes(b"\x1f\x8b\x08\x00not really gzip" + bytes(range(64)))
            fx.where["corrupt_gzip"] = (name, None)
        elif gz:
            path.write_bytes(gzip.compress(text.encode()))
        else:
            path.write_text(text, encoding="utf-8")
        fx.files[day] = path

    if station_list:
        head = "code,name,city,lon,lat,coord_source_list" + (",is_BTH" if with_is_bth else "")
        rows = [head]
        for code, nm, city, lon, lat in stations:
            bth = city in BTH_CITIES
            lon_s, lat_s = ("", "") if code in no_coords else (f"{lon}", f"{lat}")
            rows.append(f"{code},{nm},{city},{lon_s},{lat_s},2018.11.08" + (f",{bth}" if with_is_bth else ""))
        for code in dead_stations:
            rows.append(f"{code},停用站,北京,116.4,39.9,2018.11.08" + (",True" if with_is_bth else ""))
        (folder / "stations_region.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return fx
