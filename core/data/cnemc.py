"""CNEMC daily-archive folder → StationSet.

Layout (any period, any station set)::

    <folder>/hourly/china_sites_YYYYMMDD.csv[.gz]   rows: date,hour,type,<station code>...
    <folder>/stations_region.csv                    code,name,city,lon,lat[,is_BTH,...]

One row per (hour, species); ``type`` is AQI, PM2.5, PM10, SO2, NO2, O3, CO or a derived
rolling mean (``*_24h``, ``O3_8h``) which is ignored. Values: µg/m³ (CO: mg/m³); an empty
cell is missing. Hour ``h`` is Beijing time (the CNEMC value at h is the mean of the hour
before).

The loader survives the archive's known defects and records each as a
:class:`~core.contracts.stationset.DataWarning` naming file and line: missing days, days with
1–23 hours, duplicated hours (first kept), ragged/truncated rows (dropped), non-numeric or
negative cells (→ NaN), values above a physical ceiling (``qc.PHYSICAL_MAX``, e.g. 2,000
µg/m³ PM2.5 → NaN), a date inside a file that disagrees with its name (the row's own date
is used unless the file of that date has the same hour: then the row dated like its file
wins), days whose PM2.5 is entirely empty, stations that never report PM2.5, a station
listed twice (first entry used; the warning says whether the coordinates differ), codes
without coordinates (kept, NaN lat/lon), PM2.5 values > 1000 µg/m³ (kept, flagged in
``qc_pm25``), and an empty or corrupt file among many (skipped). A folder with nothing
usable raises a :class:`~core.errors.AirAtlasError`.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from core.contracts.stationset import BTH_CITIES, DataWarning, make_stationset
from core.data.base import register_source
from core.data.cache import cached_load
from core.data.qc import PHYSICAL_MAX, RANGE_MAX, qc_pm25
from core.errors import CorruptFile, DataNotFound, UnusableData

SOURCE = "cnemc"
LOADER_VERSION = "3"  # part of the cache key: bump when the parsed output changes for the same files
HOURLY = "hourly"
STATIONS_FILE = "stations_region.csv"
FILE_RE = re.compile(r"^china_sites_(\d{8})\.csv(\.gz)?$")
# CNEMC row type → StationSet variable.
SPECIES = {"PM2.5": "pm25", "PM10": "pm10", "SO2": "so2", "NO2": "no2", "O3": "o3", "CO": "co"}
IGNORED_TYPE_RE = re.compile(r"^(AQI|.*_24h|O3_8h)$")
CITATION = "CNEMC real-time national air quality release, archived daily by quotsoft.net"
LICENSE = "none stated (public government monitoring data; no explicit license)"
ONE_DAY = dt.timedelta(days=1)
# Headers of the raw CNEMC station lists (站点列表) → our column names.
STATION_COLUMN_ALIASES = {"监测点编码": "code", "监测点名称": "name", "城市": "city", "经度": "lon", "纬度": "lat"}
MAX_LISTED = 20  # codes/lines listed in one warning before "..."


def _fmt_list(items: list, limit: int = MAX_LISTED) -> str:
    shown = ", ".join(str(i) for i in items[:limit])
    return shown + (f", ... (+{len(items) - limit} more)" if len(items) > limit else "")


def hourly_files(folder: Path) -> list[Path]:
    """Every ``hourly/china_sites_*.csv[.gz]`` file in ``folder`` (sorted by name)."""
    d = Path(folder) / HOURLY
    if not d.is_dir():
        return []
    return sorted(p for p in d.iterdir() if p.is_file() and p.name.startswith("china_sites_")
                  and (p.name.endswith(".csv") or p.name.endswith(".csv.gz")))


def detect(folder: Path) -> bool:
    """A CNEMC folder has ``hourly/china_sites_*.csv[.gz]`` or a ``stations_region.csv``."""
    folder = Path(folder)
    return bool(hourly_files(folder)) or (folder / STATIONS_FILE).is_file()


# --------------------------------------------------------------------------- stations list


@dataclass
class StationInfo:
    """One row of ``stations_region.csv``."""

    lat: float
    lon: float
    name: str
    city: str
    is_bth: bool


def _parse_bool(s: str) -> bool | None:
    v = s.strip().lower()
    if v in ("true", "1", "yes", "y", "t"):
        return True
    if v in ("false", "0", "no", "n", "f"):
        return False
    return None


def _is_bth_city(city: str) -> bool:
    c = city.strip()
    return c in BTH_CITIES or c.removesuffix("市") in BTH_CITIES


def read_stations(path: Path, warnings: list[DataWarning]) -> dict[str, StationInfo]:
    """Parse ``stations_region.csv`` → ``{code: StationInfo}``; bad coordinates become NaN with a warning."""
    fname = path.name
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise CorruptFile(f"{path}: not UTF-8 text ({err}). Save the stations list as UTF-8 CSV.") from None
    # newline=None: a stray bare CR (a cell edited on another system) is a line break, never a csv.Error
    reader = csv.reader(io.StringIO(text, newline=None))
    header = next(reader, None)
    if not header:
        raise CorruptFile(f"{path}: empty file. It needs a header with columns code,name,city,lon,lat[,is_BTH].")
    cols: dict[str, int] = {}
    for i, h in enumerate(header):
        key = STATION_COLUMN_ALIASES.get(h.strip(), h.strip().lower())
        cols.setdefault(key, i)
    missing = [c for c in ("code", "lon", "lat") if c not in cols]
    if missing:
        raise CorruptFile(
            f"{path}:1: header lacks column(s) {', '.join(missing)} (found: {', '.join(header)}). "
            "Expected code,name,city,lon,lat[,is_BTH]."
        )
    i_code, i_lon, i_lat = cols["code"], cols["lon"], cols["lat"]
    i_name, i_city, i_bth = cols.get("name"), cols.get("city"), cols.get("is_bth")
    out: dict[str, StationInfo] = {}
    first_line: dict[str, int] = {}
    for row in reader:
        line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < len(header):
            warnings.append(DataWarning(fname, line, f"row has {len(row)} fields, header has {len(header)}: dropped"))
            continue
        code = row[i_code].strip()
        if not code:
            warnings.append(DataWarning(fname, line, "empty station code: row dropped"))
            continue
        lat, lon = _coord(row[i_lat]), _coord(row[i_lon])
        if code in out:
            first = out[code]
            same = np.allclose([lat, lon], [first.lat, first.lon], rtol=0, atol=1e-6, equal_nan=True)
            what = ("with the same coordinates" if same else
                    f"with different coordinates (lat={row[i_lat].strip()!r} lon={row[i_lon].strip()!r}; "
                    f"first entry at line {first_line[code]}: lat={first.lat:g} lon={first.lon:g})")
            warnings.append(DataWarning(
                fname, line, f"station {code} listed again {what}: the first entry (line {first_line[code]}) "
                "is used" + ("" if same else "; fix the list if it is the wrong one")))
            continue
        first_line[code] = line
        if (row[i_lat].strip() or row[i_lon].strip()) and (
            not np.isfinite(lat) or not np.isfinite(lon) or not (-90 <= lat <= 90) or not (-180 <= lon <= 180)
        ):
            warnings.append(DataWarning(
                fname, line, f"station {code}: invalid coordinates lat={row[i_lat]!r} lon={row[i_lon]!r}; set to NaN"))
            lat = lon = float("nan")
        city = row[i_city].strip() if i_city is not None else ""
        bth = _parse_bool(row[i_bth]) if i_bth is not None else None
        if bth is None:
            if i_bth is not None:
                warnings.append(DataWarning(
                    fname, line, f"station {code}: is_BTH={row[i_bth]!r} not a boolean; derived from city"))
            bth = _is_bth_city(city)
        out[code] = StationInfo(lat, lon, row[i_name].strip() if i_name is not None else code, city, bth)
    return out


def _coord(s: str) -> float:
    try:
        return float(s)
    except ValueError:
        return float("nan")


# --------------------------------------------------------------------------- one daily file


@dataclass
class DayFile:
    """What one daily file contributed: its station columns and ``{(hour_stamp, var): values}``."""

    codes: list[str]
    rows: dict[tuple[np.datetime64, str], np.ndarray] = field(default_factory=dict)
    lines: dict[tuple[np.datetime64, str], int] = field(default_factory=dict)  # where each row came from
    misdated: set[tuple[np.datetime64, str]] = field(default_factory=set)  # rows dated unlike the file name


class CorruptDay(CorruptFile):
    """One daily file cannot be used; ``reason`` and ``line`` feed the warning when other days survive."""

    def __init__(self, path: Path, line: int | None, reason: str, advice: str) -> None:
        self.path, self.line, self.reason = path, line, reason
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {reason}. {advice}")


def _read_text(path: Path) -> str:
    """File text (gunzipped if ``.gz``); :class:`CorruptFile` if it cannot be read."""
    try:
        raw = path.read_bytes()
        if path.name.endswith(".gz"):
            raw = gzip.decompress(raw)
        return raw.decode("utf-8-sig")
    except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as err:
        reason = f"unreadable gzip ({err or type(err).__name__})"
        raise CorruptDay(path, None, reason, "Re-download this day.") from None
    except UnicodeDecodeError as err:
        raise CorruptDay(path, None, f"not UTF-8 text ({err})", "Re-download this day.") from None


def _split_lines(text: str):
    """Yield ``(line number, n_fields, date, hour, type, cells)`` per non-blank line after the header.

    ``cells`` is the raw text after the third comma (fast path) or a list of fields when the file
    uses CSV quoting (then the csv module splits it). ``n_fields`` counts every field so a ragged
    row is detected instead of being padded.
    """
    if '"' in text:
        reader = csv.reader(io.StringIO(text, newline=None))  # a bare CR is a line break, as in the fast path
        next(reader, None)
        for row in reader:
            if row and not (len(row) == 1 and not row[0].strip()):
                yield reader.line_num, len(row), *(row + ["", "", ""])[:3], row[3:]
        return
    for i, line in enumerate(text.splitlines()[1:], start=2):
        if not line.strip():
            continue
        parts = line.split(",", 3)
        yield i, line.count(",") + 1, *(parts + ["", "", ""])[:3], (parts[3] if len(parts) > 3 else "")


def _to_float(rows: list, n_cols: int) -> tuple[np.ndarray, np.ndarray]:
    """Cell rows (raw ``a,b,,c`` text or field lists) → ``(values float64, non_numeric bool)``, ``(row, col)``.

    Empty (or blank) cells are NaN and not reported; any other cell that is not a finite
    number is NaN and marked in ``non_numeric``. pandas' C parser does the bulk conversion
    (Python float() per cell is ~20x slower on a year of files).
    """
    if all(isinstance(r, str) for r in rows):
        text = "\n".join(rows)
    else:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(r if isinstance(r, list) else next(csv.reader([r]))
                                                        for r in rows)
        text = buf.getvalue()
    opts = dict(header=None, names=range(n_cols), keep_default_na=False, na_values=[""], skip_blank_lines=False)
    try:  # the common case: every cell a number or empty
        vals = pd.read_csv(io.StringIO(text), dtype=np.float64, **opts).to_numpy(np.float64)
        bad = np.zeros(vals.shape, bool)
    except ValueError:
        df = pd.read_csv(io.StringIO(text), dtype=str, **opts)
        # np.array copies: pandas may hand back a read-only view, and inf cells are overwritten below
        num = np.array(df.apply(pd.to_numeric, errors="coerce").to_numpy(np.float64), dtype=np.float64)
        blank = df.fillna("").apply(lambda c: c.str.strip().eq("")).to_numpy()
        vals, bad = num, np.isnan(num) & ~blank
    inf = np.isinf(vals)
    if inf.any():
        bad |= inf
        vals[inf] = np.nan
    return vals, bad


def _cell(cells: str | list[str], j: int) -> str:
    return (cells.split(",") if isinstance(cells, str) else cells)[j]


def _day_text(path: Path) -> str:
    """The file's text; an empty file is a :class:`CorruptDay`."""
    text = _read_text(path)
    if not text.strip():
        size = path.stat().st_size
        what = "file is empty (0 bytes)" if size == 0 else f"file is empty ({size} bytes, no text)"
        raise CorruptDay(path, None, what, "Re-download this day (`python -m core data fetch --force`).")
    return text


