"""AQI-36 loader: string station ids, 01:00 start, evaluation mask, defects, real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.contracts.stationset import load_warnings, summary
from core.data.aqi36 import detect, load_aqi36
from core.data.load import load_stationset
from core.errors import CorruptFile, DataNotFound, UnusableData

IDS = ["001001", "001002", "001010"]


def _table(times: pd.DatetimeIndex, values: np.ndarray, ids: list[str] = IDS) -> str:
    lines = ["datetime," + ",".join(ids)]
    for t, row in zip(times, values, strict=True):
        cells = ["" if np.isnan(x) else f"{x:g}" for x in row]
        lines.append(t.strftime("%Y/%m/%d %H:%M:%S") + "," + ",".join(cells))
    return "\n".join(lines) + "\n"


def write_aqi36(root: Path, hours: int = 5, *, ground: str | None = None, missing: str | None = None,
                latlng: str | None = None, with_missing: bool = True) -> tuple[Path, np.ndarray, np.ndarray]:
    """Tiny AQI-36 folder starting 2014-05-01 01:00; returns (folder, ground values, missing values)."""
    root.mkdir(parents=True, exist_ok=True)
    times = pd.date_range("2014-05-01 01:00", periods=hours, freq="h")
    gt = np.arange(hours * len(IDS), dtype=float).reshape(hours, len(IDS)) + 10
    gt[1, 0] = np.nan                      # missing in the truth itself
    obs = gt.copy()
    obs[0, 1] = obs[2, 2] = np.nan         # removed for evaluation
    (root / "pm25_ground.txt").write_text(ground if ground is not None else _table(times, gt))
    if with_missing:
        (root / "pm25_missing.txt").write_text(missing if missing is not None else _table(times, obs))
    (root / "pm25_latlng.txt").write_text(
        latlng if latlng is not None else
        "sensor_id,latitude,longitude\n001001,40.090679,116.173553\n001002,40.00395,116.20531\n"
        "001010,39.9,116.4\n"
    )
    return root, gt, obs


def test_tiny_folder_contract(tmp_path: Path) -> None:
    root, gt, obs = write_aqi36(tmp_path / "aqi")
    ds = load_aqi36(root)
    assert list(ds["station"].values) == IDS  # leading zeros kept
    assert pd.Timestamp(ds["time"].values[0]) == pd.Timestamp("2014-05-01 01:00")
    assert ds.sizes["time"] == 5
    np.testing.assert_array_equal(np.isnan(ds["pm25"].values), np.isnan(gt))
    np.testing.assert_allclose(ds["pm25"].values[np.isfinite(gt)], gt[np.isfinite(gt)])
    np.testing.assert_allclose(ds["lat"].values[:2], [40.090679, 40.00395])
    assert ds["is_bth"].values.all() and set(ds["city"].values) == {"北京"}
    mask = ds["eval_mask"].values
    assert mask.dtype == bool
    expected = np.isfinite(gt) & np.isnan(obs)
    np.testing.assert_array_equal(mask, expected)
    assert mask.sum() == 2 and not mask[1, 0]  # a cell missing in the truth is never an evaluation cell
    s = summary(ds)
    assert s["wind"] == "none" and s["stations_active"] == 3 and s["warnings"] == 0


def test_eval_mask_survives_cache(tmp_path: Path) -> None:
    root, _, _ = write_aqi36(tmp_path / "aqi")
    a, b = load_aqi36(root), load_aqi36(root)
    assert b["eval_mask"].dtype == bool
    np.testing.assert_array_equal(a["eval_mask"].values, b["eval_mask"].values)
    assert list(b["station"].values) == IDS


def test_without_missing_file_no_mask_and_a_warning(tmp_path: Path) -> None:
    root, _, _ = write_aqi36(tmp_path / "aqi", with_missing=False)
    ds = load_aqi36(root)
    assert "eval_mask" not in ds
    assert any("pm25_missing.txt not found" in str(w) for w in load_warnings(ds))


@pytest.mark.parametrize(
    ("extra_line", "expect"),
    [
        ("2014/05/01 06:00:00,1,2", "3 fields instead of 4"),
        ("2014/05/01 06:00:00,1,x,3", "unparseable value 'x'"),
        ("2014/05/01 05:00:00,1,2,3", "duplicated datetime"),
        ("yesterday,1,2,3", "unparseable datetime 'yesterday'"),
        ("2014/05/01 06:30:00,1,2,3", "not on the hour"),
    ],
)
def test_defects_warn_with_file_and_line(warning_texts, tmp_path: Path, extra_line: str, expect: str) -> None:
    times = pd.date_range("2014-05-01 01:00", periods=5, freq="h")
    ground = _table(times, np.ones((5, 3))) + extra_line + "\n"
    root, _, _ = write_aqi36(tmp_path / "aqi", ground=ground)
    ds = load_aqi36(root)
    msgs = warning_texts(ds)
    assert any(m.startswith("pm25_ground.txt:7: ") and expect in m for m in msgs), msgs
    assert np.isfinite(ds["pm25"].values[:5]).all()


def test_gap_hour_is_absent(tmp_path: Path) -> None:
    times = pd.date_range("2014-05-01 01:00", periods=5, freq="h").delete(2)
    root, _, _ = write_aqi36(tmp_path / "aqi", ground=_table(times, np.ones((4, 3))))
    ds = load_aqi36(root)
    assert ds.sizes["time"] == 5 and ds["present"].values.tolist() == [True, True, False, True, True]
    assert any("1 hours" in str(w) and "no row" in str(w) for w in load_warnings(ds))


def test_station_without_coordinates(tmp_path: Path) -> None:
    root, _, _ = write_aqi36(tmp_path / "aqi", latlng="sensor_id,latitude,longitude\n001001,40.09,116.17\n")
    ds = load_aqi36(root)
    assert np.isnan(ds["lat"].values[1:]).all()
    assert summary(ds)["stations_active"] == 1
    assert any("001002" in str(w) and "no coordinates" in str(w) for w in load_warnings(ds))


@pytest.mark.parametrize(
    ("ground", "error", "match"),
    [
        ("time,001001\n2014/05/01 01:00:00,1\n", CorruptFile, "missing column"),
        ("datetime,001001\nnot-a-time,1\n", UnusableData, "no rows with a valid datetime"),
        ("", CorruptFile, "file is empty"),
    ],
)
def test_unusable_ground_file(tmp_path: Path, ground: str, error: type, match: str) -> None:
    root, _, _ = write_aqi36(tmp_path / "aqi", ground=ground)
    with pytest.raises(error, match=match):
        load_aqi36(root)


def test_missing_coordinates_file(tmp_path: Path) -> None:
    root, _, _ = write_aqi36(tmp_path / "aqi")
    (root / "pm25_latlng.txt").unlink()
    with pytest.raises(DataNotFound, match="pm25_latlng.txt"):
        load_aqi36(root)


def test_detect_and_generic_loader(tmp_path: Path) -> None:
    root, _, _ = write_aqi36(tmp_path / "aqi")
    assert detect(root) and not detect(tmp_path)
    assert load_stationset(path=root).attrs["source"] == "aqi36_stmvl"


@pytest.mark.realdata
def test_real_aqi36(shared_data: Path) -> None:
    ds = load_stationset(path=shared_data / "raw" / "aqi36_stmvl")
    s = summary(ds)
    assert s["stations_total"] == 36 and s["stations_active"] == 36 and s["bth_active"] == 36
    assert s["hours_present"] == 8759 and ds.sizes["time"] == 8759
    assert (s["time_start"], s["time_end"]) == ("2014-05-01T01", "2015-04-30T23")
    assert ds["station"].values[0] == "001001" and ds["station"].values[-1] == "001036"
    # SOURCE.md: 13.25 % of ground cells empty; evaluation mask 11.33 % of cells
    assert s["pm25_missing_rate"] == pytest.approx(0.1325, abs=5e-4)
    assert float(ds["eval_mask"].mean()) == pytest.approx(0.1133, abs=5e-4)
    assert not (ds["eval_mask"].values & np.isnan(ds["pm25"].values)).any()
    assert 39.5 < float(ds["lat"].min()) and float(ds["lat"].max()) < 40.6
    assert s["warnings"] == 0
