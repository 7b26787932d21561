"""UCI Beijing multi-site loader: units, compass wind → u/v, defects with file:line, real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.contracts.stationset import summary
from core.data.load import load_stationset
from core.data.uci import COMPASS, detect, load_uci
from core.errors import CorruptFile, DataNotFound, UnusableData

HEADER = ('"No","year","month","day","hour","PM2.5","PM10","SO2","NO2","CO","O3","TEMP","PRES","DEWP","RAIN",'
          '"wd","WSPM","station"')
COORDS = (
    "station,cnemc_code,name_zh,city,lon,lat,coord_source\n"
    "Dongsi,1003A,东四,北京,116.434,39.9522,test\n"
    "Tiantan,1004A,天坛,北京,116.434,39.8745,test\n"
)


def _row(no: int, t: pd.Timestamp, site: str, pm25: str = "10", co: str = "300", wd: str = '"N"',
         wspm: str = "2") -> str:
    return (f"{no},{t.year},{t.month},{t.day},{t.hour},{pm25},20,3,17,{co},60,1.5,1020,-10.5,0,{wd},{wspm},"
            f'"{site}"')


def write_uci(root: Path, hours: int = 6, rows: dict[str, list[str]] | None = None,
              coords: str | None = COORDS) -> Path:
    """Tiny UCI folder: two sites (Dongsi, Tiantan), ``hours`` hourly rows from 2014-01-01 00:00.

    ``rows`` replaces the generated rows of a site (list of CSV lines without the header).
    """
    root.mkdir(parents=True, exist_ok=True)
    times = pd.date_range("2014-01-01", periods=hours, freq="h")
    for site in ("Dongsi", "Tiantan"):
        lines = (rows or {}).get(site) or [_row(i + 1, t, site) for i, t in enumerate(times)]
        (root / f"PRSA_Data_{site}_20140101-20140101.csv").write_text("\n".join([HEADER, *lines]) + "\n")
    if coords is not None:
        (root / "station_coords.csv").write_text(coords, encoding="utf-8")
    return root


def test_tiny_folder_contract(tmp_path: Path) -> None:
    ds = load_uci(write_uci(tmp_path / "uci"))
    assert list(ds["station"].values) == ["1003A", "1004A"]
    assert ds.sizes["time"] == 6
    assert str(ds["time"].values[0]).startswith("2014-01-01T00")
    assert ds["time"].attrs["tz"] == "Asia/Shanghai"
    assert list(ds["name"].values) == ["Dongsi / 东四", "Tiantan / 天坛"]
    assert ds["is_bth"].values.all() and set(ds["city"].values) == {"北京"}
    np.testing.assert_allclose(ds["lat"].values, [39.9522, 39.8745])
    # CO: 300 µg/m³ in the UCI file → 0.3 mg/m³ in the contract
    np.testing.assert_allclose(ds["co"].values, 0.3, rtol=1e-6)
    assert ds["co"].attrs["units"] == "mg m-3"
    np.testing.assert_allclose(ds["t2m"].values, 1.5)
    np.testing.assert_allclose(ds["td2m"].values, -10.5)
    # north wind 2 m/s blows toward the south: v = -2, u = 0
    np.testing.assert_allclose(ds["u10"].values, 0.0, atol=1e-6)
    np.testing.assert_allclose(ds["v10"].values, -2.0, atol=1e-6)
    s = summary(ds)
    assert s["wind"] == "measured" and s["stations_active"] == 2 and s["warnings"] == 0


@pytest.mark.parametrize(
    ("wd", "wspm", "u", "v"),
    [
        ('"N"', "2", 0.0, -2.0),
        ('"E"', "3", -3.0, 0.0),   # east wind blows westward
        ('"S"', "1", 0.0, 1.0),
        ('"SW"', "2", np.sqrt(2), np.sqrt(2)),
        ('"NNE"', "1", -np.sin(np.radians(22.5)), -np.cos(np.radians(22.5))),
        ("NA", "0", 0.0, 0.0),     # calm: speed 0 needs no direction
        ('"W"', "0", 0.0, 0.0),
        ("NA", "2", np.nan, np.nan),  # speed without direction cannot be split into u, v
        ('"N"', "NA", np.nan, np.nan),
    ],
)
def test_compass_wind_to_uv(tmp_path: Path, wd: str, wspm: str, u: float, v: float) -> None:
    t = pd.Timestamp("2014-01-01")
    rows = {"Dongsi": [_row(1, t, "Dongsi", wd=wd, wspm=wspm)]}
    ds = load_uci(write_uci(tmp_path / "uci", hours=1, rows=rows))
    got = ds.sel(station="1003A")
    np.testing.assert_allclose([float(got["u10"][0]), float(got["v10"][0])], [u, v], atol=1e-6)


def test_compass_table_is_sixteen_points_clockwise() -> None:
    assert len(COMPASS) == 16 and COMPASS["N"] == 0 and COMPASS["E"] == 90 and COMPASS["NNW"] == 337.5


def test_gap_hours_are_absent_not_zero(tmp_path: Path) -> None:
    times = pd.date_range("2014-01-01", periods=6, freq="h")
    rows = {s: [_row(i + 1, t, s) for i, t in enumerate(times) if i not in (2, 3)] for s in ("Dongsi", "Tiantan")}
    ds = load_uci(write_uci(tmp_path / "uci", rows=rows))
    assert ds.sizes["time"] == 6
    assert ds["present"].values.tolist() == [True, True, False, False, True, True]
    assert np.isnan(ds["pm25"].values[2:4]).all()
    assert summary(ds)["hours_present"] == 4


@pytest.mark.parametrize(
    ("bad_line", "expect"),
    [
        ("7,2014,1,1,6,10,20", "fields instead of 18"),           # truncated row
        ('7,2014,1,1,6,abc,20,3,17,300,60,1.5,1020,-10.5,0,"N",2,"Dongsi"', "unparseable value 'abc'"),
        ('7,2014,1,1,6,10,20,3,17,300,60,1.5,1020,-10.5,0,"XYZ",2,"Dongsi"', "unknown compass direction 'XYZ'"),
        ('7,2014,1,1,5,10,20,3,17,300,60,1.5,1020,-10.5,0,"N",2,"Dongsi"', "duplicated hour"),
        ('7,2014,13,1,6,10,20,3,17,300,60,1.5,1020,-10.5,0,"N",2,"Dongsi"', "invalid date/hour"),
    ],
)
def test_defects_warn_with_file_and_line(warning_texts, tmp_path: Path, bad_line: str, expect: str) -> None:
    times = pd.date_range("2014-01-01", periods=6, freq="h")
    rows = {"Dongsi": [_row(i + 1, t, "Dongsi") for i, t in enumerate(times)] + [bad_line]}
    ds = load_uci(write_uci(tmp_path / "uci", rows=rows))
    msgs = warning_texts(ds)
    # header is line 1, six good rows, the bad row is line 8
    assert any(m.startswith("PRSA_Data_Dongsi_20140101-20140101.csv:8: ") and expect in m for m in msgs), msgs
    assert np.isfinite(ds["pm25"].values[:6]).all()  # the good rows survive


def test_unparseable_cell_is_missing_not_zero(tmp_path: Path) -> None:
    t = pd.Timestamp("2014-01-01")
    rows = {"Dongsi": [_row(1, t, "Dongsi", pm25="n/a")]}
    ds = load_uci(write_uci(tmp_path / "uci", hours=1, rows=rows))
    assert np.isnan(float(ds["pm25"].sel(station="1003A")[0]))


def test_site_without_coordinates_is_kept_without_position(warning_texts, tmp_path: Path) -> None:
    coords = "station,cnemc_code,name_zh,city,lon,lat\nDongsi,1003A,东四,北京,116.434,39.9522\n"
    ds = load_uci(write_uci(tmp_path / "uci", coords=coords))
    assert "Tiantan" in ds["station"].values.tolist()
    assert np.isnan(float(ds["lat"].sel(station="Tiantan")))
    assert any("Tiantan" in m and "no coordinates" in m for m in warning_texts(ds))
    assert summary(ds)["stations_active"] == 1


def test_missing_coordinates_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataNotFound, match="station_coords.csv"):
        load_uci(write_uci(tmp_path / "uci", coords=None))


def test_coordinates_file_without_columns_is_corrupt(tmp_path: Path) -> None:
    with pytest.raises(CorruptFile, match="missing column"):
        load_uci(write_uci(tmp_path / "uci", coords="site,x,y\nDongsi,1,2\n"))


def test_unusable_folder(tmp_path: Path) -> None:
    root = write_uci(tmp_path / "uci")
    for f in root.glob("PRSA_Data_*.csv"):
        f.write_text("foo,bar\n1,2\n")
    with pytest.raises(UnusableData, match="none of the 2 PRSA_Data files"):
        load_uci(root)
    with pytest.raises(UnusableData):
        load_uci(tmp_path)  # no PRSA files at all


def test_detect_and_generic_loader(tmp_path: Path) -> None:
    root = write_uci(tmp_path / "uci")
    assert detect(root) and not detect(tmp_path / "nothing")
    ds = load_stationset(path=root)
    assert ds.attrs["source"] == "uci_beijing_multisite"


def test_cache_hit_and_invalidation(tmp_path: Path) -> None:
    root = write_uci(tmp_path / "uci")
    a = load_uci(root)
    b = load_uci(root)  # from cache
    assert a.attrs["input_sha256"] == b.attrs["input_sha256"]
    np.testing.assert_array_equal(a["pm25"].values, b["pm25"].values)
    assert b["time"].attrs["tz"] == "Asia/Shanghai"
    t = pd.Timestamp("2014-01-01")
    write_uci(root, hours=1, rows={"Dongsi": [_row(1, t, "Dongsi", pm25="77")]})
    c = load_uci(root)
    assert c.attrs["input_sha256"] != a.attrs["input_sha256"]
    assert float(c["pm25"].sel(station="1003A")[0]) == 77.0


@pytest.mark.realdata
def test_real_uci(shared_data: Path) -> None:
    ds = load_stationset(path=shared_data / "raw" / "uci_beijing_multisite")
    s = summary(ds)
    assert s["stations_total"] == 12 and s["stations_active"] == 12 and s["bth_active"] == 12
    assert s["hours_present"] == 35064 and ds.sizes["time"] == 35064
    assert (s["time_start"], s["time_end"]) == ("2013-03-01T00", "2017-02-28T23")
    assert s["wind"] == "measured"
    assert list(ds["station"].values) == [f"{1000 + i}A" for i in range(1, 13)]
    # SOURCE.md: PM2.5 missing 2.08 %; CO in mg/m³ now (UCI µg/m³ values ~100–10,000)
    assert s["pm25_missing_rate"] == pytest.approx(0.0208, abs=5e-4)
    assert 0.1 < float(ds["co"].median()) < 5.0
    assert float(np.isnan(ds["u10"].values).mean()) < 0.01
    assert s["warnings"] == 0