@dataclass
class DayHeader:
    """The header of one daily file: its field count and the station columns kept (first of repeated codes)."""

    n_fields: int
    keep_cols: list[int]  # index into the station fields (after date,hour,type)
    codes: list[str]


def _day_header(path: Path, text: str, fname: str, warnings: list[DataWarning]) -> DayHeader:
    """Check the header line (a bad one is a :class:`CorruptDay`); blank and repeated station columns are warned."""
    first = text.split("\n", 1)[0].rstrip("\r")
    header = next(csv.reader([first]), None) if first.strip() else None
    if not header or [h.strip().lower() for h in header[:3]] != ["date", "hour", "type"] or len(header) < 4:
        got = ",".join(header[:4]) if header else "nothing"
        raise CorruptDay(path, 1, f"header must start with date,hour,type,<station codes...>; found {got!r}",
                         "Re-download this day or fix its header.")
    keep_cols: list[int] = []
    codes: list[str] = []
    seen: set[str] = set()
    dup_codes: list[str] = []
    for j, c in enumerate(h.strip() for h in header[3:]):
        if not c:
            warnings.append(DataWarning(fname, 1, f"column {j + 4} has no station code: ignored"))
        elif c in seen:
            dup_codes.append(c)
        else:
            seen.add(c)
            keep_cols.append(j)
            codes.append(c)
    if dup_codes:
        warnings.append(DataWarning(fname, 1, f"station column(s) repeated, first kept: {_fmt_list(dup_codes)}"))
    return DayHeader(len(header), keep_cols, codes)


