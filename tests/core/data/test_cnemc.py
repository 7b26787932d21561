"""CNEMC daily-archive loader: clean fixture, every archive defect, unusable folders, the real 2019 folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.contracts.stationset import DataWarning, active_mask, load_warnings, summary
from core.data.cnemc import CITATION, LICENSE, detect, load_cnemc, parse_folder
from core.data.load import load_stationset
from core.data.qc import RANGE
from core.errors import CorruptFile, DataNotFound, UnusableData
from tests.data.make_data import STATIONS, make_cnemc_folder, pm25_value


def _find(ws: list[DataWarning], text: str) -> list[DataWarning]:
    return [w for w in ws if text in w.message]


def test_clean_folder_round_trips_values_and_metadata(tmp_path: Path) -> None:
    fx = make_cnemc_folder(tmp_path)
    ds = load_stationset(path=tmp_path)
    assert ds.attrs["source"] == "cnemc" and ds.attrs["citation"] == CITATION and ds.attrs["license"] == LICENSE
    assert list(ds["station"].values) == sorted(fx.codes)
    assert ds.sizes["time"] == 72 and bool(ds["present"].all())
    assert str(ds["time"].values[0])[:13] == "2020-03-01T00" and ds["time"].attrs["tz"] == "Asia/Shanghai"
    got = ds["pm25"].to_pandas()[fx.codes]
    np.testing.assert_array_equal(got.values, fx.pm25.values.astype("float32"))
    for var in ("pm10", "so2", "no2", "o3", "co", "qc_pm25"):
        assert var in ds and ds[var].dims == ("time", "station")
    assert float(ds["co"].sel(station="1001A").isel(time=0)) == pytest.approx(0.3)
    by_code = {s[0]: s for s in STATIONS}
    for code in fx.codes:
        st = ds.sel(station=code)
        assert float(st["lat"]) == pytest.approx(by_code[code][4]) and str(st["city"].values) == by_code[code][2]
    assert ds["is_bth"].sel(station=["1001A", "1015A", "1029A", "1081A"]).values.tolist() == [True, True, True, False]
    assert load_warnings(ds) == []
    assert int(ds["qc_pm25"].sum()) == 0


@pytest.mark.parametrize("gz", [True, False])
def test_detect_accepts_both_compressions(tmp_path: Path, gz: bool) -> None:
    make_cnemc_folder(tmp_path, gz=gz, n_days=1)
    assert detect(tmp_path)
    assert not detect(tmp_path / "hourly")


# (defect switches, warning text, defect key in fixture.where)
DEFECTS = [
    ({"missing_day": 1}, "day missing", "missing_day"),
    ({"partial_day": (2, (0, 5, 6))}, "only 3 of 24 hours", "partial_day"),
    ({"duplicate_hour": (1, 7)}, "repeated", "duplicate_hour"),
    ({"ragged_last_row": 0}, "truncated row", "ragged_last_row"),
    ({"non_numeric": (1, 3, "1015A", "n/a")}, "non-numeric", "non_numeric"),
    ({"non_numeric": (1, 3, "1015A", "12..5")}, "non-numeric", "non_numeric"),
    ({"negative": (2, 10, "1029A")}, "negative", "negative"),
    ({"date_mismatch": 1}, "as the file name says", "date_mismatch"),
    ({"spike": (1, 2, "1081A", 1500.0)}, "> 1000", "spike"),
    ({"corrupt_gzip": 1}, "unreadable gzip", "corrupt_gzip"),
    ({"bad_header": 2}, "header must start with date,hour,type", "bad_header"),
]


@pytest.mark.parametrize(("switch", "text", "key"), DEFECTS, ids=[f"{d[2]}-{i}" for i, d in enumerate(DEFECTS)])
def test_each_defect_is_survived_with_a_located_warning(tmp_path: Path, switch: dict, text: str, key: str) -> None:
    fx = make_cnemc_folder(tmp_path, **switch)
    ds = load_cnemc(tmp_path)
    hits = _find(load_warnings(ds), text)
    assert hits, f"no warning containing {text!r}: {load_warnings(ds)}"
    fname, line = fx.where[key]
    assert any(fname in w.file and w.line == line for w in hits), (fname, line, hits)
    assert fname in str(hits[0]) and (line is None or f":{line}:" in str(hits[0]))


def test_missing_day_keeps_a_full_calendar_with_absent_hours(tmp_path: Path) -> None:
    make_cnemc_folder(tmp_path, missing_day=1)
    ds = load_cnemc(tmp_path)
    present = ds["present"].values
    assert ds.sizes["time"] == 72 and present[:24].all() and not present[24:48].any() and present[48:].all()
    assert np.isnan(ds["pm25"].values[24:48]).all()
    assert summary(ds)["hours_present"] == 48


def test_partial_day_marks_only_written_hours_present(tmp_path: Path) -> None:
    make_cnemc_folder(tmp_path, partial_day=(2, (0, 5, 6)))
    ds = load_cnemc(tmp_path)
    assert np.flatnonzero(~ds["present"].values).tolist() == [48 + h for h in range(24) if h not in (0, 5, 6)]


def test_duplicate_hour_keeps_the_first_values(tmp_path: Path) -> None:
    fx = make_cnemc_folder(tmp_path, duplicate_hour=(1, 7))
    ds = load_cnemc(tmp_path)
    np.testing.assert_array_equal(ds["pm25"].to_pandas()[fx.codes].values, fx.pm25.values.astype("float32"))


def test_empty_cells_are_nan_without_warnings(tmp_path: Path) -> None:
    fx = make_cnemc_folder(tmp_path, empty_cells=((0, 1, "1001A"), (2, 23, "1081A")))
    ds = load_cnemc(tmp_path)
    assert load_warnings(ds) == []
    assert np.isnan(float(ds["pm25"].sel(station="1001A").isel(time=1)))
    assert np.isnan(float(ds["pm25"].sel(station="1081A").isel(time=71)))
    assert int(ds["pm25"].isnull().sum()) == int(fx.pm25.isna().sum().sum()) == 2


def test_ragged_row_is_dropped_not_padded(tmp_path: Path) -> None:
    make_cnemc_folder(tmp_path, ragged_last_row=0)
    ds = load_cnemc(tmp_path)
    # the cut row is hour 23's CO row: all its stations lose CO, none gets a half-row of values
    assert np.isnan(ds["co"].values[23]).all()
    assert np.isfinite(ds["co"].values[22]).all() and np.isfinite(ds["pm25"].values[23]).all()


@pytest.mark.parametrize("switch", [{"non_numeric": (1, 3, "1015A", "abc")}, {"negative": (1, 3, "1015A")}])
def test_bad_cells_become_nan(tmp_path: Path, switch: dict) -> None:
    make_cnemc_folder(tmp_path, **switch)
    ds = load_cnemc(tmp_path)
    assert np.isnan(float(ds["pm25"].sel(station="1015A").isel(time=27)))
    assert int(ds["pm25"].isnull().sum()) == 1


def test_date_mismatch_uses_the_rows_own_date(tmp_path: Path) -> None:
    make_cnemc_folder(tmp_path, n_days=3, date_mismatch=1)
    ds = load_cnemc(tmp_path)
    # rows of the middle file say 2020-03-04: they land there; 2020-03-02 is absent
    assert ds.sizes["time"] == 96
    present = ds["present"].values
    assert not present[24:48].any() and present[72:].all()
    assert float(ds["pm25"].sel(station="1001A").isel(time=72)) == pm25_value(24, 0)


def test_dead_stations_get_one_warning_and_stay_inactive(tmp_path: Path) -> None:
    make_cnemc_folder(tmp_path, dead_stations=("1099A", "1100A"))
    ds = load_cnemc(tmp_path)
    hits = _find(load_warnings(ds), "never report PM2.5")
    assert len(hits) == 1 and "1099A" in hits[0].message and "1100A" in hits[0].message
    act = dict(zip(ds["station"].values, active_mask(ds), strict=True))
    assert not act["1099A"] and not act["1100A"] and act["1001A"]
    assert summary(ds)["stations_total"] == 6 and summary(ds)["stations_active"] == 4


def test_fireworks_spike_is_kept_and_flagged(tmp_path: Path) -> None:
    make_cnemc_folder(tmp_path, spike=(1, 2, "1081A", 1500.0))
    ds = load_cnemc(tmp_path)
    assert float(ds["pm25"].sel(station="1081A").isel(time=26)) == 1500.0
    assert int(ds["qc_pm25"].sel(station="1081A").isel(time=26)) & int(RANGE)


@pytest.mark.parametrize("switch", [{"corrupt_gzip": 1}, {"bad_header": 1}])
def test_one_unreadable_day_among_many_is_skipped(tmp_path: Path, switch: dict) -> None:
    make_cnemc_folder(tmp_path, **switch)
    ds = load_cnemc(tmp_path)
    assert ds.sizes["time"] == 72 and not ds["present"].values[24:48].any() and ds["present"].values[48:].all()


def test_codes_without_coordinates_are_kept_with_nan(tmp_path: Path) -> None:
    make_cnemc_folder(tmp_path, extra_codes=("2172A",), no_coords=("1015A",))
    ds = load_cnemc(tmp_path)
    for code in ("2172A", "1015A"):
        assert np.isnan(float(ds["lat"].sel(station=code))) and np.isnan(float(ds["lon"].sel(station=code)))
    hits = _find(load_warnings(ds), "no coordinates")
    assert len(hits) == 1 and "2172A" in hits[0].message and "1015A" in hits[0].message
    assert summary(ds)["stations_active"] == 3  # data but no coordinates: never a graph node


def test_is_bth_derived_from_city_when_column_absent(tmp_path: Path) -> None:
    make_cnemc_folder(tmp_path, with_is_bth=False, n_days=1)
    ds = load_cnemc(tmp_path)
    assert ds["is_bth"].sel(station=["1001A", "1015A", "1029A", "1081A"]).values.tolist() == [True, True, True, False]


def test_station_columns_are_the_union_over_files(tmp_path: Path) -> None:
    make_cnemc_folder(tmp_path, drop_station_from_day=(0, "1029A"))
    ds = load_cnemc(tmp_path)
    s = ds["pm25"].sel(station="1029A").values
    assert np.isnan(s[:24]).all() and np.isfinite(s[24:]).all()


def test_other_period_and_station_set(tmp_path: Path) -> None:
    """The normal case: another period (crossing a month end), other stations, plain .csv files."""
    stations = (STATIONS[1], ("3001A", "某站", "承德", 117.9, 40.97), ("3002A", "另站", "济南", 117.0, 36.7))
    make_cnemc_folder(tmp_path, start="2021-07-30", n_days=4, stations=stations, gz=False)
    info = summary(load_stationset(path=tmp_path))
    assert info["time_start"] == "2021-07-30T00" and info["time_end"] == "2021-08-02T23"
    assert info["stations_total"] == 3 and info["stations_active"] == 3 and info["bth_active"] == 2
    assert info["hours_present"] == 96 and info["pm25_missing_rate"] == 0.0 and info["warnings"] == 0


def _plain(tmp_path: Path, body: str, day: str = "20200301", header: str = "date,hour,type,1001A,1015A") -> Path:
    """A one-file folder with hand-written CSV text (the clean fixture's stations list)."""
    make_cnemc_folder(tmp_path, n_days=0)
    (tmp_path / "hourly" / f"china_sites_{day}.csv").write_bytes((header + "\n" + body).encode())
    return tmp_path


def test_quoted_fields_and_crlf_are_read(tmp_path: Path) -> None:
    _plain(tmp_path, '20200301,0,PM2.5,"53",7\r\n20200301,1,PM2.5,"",8\r\n20200301,1,AQI,"x",9\r\n')
    ds = load_cnemc(tmp_path)
    assert ds["pm25"].values[:2].tolist() == [[53.0, 7.0], [pytest.approx(np.nan, nan_ok=True), 8.0]]
    assert [w.message[:25] for w in load_warnings(ds)] == ["only 2 of 24 hours presen"] and ds.sizes["time"] == 24


@pytest.mark.parametrize(("body", "text", "line"), [
    ("20200301,0,PM2.5,1,2,3\n20200301,1,PM2.5,4,5\n", "too long row", 2),
    ("20200301,0,PM2.5,1,2\n20200301,24,PM2.5,4,5\n", "hour '24' is not 0–23", 3),
    ("20200301,0,PM2.5,1,2\n2020-03-01,1,PM2.5,4,5\n", "date '2020-03-01' is not YYYYMMDD", 3),
    ("20200301,0,PM2.5,1,2\n19700101,1,PM2.5,4,5\n", "far outside the folder's period", 3),
    ("20200301,0,PM2.5,1,2\n20200301,0,PM1,4,5\n", "unknown row type 'PM1'", 3),
    ("20200301,0,PM2.5,1,inf\n", "non-numeric", 2),
])
def test_row_defects_are_dropped_with_their_line(tmp_path: Path, body: str, text: str, line: int) -> None:
    ds = load_cnemc(_plain(tmp_path, body))
    hits = _find(load_warnings(ds), text)
    assert len(hits) == 1 and hits[0].line == line and hits[0].file == "hourly/china_sites_20200301.csv"
    good_hour, good_value = (1, 4.0) if "too long" in text else (0, 1.0)
    assert ds.sizes["time"] == 24 and float(ds["pm25"].values[good_hour, 0]) == good_value


def test_duplicate_hour_across_files_keeps_the_first_file(tmp_path: Path) -> None:
    fx = make_cnemc_folder(tmp_path, n_days=2, gz=False)
    copy = tmp_path / "hourly" / "china_sites_20200303.csv"  # a re-published copy of 2020-03-01
    copy.write_text(fx.files[fx.days[0]].read_text(encoding="utf-8").replace(",10,", ",99,"), encoding="utf-8")
    ds = load_cnemc(tmp_path)
    ws = load_warnings(ds)
    assert any(w.file.endswith("china_sites_20200303.csv") and "already read from china_sites_20200301.csv"
               in w.message for w in ws)
    np.testing.assert_array_equal(ds["pm25"].to_pandas()[fx.codes].values[:48], fx.pm25.values.astype("float32"))
    assert not ds["present"].values[48:].any()  # the copy contributes nothing new


def test_raw_cnemc_station_list_headers_are_understood(tmp_path: Path) -> None:
    make_cnemc_folder(tmp_path, n_days=1)
    (tmp_path / "stations_region.csv").write_text(
        "监测点编码,监测点名称,城市,经度,纬度\n1001A,万寿西宫,北京,116.366,39.8673\n1081A,尖草坪,太原,112.487,37.939\n",
        encoding="utf-8")
    ds = load_cnemc(tmp_path)
    assert ds["is_bth"].sel(station=["1001A", "1081A"]).values.tolist() == [True, False]
    assert float(ds["lat"].sel(station="1001A")) == pytest.approx(39.8673)
    assert np.isnan(float(ds["lat"].sel(station="1015A")))  # not in this list: kept without coordinates


def test_bad_coordinates_in_the_list_are_nan_with_a_warning(tmp_path: Path) -> None:
    make_cnemc_folder(tmp_path, n_days=1)
    st = tmp_path / "stations_region.csv"
    st.write_text(st.read_text(encoding="utf-8").replace("39.8673", "399.8"), encoding="utf-8")
    ds = load_cnemc(tmp_path)
    hits = _find(load_warnings(ds), "invalid coordinates")
    assert len(hits) == 1 and hits[0].file == "stations_region.csv" and hits[0].line == 2
    assert np.isnan(float(ds["lat"].sel(station="1001A")))


# ------------------------------------------------------------------ unusable folders: clear errors


def test_no_stations_list_is_a_clear_error(tmp_path: Path) -> None:
    make_cnemc_folder(tmp_path, station_list=False, n_days=1)
    with pytest.raises(DataNotFound, match="stations_region.csv"):
        load_stationset(path=tmp_path)


def test_no_daily_files_is_a_clear_error(tmp_path: Path) -> None:
    make_cnemc_folder(tmp_path, n_days=1)
    for f in (tmp_path / "hourly").iterdir():
        f.unlink()
    with pytest.raises(DataNotFound, match=r"china_sites_YYYYMMDD"):
        load_stationset(path=tmp_path)


@pytest.mark.parametrize(("switch", "text"), [({"corrupt_gzip": 0}, "unreadable gzip"),
                                               ({"bad_header": 0}, "date,hour,type")])
def test_only_file_unreadable_is_a_clear_error(tmp_path: Path, switch: dict, text: str) -> None:
    make_cnemc_folder(tmp_path, n_days=1, **switch)
    with pytest.raises(CorruptFile, match=text) as err:
        load_cnemc(tmp_path)
    assert "china_sites_20200301.csv.gz" in str(err.value)


def test_stations_list_without_coordinates_columns_is_a_clear_error(tmp_path: Path) -> None:
    make_cnemc_folder(tmp_path, n_days=1)
    (tmp_path / "stations_region.csv").write_text("code,name,city\n1001A,a,北京\n", encoding="utf-8")
    with pytest.raises(CorruptFile, match=r"stations_region.csv:1: header lacks column\(s\) lon, lat"):
        load_cnemc(tmp_path)


def test_file_with_only_ignored_rows_is_unusable(tmp_path: Path) -> None:
    make_cnemc_folder(tmp_path, n_days=1, gz=False)
    f = tmp_path / "hourly" / "china_sites_20200301.csv"
    f.write_text("date,hour,type,1001A\n20200301,0,AQI,40\n", encoding="utf-8")
    with pytest.raises(UnusableData, match="no file has a usable data row"):
        load_cnemc(tmp_path)


def test_bad_file_name_is_ignored_with_a_warning(tmp_path: Path) -> None:
    make_cnemc_folder(tmp_path, n_days=2)
    (tmp_path / "hourly" / "china_sites_20201340.csv").write_text("junk\n", encoding="utf-8")
    ws = load_warnings(parse_folder(tmp_path))
    assert any("china_sites_20201340.csv" in w.file and "ignored" in w.message for w in ws)


# ------------------------------------------------------------------ the real 2019 folder


@pytest.mark.realdata
def test_real_2019_folder_matches_source_facts(shared_data: Path) -> None:
    ds = load_stationset(path=shared_data / "raw" / "cnemc_bth_2019")
    info = summary(ds)
    assert abs(info["stations_active"] - 345) <= 5 and abs(info["bth_active"] - 80) <= 2
    assert info["time_start"] == "2019-01-01T00" and info["time_end"] == "2019-12-31T23"
    assert info["stations_total"] == 400 and info["hours_present"] == 8466 and info["wind"] == "none"
    assert 0.0 < info["pm25_missing_rate"] < 0.07
    ws = load_warnings(ds)
    assert _find(ws, "day missing") and "20190408" in _find(ws, "day missing")[0].file
    fire = _find(ws, "> 1000")
    assert len(fire) == 1 and "20190205" in fire[0].file and fire[0].line is not None
    assert "42 station(s) never report PM2.5" in " ".join(w.message for w in ws)
    assert {"1028A", "2172A", "2177A", "2184A"} <= set(_find(ws, "no coordinates")[0].message.replace(",", " ").split())
    pm = ds["pm25"].values
    assert np.nanmax(pm) == pytest.approx(1523) and np.nanmin(pm) >= 0
    assert int((ds["qc_pm25"].values & int(RANGE)).astype(bool).sum()) == int((pm > 1000).sum()) == 9
    assert pd.Timestamp(ds["time"].values[0]) == pd.Timestamp("2019-01-01 00:00")


# --------------------------------------------------------------------------- defects inside readable files


@pytest.mark.parametrize("cells", [("inf", "abc"), ("-inf", "n/a"), ("abc", "inf"), ("1e999", "—")])
def test_inf_and_non_numeric_cells_in_one_file_become_nan(tmp_path: Path, cells: tuple[str, str]) -> None:
    ds = load_cnemc(_plain(tmp_path, f"20200301,0,PM2.5,{cells[0]},{cells[1]}\n20200301,1,PM2.5,4,5\n"))
    hits = _find(load_warnings(ds), "2 non-numeric cell(s)")
    assert len(hits) == 1 and hits[0].line == 2
    assert np.isnan(ds["pm25"].values[0]).all() and ds["pm25"].values[1].tolist() == [4.0, 5.0]


@pytest.mark.parametrize(("typ", "var", "ceiling"), [
    ("PM2.5", "pm25", 2000.0), ("PM10", "pm10", 10000.0), ("SO2", "so2", 5000.0),
    ("NO2", "no2", 2000.0), ("O3", "o3", 1500.0), ("CO", "co", 100.0),
])
def test_values_above_the_physical_ceiling_become_nan_with_file_and_line(
        tmp_path: Path, typ: str, var: str, ceiling: float) -> None:
    from core.data.qc import PHYSICAL_MAX

    assert PHYSICAL_MAX[var] == ceiling
    body = f"20200301,0,{typ},{ceiling * 1.01:g},{ceiling:g}\n20200301,1,{typ},1e9,3\n"
    ds = load_cnemc(_plain(tmp_path, body))
    hits = _find(load_warnings(ds), "above the physical ceiling")
    assert len(hits) == 1 and hits[0].line == 2 and hits[0].file == "hourly/china_sites_20200301.csv"
    assert "2 " + var in hits[0].message and "lines 2, 3" in hits[0].message
    got = ds[var].values[:2]
    assert np.isnan(got[:, 0]).all() and got[:, 1].tolist() == [ceiling, 3.0]  # the ceiling itself is allowed


def test_a_real_fireworks_peak_is_kept_and_flagged_not_removed(tmp_path: Path) -> None:
    ds = load_cnemc(_plain(tmp_path, "20200301,0,PM2.5,1523,5\n"))
    assert float(ds["pm25"].values[0, 0]) == 1523.0 and int(ds["qc_pm25"].values[0, 0]) & int(RANGE)
    assert not _find(load_warnings(ds), "physical ceiling")


def test_an_impossible_value_never_reaches_the_flags_or_the_data(tmp_path: Path) -> None:
    make_cnemc_folder(tmp_path, spike=(1, 2, "1081A", 1e9))
    ds = load_cnemc(tmp_path)
    assert float(ds["pm25"].max()) < 2000 and int(ds["qc_pm25"].sum()) == 0


@pytest.mark.parametrize(("lon2", "differ"), [("117.5", True), ("116.366", False)])
def test_a_station_listed_twice_says_whether_the_coordinates_differ(tmp_path: Path, lon2: str, differ: bool) -> None:
    make_cnemc_folder(tmp_path, n_days=1)
    st = tmp_path / "stations_region.csv"
    lines = st.read_text(encoding="utf-8").splitlines()
    lines.append(lines[1].replace("116.366", lon2))
    st.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ds = load_cnemc(tmp_path)
    hits = _find(load_warnings(ds), "station 1001A listed again")
    assert len(hits) == 1 and hits[0].line == len(lines) and "first entry (line 2) is used" in hits[0].message
    assert ("different coordinates" in hits[0].message) is differ
    if differ:
        assert "117.5" in hits[0].message and "116.366" in hits[0].message
    assert float(ds["lon"].sel(station="1001A")) == pytest.approx(116.366)


def test_a_row_misdated_into_the_next_day_does_not_replace_that_days_row(tmp_path: Path) -> None:
    fx = make_cnemc_folder(tmp_path, n_days=2, gz=False)
    first = fx.files[fx.days[0]]
    lines = first.read_text(encoding="utf-8").splitlines()
    k = next(i for i, ln in enumerate(lines) if ln.startswith("20200301,5,PM2.5,"))
    lines[k] = "20200302,5,PM2.5," + ",".join(["999"] * len(fx.codes))
    first.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ds = load_cnemc(tmp_path)
    got = ds["pm25"].to_pandas()[fx.codes]
    np.testing.assert_array_equal(got.loc["2020-03-02T05"].values, fx.pm25.loc["2020-03-02T05"].values)
    assert np.isnan(got.loc["2020-03-01T05"].values).all()  # the misdated row's own hour is not invented
    hits = _find(load_warnings(ds), "whose date matches that row")
    assert len(hits) == 1 and hits[0].file == "hourly/china_sites_20200301.csv" and hits[0].line == k + 1


def test_a_day_with_entirely_empty_pm25_is_warned(tmp_path: Path) -> None:
    make_cnemc_folder(tmp_path, n_days=2, empty_cells=tuple((1, h, c) for h in range(24) for c in
                                                           [s[0] for s in STATIONS]))
    ds = load_cnemc(tmp_path)
    hits = _find(load_warnings(ds), "PM2.5 is empty for the whole day")
    assert [w.file for w in hits] == ["hourly/china_sites_20200302.csv.gz"]
    assert np.isfinite(ds["pm10"].values[24:]).all()  # other species of that day are kept


@pytest.mark.parametrize(("name", "content"), [("china_sites_20200302.csv", b""),
                                               ("china_sites_20200302.csv.gz", None)])
def test_an_empty_file_is_reported_as_empty(tmp_path: Path, name: str, content: bytes | None) -> None:
    import gzip

    fx = make_cnemc_folder(tmp_path, n_days=2, gz=name.endswith(".gz"))
    fx.files[fx.days[1]].write_bytes(gzip.compress(b"") if content is None else content)
    ds = load_cnemc(tmp_path)
    hits = _find(load_warnings(ds), "file is empty")
    assert len(hits) == 1 and hits[0].file == f"hourly/{name}" and "day skipped" in hits[0].message
    assert not _find(load_warnings(ds), "header must start")


@pytest.mark.parametrize("where", ["stations", "quoted_day"])
def test_a_bare_carriage_return_in_a_cell_is_survived(tmp_path: Path, where: str) -> None:
    """Found by the property test: a stray CR made the csv module raise `_csv.Error` (a traceback)."""
    if where == "stations":
        make_cnemc_folder(tmp_path, n_days=1, gz=False)
        st = tmp_path / "stations_region.csv"
        st.write_bytes(st.read_bytes().replace(b"116.366", b"3\r", 1))
    else:
        _plain(tmp_path, '20200301,0,PM2.5,"5",6\n20200301,1,PM2.5,7\r,8\n')
    ds = load_cnemc(tmp_path)
    assert ds.sizes["station"] >= 2 and load_warnings(ds)
