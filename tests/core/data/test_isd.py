"""ISD-Lite loader and the IsdWind MetSource: u/v signs, UTC → Beijing, -9999, 3-hourly gaps, IDW."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.contracts.stationset import summary
from core.data.isd import detect, load_isd
from core.data.isd_wind import IsdWind
from core.data.load import load_stationset
from core.errors import DataNotFound, InvalidRequest, UnusableData

STATIONS = (
    "wmo5,usaf,wban,name,lat,lon,elev_m\n"
    "54511,545110,99999,BEIJING CAPITAL,40.080,116.585,35.4\n"
    "54527,545270,99999,TIANJIN,39.100,117.167,5.0\n"
)


def rec(t: str, temp: int = -104, dew: int = -175, wd: int = 360, ws: int = 50) -> str:
    """One ISD-Lite fixed-width line at UTC time ``t``."""
    ts = pd.Timestamp(t)
    return (f"{ts.year:4d}{ts.month:3d}{ts.day:3d}{ts.hour:3d}{temp:6d}{dew:6d}{10260:6d}{wd:6d}{ws:6d}"
            f"{-9999:6d}{-9999:6d}{0:6d}")


def write_isd(root: Path, files: dict[str, list[str]] | None = None, stations: str | None = STATIONS) -> Path:
    """Tiny ISD folder: an hourly airport (Beijing) and a 3-hourly synoptic station (Tianjin), 2021-01-01 UTC."""
    (root / "isd_lite").mkdir(parents=True, exist_ok=True)
    if files is None:
        hours = pd.date_range("2021-01-01 00:00", periods=7, freq="h")
        files = {
            "545110-99999-2021": [rec(str(t)) for t in hours],
            "545270-99999-2021": [rec(str(t), wd=90, ws=30) for t in hours[::3]],
        }
    for name, lines in files.items():
        data = ("\n".join(lines) + "\n").encode()
        if name.endswith(".gz"):
            (root / "isd_lite" / name).write_bytes(gzip.compress(data))
        else:
            (root / "isd_lite" / name).write_bytes(data)
    if stations is not None:
        (root / "stations.csv").write_text(stations)
    return root


def test_tiny_folder_contract(tmp_path: Path) -> None:
    ds = load_isd(write_isd(tmp_path / "isd"))
    assert list(ds["station"].values) == ["545110-99999", "545270-99999"]
    # 00 UTC is 08:00 Beijing time
    assert pd.Timestamp(ds["time"].values[0]) == pd.Timestamp("2021-01-01 08:00")
    assert ds.sizes["time"] == 7
    bj, tj = ds.sel(station="545110-99999"), ds.sel(station="545270-99999")
    # north wind (360°) 5.0 m/s blows toward the south: v < 0
    np.testing.assert_allclose(bj["u10"].values, 0.0, atol=1e-6)
    np.testing.assert_allclose(bj["v10"].values, -5.0, atol=1e-6)
    np.testing.assert_allclose(bj["t2m"].values, -10.4, rtol=1e-6)
    np.testing.assert_allclose(bj["td2m"].values, -17.5, rtol=1e-6)
    # 3-hourly station: values at 08, 11, 14 Beijing time, NaN in between
    assert np.isfinite(tj["u10"].values).tolist() == [True, False, False, True, False, False, True]
    np.testing.assert_allclose(tj["u10"].values[[0, 3, 6]], -3.0, atol=1e-6)  # east wind blows westward
    assert list(ds["city"].values) == ["北京", "天津"] and ds["is_bth"].values.all()
    assert np.isnan(ds["pm25"].values).all()
    s = summary(ds)
    assert s["wind"] == "measured" and s["stations_active"] == 0 and s["bth_active"] == 0
    assert s["pm25_missing_rate"] == 1.0 and s["hours_present"] == 7 and s["warnings"] == 0
    assert (s["time_start"], s["time_end"]) == ("2021-01-01T08", "2021-01-01T14")


@pytest.mark.parametrize(
    ("wd", "ws", "u", "v", "warned"),
    [
        (360, 50, 0.0, -5.0, False),       # north wind → v < 0
        (180, 20, 0.0, 2.0, False),        # south wind → v > 0
        (90, 30, -3.0, 0.0, False),        # east wind → u < 0
        (270, 10, 1.0, 0.0, False),        # west wind → u > 0
        (0, 0, 0.0, 0.0, False),           # calm
        (-9999, 0, 0.0, 0.0, False),       # no direction but speed 0: calm
        (-9999, 30, np.nan, np.nan, False),  # variable/unreported direction with valid speed
        (90, -9999, np.nan, np.nan, False),  # no speed
        (0, 20, np.nan, np.nan, True),     # 0 codes calm: contradictory with speed 2 m/s
        (400, 20, np.nan, np.nan, True),   # direction out of range
    ],
)
def test_wind_codes(warning_texts, tmp_path: Path, wd: int, ws: int, u: float, v: float, warned: bool) -> None:
    root = write_isd(tmp_path / "isd", files={"545110-99999-2021": [rec("2021-01-01 00:00", wd=wd, ws=ws)]})
    ds = load_isd(root)
    np.testing.assert_allclose([float(ds["u10"][0, 0]), float(ds["v10"][0, 0])], [u, v], atol=1e-6)
    assert any(m.startswith("isd_lite/545110-99999-2021:1: ") for m in warning_texts(ds)) == warned


def test_missing_code_for_temperature(tmp_path: Path) -> None:
    root = write_isd(tmp_path / "isd", files={"545110-99999-2021": [rec("2021-01-01", temp=-9999, dew=-9999)]})
    ds = load_isd(root)
    assert np.isnan(float(ds["t2m"][0, 0])) and np.isnan(float(ds["td2m"][0, 0]))
    assert np.isfinite(float(ds["u10"][0, 0]))


@pytest.mark.parametrize(
    ("line", "expect"),
    [
        ("2021 01 01 05  -104  -175 10260   360", "8 fields instead of 12"),
        ("2021 01 01 05  -104  -1x5 10260   360    50 -9999 -9999     0", "non-integer field"),
        ("2021 13 01 05  -104  -175 10260   360    50 -9999 -9999     0", "invalid date/hour"),
        ("2021 01 01 05   999  -175 10260   360    50 -9999 -9999     0", "t2m 99.9 outside"),
        ("2021 01 01 02  -104  -175 10260   360    50 -9999 -9999     0", "duplicated hour"),
    ],
)
def test_defects_warn_with_file_and_line(warning_texts, tmp_path: Path, line: str, expect: str) -> None:
    lines = [rec(str(t)) for t in pd.date_range("2021-01-01", periods=5, freq="h")] + [line]
    ds = load_isd(write_isd(tmp_path / "isd", files={"545110-99999-2021": lines}))
    msgs = warning_texts(ds)
    assert any(m.startswith("isd_lite/545110-99999-2021:6: ") and expect in m for m in msgs), msgs
    assert np.isfinite(ds["u10"].values[:5]).all()


def test_gzip_file_and_multi_year_station(tmp_path: Path) -> None:
    files = {
        "545110-99999-2020.gz": [rec("2020-12-31 22:00"), rec("2020-12-31 23:00")],
        "545110-99999-2021": [rec("2021-01-01 00:00")],
    }
    ds = load_isd(write_isd(tmp_path / "isd", files=files))
    assert ds.sizes == {"time": 3, "station": 1}
    assert pd.Timestamp(ds["time"].values[0]) == pd.Timestamp("2021-01-01 06:00")


def test_station_without_metadata_and_odd_file_name(warning_texts, tmp_path: Path) -> None:
    files = {"545110-99999-2021": [rec("2021-01-01")], "999999-99999-2021": [rec("2021-01-01")],
             "README.txt": ["not data"]}
    ds = load_isd(write_isd(tmp_path / "isd", files=files))
    assert ds.sizes["station"] == 2
    assert np.isnan(float(ds["lat"].sel(station="999999-99999")))
    msgs = warning_texts(ds)
    assert any("999999-99999" in m and "no row here" in m for m in msgs)
    assert any(m.startswith("isd_lite/README.txt") and "file skipped" in m for m in msgs)


@pytest.mark.parametrize("case", ["no_stations_csv", "empty_dir", "all_broken"])
def test_unusable_folder(tmp_path: Path, case: str) -> None:
    root = tmp_path / "isd"
    if case == "no_stations_csv":
        write_isd(root, stations=None)
        err, match = DataNotFound, "stations.csv"
    elif case == "empty_dir":
        write_isd(root, files={})
        err, match = UnusableData, "is empty"
    else:
        write_isd(root, files={"545110-99999-2021": ["garbage line", "more garbage"]})
        err, match = UnusableData, "no file has a usable ISD-Lite record"
    with pytest.raises(err, match=match):
        load_isd(root)


def test_detect_and_generic_loader(tmp_path: Path) -> None:
    root = write_isd(tmp_path / "isd")
    assert detect(root) and not detect(tmp_path)
    assert load_stationset(path=root).attrs["source"] == "isd_lite"


# ---------------------------------------------------------------- IsdWind (MetSource)


def _two_station_wind(tmp_path: Path) -> IsdWind:
    """Beijing: north wind 5 m/s every hour; Tianjin: east wind 3 m/s every 3 h."""
    return IsdWind(load_isd(write_isd(tmp_path / "isd")), radius_km=200.0, k=4)


def test_wind_at_station_takes_station_value(tmp_path: Path) -> None:
    met = _two_station_wind(tmp_path)
    t = pd.date_range("2021-01-01 08:00", periods=2, freq="h").values
    u, v = met.wind(t, np.array([40.080]), np.array([116.585]))
    assert u.shape == (2, 1)
    np.testing.assert_allclose(u[:, 0], 0.0, atol=1e-3)
    np.testing.assert_allclose(v[:, 0], -5.0, atol=1e-3)


def test_wind_idw_between_stations_and_reporting_only(tmp_path: Path) -> None:
    met = _two_station_wind(tmp_path)
    lat, lon = np.array([(40.080 + 39.100) / 2]), np.array([(116.585 + 117.167) / 2])
    t = pd.DatetimeIndex(["2021-01-01 08:00", "2021-01-01 09:00"]).values
    u, v = met.wind(t, lat, lon)
    # 08:00 both report and are (nearly) equidistant: mean of (0, -5) and (-3, 0)
    np.testing.assert_allclose([u[0, 0], v[0, 0]], [-1.5, -2.5], atol=0.05)
    # 09:00 only Beijing reports
    np.testing.assert_allclose([u[1, 0], v[1, 0]], [0.0, -5.0], atol=1e-6)


def test_wind_nan_beyond_radius_and_outside_record(tmp_path: Path) -> None:
    met = _two_station_wind(tmp_path)
    t = pd.DatetimeIndex(["2021-01-01 08:00", "2030-01-01 00:00"]).values
    u, v = met.wind(t, np.array([30.0, 40.0]), np.array([100.0, 116.6]))
    assert np.isnan(u[0, 0]) and np.isnan(v[0, 0])       # 1,500 km away
    assert np.isfinite(u[0, 1]) and np.isnan(u[1]).all()  # time not in the record


def test_wind_tz_aware_times_are_converted(tmp_path: Path) -> None:
    met = _two_station_wind(tmp_path)
    t_utc = pd.DatetimeIndex(["2021-01-01 00:00"], tz="UTC")  # = 08:00 Beijing
    u, _ = met.wind(t_utc, np.array([39.100]), np.array([117.167]))
    np.testing.assert_allclose(u[0, 0], -3.0, atol=1e-3)


def test_wind_gap_fill_for_three_hourly_stations(tmp_path: Path) -> None:
    ds = load_isd(write_isd(tmp_path / "isd"))
    t = pd.DatetimeIndex(["2021-01-01 09:00"]).values
    at_tianjin = (np.array([39.100]), np.array([117.167]))
    no_fill = IsdWind(ds, radius_km=10.0).wind(t, *at_tianjin)
    filled = IsdWind(ds, radius_km=10.0, max_gap_hours=2).wind(t, *at_tianjin)
    assert np.isnan(no_fill[0][0, 0])
    np.testing.assert_allclose(filled[0][0, 0], -3.0, atol=1e-6)
    too_short = IsdWind(ds, radius_km=10.0, max_gap_hours=1).wind(t, *at_tianjin)
    assert np.isnan(too_short[0][0, 0])


def test_wind_none_without_measurements_and_bad_args(tmp_path: Path) -> None:
    root = write_isd(tmp_path / "isd", files={"545110-99999-2021": [rec("2021-01-01", wd=-9999, ws=-9999)]})
    met = IsdWind(load_isd(root))
    assert not met.measured
    assert met.wind(pd.DatetimeIndex(["2021-01-01 08:00"]).values, np.array([40.0]), np.array([116.0])) is None
    with pytest.raises(InvalidRequest):
        IsdWind(load_isd(root), k=0)


# ---------------------------------------------------------------- real files


@pytest.mark.realdata
def test_real_isd(shared_data: Path) -> None:
    root = shared_data / "raw" / "isd_lite_region_2021janapr"
    ds = load_stationset(path=root)
    s = summary(ds)
    assert s["stations_total"] == 65 and s["stations_active"] == 0 and s["wind"] == "measured"
    assert s["time_start"] == "2021-01-01T08"  # first record 00 UTC
    assert s["time_end"] == "2021-04-21T05"    # last record 21 UTC on 04-20
    bj = ds.sel(station="545110-99999")
    # first Beijing record "2021 01 01 00  -104  -175 10260    60    10": -10.4 °C, wind from 60° at 1.0 m/s
    assert float(bj["t2m"][0]) == pytest.approx(-10.4)
    np.testing.assert_allclose([float(bj["u10"][0]), float(bj["v10"][0])],
                               [-np.sin(np.radians(60)), -np.cos(np.radians(60))], atol=1e-5)
    # SOURCE.md: Beijing has both direction and speed in 2,161 of 2,520 records; sanity ranges
    assert int(np.isfinite(bj["u10"].values).sum()) == 2161
    assert (float(bj["t2m"].min()), float(bj["t2m"].max())) == pytest.approx((-23.0, 29.0))
    assert float(np.hypot(bj["u10"], bj["v10"]).max()) == pytest.approx(14.0, abs=1e-4)
    assert set(ds["city"].values[ds["is_bth"].values]) <= {"北京", "天津", "石家庄", "唐山", "秦皇岛", "邢台",
                                                           "保定", "张家口", "承德", "沧州"}
    assert s["warnings"] == 0
    met = IsdWind(ds)
    t = pd.date_range("2021-01-15 00:00", periods=24, freq="h").values
    u, v = met.wind(t, np.array([40.080, 39.9]), np.array([116.585, 116.4]))
    at = bj["u10"].sel(time=t).values
    np.testing.assert_allclose(u[np.isfinite(at), 0], at[np.isfinite(at)], atol=1e-3)
    assert np.isfinite(u[:, 1]).mean() > 0.8