def _hour(h: str) -> int | None:
    """``h`` as an hour 0–23 (``"7"``, ``"7.0"``), else None."""
    try:
        hour = int(float(h))
    except ValueError:
        return None
    return hour if 0 <= hour <= 23 and float(h) == hour else None


@dataclass
class DayRows:
    """The data rows of one daily file kept for parsing, in file order, and what was noted on the way."""

    keys: list[tuple[np.datetime64, str]] = field(default_factory=list)  # (hour stamp, var) per kept row
    cells: list = field(default_factory=list)  # each kept row's raw cells (see :func:`_split_lines`)
    date_mismatch: list[int] = field(default_factory=list)  # lines dated near, but unlike, the file name
    other_dates: set[str] = field(default_factory=set)
    far_dates: dict[str, int] = field(default_factory=dict)  # date → first line, far outside the folder's span
    unknown_types: dict[str, int] = field(default_factory=dict)  # row type → first line


def _day_rows(text: str, fname: str, file_date: dt.date, span: tuple[dt.date, dt.date] | None, n_fields: int,
              day: DayFile, warnings: list[DataWarning]) -> DayRows:
    """Validate each data row (fields, hour, date, type, repeated hour); record kept rows' lines in ``day``.

    Row defects are warned per line here; dates and types are summarised by :func:`_warn_row_summary`.
    """
    rows = DayRows()
    dup_hours: set[np.datetime64] = set()
    expected_date = file_date.strftime("%Y%m%d")
    for line, n_row, d, h, typ, cells in _split_lines(text):
        if n_row != n_fields:
            kind = "truncated" if n_row < n_fields else "too long"
            warnings.append(DataWarning(
                fname, line, f"{kind} row: {n_row} fields, header has {n_fields}; row dropped"))
            continue
        d, h, typ = d.strip(), h.strip(), typ.strip()
        hour = _hour(h)
        if hour is None:
            warnings.append(DataWarning(fname, line, f"hour {h!r} is not 0–23; row dropped"))
            continue
        if d != expected_date:
            try:
                row_date = dt.datetime.strptime(d, "%Y%m%d").date()
            except ValueError:
                warnings.append(DataWarning(fname, line, f"date {d!r} is not YYYYMMDD; row dropped"))
                continue
            if span is not None and not span[0] - ONE_DAY <= row_date <= span[1] + ONE_DAY:
                # Far outside the folder's period: a garbled date, not a misnamed file (and trusting
                # it would stretch the calendar over years).
                rows.far_dates.setdefault(d, line)
                continue
            rows.date_mismatch.append(line)
            rows.other_dates.add(d)
        else:
            row_date = file_date
        if IGNORED_TYPE_RE.match(typ):
            continue
        var = SPECIES.get(typ)
        if var is None:
            rows.unknown_types.setdefault(typ, line)
            continue
        stamp = np.datetime64(row_date, "h") + np.timedelta64(hour, "h")
        key = (stamp, var)
        if key in day.lines:
            if stamp not in dup_hours:  # one warning per repeated hour, not per species row
                dup_hours.add(stamp)
                warnings.append(DataWarning(
                    fname, line,
                    f"hour {str(stamp)[:13]}h repeated ({typ} first at line {day.lines[key]}); "
                    "first rows kept, repeated rows dropped"))
            continue
        day.lines[key] = line
        if row_date != file_date:
            day.misdated.add(key)
        rows.keys.append(key)
        rows.cells.append(cells)
    return rows


def _warn_row_summary(rows: DayRows, fname: str, file_date: dt.date, span: tuple[dt.date, dt.date] | None,
                      warnings: list[DataWarning]) -> None:
    """One warning for rows dated unlike the file, one per far-off date and one per unknown row type."""
    if rows.date_mismatch:
        warnings.append(DataWarning(
            fname, rows.date_mismatch[0],
            f"{len(rows.date_mismatch)} row(s) dated {_fmt_list(sorted(rows.other_dates))}, not "
            f"{file_date.strftime('%Y%m%d')} as the file name says (lines {_fmt_list(rows.date_mismatch)}); the "
            "row's own date was used (unless the file of that date has the same hour)"))
    for d, line in rows.far_dates.items():
        warnings.append(DataWarning(
            fname, line, f"row(s) dated {d}, far outside the folder's period {span[0]}…{span[1]}: dropped"))
    for typ, line in rows.unknown_types.items():
        warnings.append(DataWarning(fname, line, f"unknown row type {typ!r}: ignored"))


def _lines_of(line_of: np.ndarray, r: np.ndarray) -> str:
    return _fmt_list(sorted(set(line_of[r].tolist())))


def _qc_values(vals: np.ndarray, bad: np.ndarray, rows: DayRows, header: DayHeader, line_of: np.ndarray,
               fname: str, warnings: list[DataWarning]) -> None:
    """Warn non-numeric cells; negative values and values above :data:`PHYSICAL_MAX` → NaN in ``vals`` (in place);
    warn a day with no PM2.5 at all and PM2.5 above :data:`RANGE_MAX` (kept; ``qc_pm25`` flags it)."""
    keys, codes = rows.keys, header.codes
    if bad.any():
        r, c = np.nonzero(bad)
        warnings.append(DataWarning(
            fname, int(line_of[r[0]]),
            f"{bad.sum()} non-numeric cell(s) set to NaN, e.g. {_cell(rows.cells[r[0]], header.keep_cols[c[0]])!r} "
            f"for station {codes[c[0]]} "
            f"(lines {_lines_of(line_of, r)})"))
    with np.errstate(invalid="ignore"):
        neg = vals < 0
    if neg.any():
        r, c = np.nonzero(neg)
        warnings.append(DataWarning(
            fname, int(line_of[r[0]]),
            f"{neg.sum()} negative value(s) set to NaN, e.g. {vals[r[0], c[0]]:g} for station {codes[c[0]]} "
            f"(lines {_lines_of(line_of, r)})"))
        vals[neg] = np.nan
    ceiling = np.array([PHYSICAL_MAX.get(k[1], np.inf) for k in keys])[:, None]
    with np.errstate(invalid="ignore"):
        impossible = vals > ceiling
    if impossible.any():
        for var in sorted({keys[i][1] for i in np.nonzero(impossible.any(axis=1))[0]}):
            rows_v = np.array([k[1] == var for k in keys])[:, None]
            r, c = np.nonzero(impossible & rows_v)
            unit = "mg/m³" if var == "co" else "µg/m³"
            warnings.append(DataWarning(
                fname, int(line_of[r[0]]),
                f"{len(r)} {var} value(s) above the physical ceiling {PHYSICAL_MAX[var]:g} {unit} set to NaN "
                f"(instrument or transmission fault), e.g. {vals[r[0], c[0]]:g} for station {codes[c[0]]} "
                f"(lines {_lines_of(line_of, r)})"))
        vals[impossible] = np.nan
    is_pm25 = np.array([k[1] == "pm25" for k in keys])
    if not np.isfinite(vals[is_pm25]).any():
        warnings.append(DataWarning(
            fname, None, "PM2.5 is empty for the whole day (no station reports a value): the day's PM2.5 "
            "is missing; check the file or re-download it"))
    with np.errstate(invalid="ignore"):
        high = (vals > RANGE_MAX) & is_pm25[:, None]
    if high.any():
        r, c = np.nonzero(high)
        warnings.append(DataWarning(
            fname, int(line_of[r[0]]),
            f"{high.sum()} PM2.5 value(s) > {RANGE_MAX:g} µg/m³ kept and flagged RANGE in qc_pm25 "
            f"(max {np.nanmax(vals[high]):g} at {codes[c[int(np.argmax(vals[high]))]]}; "
            f"stations {_fmt_list(sorted({codes[j] for j in c}))})"))


def parse_day(
    path: Path, file_date: dt.date, warnings: list[DataWarning], span: tuple[dt.date, dt.date] | None = None
) -> DayFile:
    """Parse one daily file; row-level problems are warned and survived, a hopeless file raises.

    A row whose date differs from the file name is kept at its own date when that date lies within
    ``span`` (first, last file day) ± 1 day, otherwise dropped.
    """
    fname = f"{HOURLY}/{path.name}"
    text = _day_text(path)
    header = _day_header(path, text, fname, warnings)
    day = DayFile(codes=header.codes)
    rows = _day_rows(text, fname, file_date, span, header.n_fields, day, warnings)
    _warn_row_summary(rows, fname, file_date, span, warnings)
    if not rows.cells:
        warnings.append(DataWarning(fname, None, "no usable data rows: day treated as missing"))
        return day
    vals, bad = _to_float(rows.cells, header.n_fields - 3)
    vals, bad = vals[:, header.keep_cols], bad[:, header.keep_cols]
    line_of = np.array([day.lines[k] for k in rows.keys])
    _qc_values(vals, bad, rows, header, line_of, fname, warnings)
    for i, k in enumerate(rows.keys):
        day.rows[k] = vals[i]
    return day


# --------------------------------------------------------------------------- folder


def _day_files(folder: Path, warnings: list[DataWarning]) -> list[tuple[dt.date, Path]]:
    """``(date, path)`` per day from file names; bad names and duplicates are warned and skipped."""
    by_day: dict[dt.date, Path] = {}
    for p in hourly_files(folder):
        m = FILE_RE.match(p.name)
        try:
            if not m:
                raise ValueError
            day = dt.datetime.strptime(m.group(1), "%Y%m%d").date()
        except ValueError:
            warnings.append(DataWarning(f"{HOURLY}/{p.name}", None,
                                        "file name is not china_sites_YYYYMMDD.csv[.gz] with a valid date: ignored"))
            continue
        if day in by_day:
            warnings.append(DataWarning(f"{HOURLY}/{p.name}", None,
                                        f"second file for {day} (also {by_day[day].name}): ignored"))
            continue
        by_day[day] = p
    return sorted(by_day.items())


def input_files(folder: Path) -> list[Path]:
    """The files whose content defines the StationSet (cache key)."""
    files = hourly_files(folder)
    st = Path(folder) / STATIONS_FILE
    return files + ([st] if st.is_file() else [])


def _folder_inputs(folder: Path, warnings: list[DataWarning]) -> tuple[Path, list[tuple[dt.date, Path]]]:
    """The stations list and the daily files; :class:`DataNotFound` naming what is missing."""
    stations_path = folder / STATIONS_FILE
    if not stations_path.is_file():
        raise DataNotFound(
            f"{stations_path} not found. A CNEMC folder needs {STATIONS_FILE} with columns "
            "code,name,city,lon,lat[,is_BTH] next to hourly/ (see cnemc_bth_2019/SOURCE.md)."
        )
    days = _day_files(folder, warnings)
    if not days:
        raise DataNotFound(
            f"No daily files hourly/china_sites_YYYYMMDD.csv[.gz] in {folder}. "
            "Fetch them with `python -m core data fetch` or point --path at a CNEMC archive folder."
        )
    return stations_path, days


def _parse_days(folder: Path, days: list[tuple[dt.date, Path]],
                warnings: list[DataWarning]) -> list[tuple[dt.date, DayFile]]:
    """Every day with a usable row; a corrupt day is warned and skipped, and if none is usable the folder raises."""
    parsed: list[tuple[dt.date, DayFile]] = []
    errors: list[str] = []
    for day, path in days:
        try:
            parsed.append((day, parse_day(path, day, warnings, span=(days[0][0], days[-1][0]))))
        except CorruptDay as err:
            errors.append(str(err))
            warnings.append(DataWarning(f"{HOURLY}/{path.name}", err.line, f"{err.reason}; day skipped"))
    parsed = [(d, f) for d, f in parsed if f.rows]
    if not parsed:
        detail = errors[0] if errors else "no file has a usable data row"
        more = f" (and {len(errors) - 1} more corrupt file(s))" if len(errors) > 1 else ""
        raise (CorruptFile if errors else UnusableData)(
            f"No usable CNEMC data in {folder}: {detail}{more}."
        )
    return parsed


def _warn_missing_days(days: list[tuple[dt.date, Path]], warnings: list[DataWarning]) -> None:
    """One warning per gap day between consecutive file dates."""
    file_days = [d for d, _ in days]
    have = set(file_days)
    missing = [file_days[0] + dt.timedelta(days=i) for i in range((file_days[-1] - file_days[0]).days + 1)]
    for d in missing:
        if d not in have:
            warnings.append(DataWarning(f"{HOURLY}/china_sites_{d:%Y%m%d}.csv[.gz]", None,
                                        "day missing from the archive: all its hours absent"))


def _calendar(parsed: list[tuple[dt.date, DayFile]]) -> np.ndarray:
    """Every hour of every day from the first to the last stamp found in the data."""
    all_stamps = [k[0] for _, f in parsed for k in f.rows]
    t0 = min(all_stamps).astype("datetime64[D]")
    t1 = max(all_stamps).astype("datetime64[D]") + np.timedelta64(1, "D")
    return np.arange(t0.astype("datetime64[h]"), t1.astype("datetime64[h]"), np.timedelta64(1, "h"))


@dataclass
class Pivot:
    """The days' rows on one (time, station) grid per species."""

    codes: list[str]  # sorted union of every file's station columns
    data: dict[str, np.ndarray]  # var → (time, station) float32
    present: np.ndarray  # (time,) bool: some row filled this hour
    hours_of: dict[dt.date, set[np.datetime64]]  # stamps each file supplied


def _pivot(parsed: list[tuple[dt.date, DayFile]], path_of: dict[dt.date, Path], time: np.ndarray,
           warnings: list[DataWarning]) -> Pivot:
    """Place every row at its hour; an hour and species read twice (across files) keeps one and is warned."""
    codes = sorted({c for _, f in parsed for c in f.codes})
    col = {c: i for i, c in enumerate(codes)}
    n_t, n_s = len(time), len(codes)
    data = {v: np.full((n_t, n_s), np.nan, np.float32) for v in SPECIES.values()}
    present = np.zeros(n_t, bool)
    filled_misdated: dict[tuple[int, str], bool] = {}
    col_idx = {day: np.array([col[c] for c in f.codes], dtype=np.int64) for day, f in parsed}
    filled: dict[tuple[int, str], str] = {}  # (hour index, var) → file that supplied it (cross-file duplicates)
    hours_of: dict[dt.date, set[np.datetime64]] = {day: set() for day, _ in parsed}
    # Rows dated like their file go first, so a row misdated into the next day never replaces that
    # day's own row; among equals the earlier file wins.
    entries = [(key in f.misdated, day, f, key) for day, f in parsed for key in f.rows]
    entries.sort(key=lambda e: (e[0], e[1]))
    for misdated, day, f, (stamp, var) in entries:
        fname = f"{HOURLY}/{path_of[day].name}"
        ti = int((stamp - time[0]).astype(int))
        if (ti, var) in filled:
            if misdated and not filled_misdated[(ti, var)]:
                msg = (f"{var} for {str(stamp)[:13]}h already read from {filled[(ti, var)]}, whose date matches "
                       "that row; this row is dated unlike its own file: dropped, the matching row kept")
            else:
                msg = f"{var} for {str(stamp)[:13]}h already read from {filled[(ti, var)]}; first kept"
            warnings.append(DataWarning(fname, f.lines[(stamp, var)], msg))
            continue
        filled[(ti, var)] = path_of[day].name
        filled_misdated[(ti, var)] = misdated
        idx = col_idx[day]
        data[var][ti, idx] = f.rows[(stamp, var)]
        present[ti] = True
        hours_of[day].add(stamp)
    return Pivot(codes, data, present, hours_of)


def _warn_partial_days(parsed: list[tuple[dt.date, DayFile]], path_of: dict[dt.date, Path], pivot: Pivot,
                       warnings: list[DataWarning]) -> None:
    """A file that supplied 1–23 hours of its own day names the absent hours."""
    for day, _ in parsed:
        in_day = {s for s in pivot.hours_of[day] if s.astype("datetime64[D]") == np.datetime64(day)}
        if 0 < len(in_day) < 24:
            got = {int((s - np.datetime64(day, "h")).astype(int)) for s in in_day}
            gone = [h for h in range(24) if h not in got]
            warnings.append(DataWarning(
                f"{HOURLY}/{path_of[day].name}", None,
                f"only {len(in_day)} of 24 hours present; hours {_fmt_list(gone, 24)} absent"))


def _warn_station_gaps(pivot: Pivot, stations: dict[str, StationInfo], warnings: list[DataWarning]) -> None:
    """Codes in the data without coordinates, and stations that never report PM2.5 (both kept)."""
    codes = pivot.codes
    no_coord = [c for c in codes if c not in stations or not np.isfinite(stations[c].lat)]
    if no_coord:
        warnings.append(DataWarning(
            STATIONS_FILE, None,
            f"{len(no_coord)} station code(s) in the data have no coordinates (kept with NaN lat/lon, "
            f"never graph nodes): {_fmt_list(no_coord)}"))
    empty = [c for i, c in enumerate(codes) if not np.isfinite(pivot.data["pm25"][:, i]).any()]
    if empty:
        warnings.append(DataWarning(
            HOURLY, None,
            f"{len(empty)} station(s) never report PM2.5 in any file (decommissioned or not yet opened; "
            f"kept, inactive): {_fmt_list(empty)}"))


def _stationset(time: np.ndarray, pivot: Pivot, stations: dict[str, StationInfo],
                warnings: list[DataWarning]) -> xr.Dataset:
    """The StationSet: coordinates and metadata from the list (codes without an entry: NaN, not BTH), QC flags."""
    codes = pivot.codes
    info = [stations.get(c) for c in codes]
    nan = float("nan")
    data_out: dict[str, np.ndarray] = dict(pivot.data)
    data_out["qc_pm25"] = qc_pm25(pivot.data["pm25"])
    return make_stationset(
        time,
        codes,
        lat=[s.lat if s else nan for s in info],
        lon=[s.lon if s else nan for s in info],
        data=data_out,
        name=[s.name if s else c for s, c in zip(info, codes, strict=True)],
        city=[s.city if s else "" for s in info],
        is_bth=[s.is_bth if s else False for s in info],
        present=pivot.present,
        attrs={"source": SOURCE, "citation": CITATION, "license": LICENSE},
        warnings=warnings,
    )


def parse_folder(folder: Path) -> xr.Dataset:
    """Parse a CNEMC folder into a StationSet (no cache; see :func:`load_cnemc`)."""
    folder = Path(folder)
    warnings: list[DataWarning] = []
    stations_path, days = _folder_inputs(folder, warnings)
    stations = read_stations(stations_path, warnings)
    parsed = _parse_days(folder, days, warnings)
    _warn_missing_days(days, warnings)
    time = _calendar(parsed)
    path_of = dict(days)
    pivot = _pivot(parsed, path_of, time, warnings)
    _warn_partial_days(parsed, path_of, pivot, warnings)
    _warn_station_gaps(pivot, stations, warnings)
    return _stationset(time, pivot, stations, warnings)


@register_source(SOURCE, detect)
def load_cnemc(folder: Path) -> xr.Dataset:
    """Load a CNEMC daily-archive folder as a StationSet, through the sha256-keyed cache."""
    folder = Path(folder)
    files = input_files(folder)
    if not files:
        return parse_folder(folder)  # raises the specific "what is missing" error
    return cached_load(f"{SOURCE}-v{LOADER_VERSION}", folder, files, lambda: parse_folder(folder))
