"""The ceiling diagnosis: offset oracles, leave-one-station-out covariate fits, anomaly correlations by distance."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.baselines.idw import IDW
from core.baselines.knn import KNN
from core.evaluation.ceiling import (
    anomaly_correlation,
    ceiling_summary,
    cell_table,
    loso_r2,
    offset_oracle_mae,
    station_bias,
)
from core.evaluation.runner import all_folds, evaluate


@pytest.fixture
def cells() -> pd.DataFrame:
    """Six stations, a year of daily cells; truth = 40 µg/m³ × (1 + noise); 'model' misses each station by a fixed
    factor, 'drift' by a factor that changes every month, 'perfect' never misses."""
    rng = np.random.default_rng(3)
    times = pd.date_range("2019-01-01", "2019-12-31", freq="D")
    rows = []
    for s in range(6):
        y = 40 * (1 + 0.3 * rng.random(len(times)))
        static = np.exp(rng.normal(0, 0.2))
        monthly = np.exp(rng.normal(0, 0.2, 12))[times.month - 1]
        rows.append(pd.DataFrame({"fold": 0, "run": 0, "station": f"S{s}", "time": times, "y": y,
                                  "model": y * static, "drift": y * static * monthly, "perfect": y}))
    return pd.concat(rows, ignore_index=True)


def _mae(cells: pd.DataFrame, col: str) -> float:
    return float((cells[col] - cells["y"]).abs().mean())


@pytest.mark.parametrize(("model", "by", "removes_all"), [
    ("model", ("station",), False), ("model", ("station", "month"), False),
    ("drift", ("station",), False), ("drift", ("station", "month"), False), ("perfect", ("station",), True),
])
def test_offset_oracle_removes_the_groups_median_error(cells, model, by, removes_all) -> None:
    got = offset_oracle_mae(cells, model, by)
    if removes_all:
        assert got == 0.0
        return
    assert 0 < got < _mae(cells, model)  # a multiplicative miss leaves a little once its median is removed
    # the finer grouping never does worse, and removes the monthly drift the per-station one cannot
    assert offset_oracle_mae(cells, model, ("station", "month")) <= offset_oracle_mae(cells, model, ("station",))
    if model == "drift" and by == ("station",):
        assert got > 2 * offset_oracle_mae(cells, model, ("station", "month"))


def test_station_bias_is_the_median_log_miss(cells) -> None:
    bias = station_bias(cells, "model")
    one = cells[cells.station == "S2"]
    assert bias["S2"] == pytest.approx(np.median(np.log1p(one.y) - np.log1p(one.model)))
    assert (station_bias(cells, "perfect") == 0).all()


@pytest.mark.parametrize(("signal", "explained"), [(2.0, True), (0.0, False)])
def test_loso_r2_tells_a_covariate_that_predicts_from_one_that_does_not(signal, explained) -> None:
    rng = np.random.default_rng(0)
    cov = pd.DataFrame({"a": rng.normal(size=40), "b": rng.normal(size=40)}, index=[f"S{i}" for i in range(40)])
    target = pd.Series(signal * cov["a"] + rng.normal(0, 0.3, 40), index=cov.index)
    r2 = loso_r2(target, cov)
    assert (r2 > 0.9) if explained else (r2 < 0.1)


def test_loso_r2_needs_more_stations_than_terms() -> None:
    cov = pd.DataFrame({"a": [1.0, 2.0]}, index=["x", "y"])
    assert np.isnan(loso_r2(pd.Series([0.1, 0.2], index=cov.index), cov))


@pytest.mark.parametrize("period", ["month", "week"])
def test_anomalies_shared_by_near_stations_correlate_and_far_ones_do_not(period) -> None:
    """Stations A and B (5 km apart) share a period anomaly; C (300 km away) has its own."""
    rng = np.random.default_rng(1)
    times = pd.date_range("2019-01-01", "2019-12-31 23:00", freq="6h")
    key = pd.DatetimeIndex(times).to_period({"month": "M", "week": "W"}[period]).astype(str)
    periods = pd.unique(key)
    shared = dict(zip(periods, rng.normal(0, 0.3, len(periods)), strict=True))
    own = dict(zip(periods, rng.normal(0, 0.3, len(periods)), strict=True))
    rows = []
    for code, anomaly in (("A", shared), ("B", shared), ("C", own)):
        y = np.full(len(times), 50.0)
        pred = np.expm1(np.log1p(y) - key.map(anomaly).to_numpy(float) - 0.1)  # plus a yearly offset
        rows.append(pd.DataFrame({"fold": 0, "run": 0, "station": code, "time": times, "y": y, "m": pred}))
    coords = pd.DataFrame({"lat": [39.9, 39.945, 37.2], "lon": [116.4, 116.4, 116.4]}, index=["A", "B", "C"])
    table = {(r["lo_km"], r["hi_km"]): r for r in anomaly_correlation(pd.concat(rows), "m", coords, period)}
    assert table[0.0, 10.0]["pairs"] == 1 and table[0.0, 10.0]["mean_corr"] == pytest.approx(1.0)
    far = table[80.0, 1000.0]
    assert far["pairs"] == 2 and abs(far["mean_corr"]) < 0.5
    assert table[10.0, 20.0] == {"lo_km": 10.0, "hi_km": 20.0, "pairs": 0, "mean_corr": None}


@pytest.mark.parametrize("protocol", ["holdout", "mask-50"])
def test_cell_table_scores_what_evaluate_scores(region, protocol) -> None:
    folds = all_folds(region)
    table = cell_table({"idw": IDW(2.0), "knn": KNN()}, protocol, region, folds)
    assert list(table.columns) == ["fold", "run", "station", "time", "y", "idw", "knn"]
    for f in folds:
        rep = evaluate("idw", protocol, stations=region, split="val", fold=f, baselines=(), models={"idw": IDW(2.0)})
        mine = table[table.fold == f]
        assert len(mine) == rep["metrics"]["n"]
        assert _mae(mine, "idw") == pytest.approx(rep["metrics"]["mae"], rel=1e-6)
    # the truth column is the station set's PM2.5 at that station and hour
    row = table.iloc[len(table) // 2]
    assert region["pm25"].sel(station=row.station, time=row.time).item() == pytest.approx(row.y)


def test_ceiling_summary_reports_the_oracles_against_the_reference(region) -> None:
    table = cell_table({"idw": IDW(2.0), "knn": KNN()}, "mask-50", region, all_folds(region))
    coords = pd.DataFrame({"lat": region["lat"].values, "lon": region["lon"].values},
                          index=region["station"].values.astype(str))
    cov = coords.rename(columns={"lat": "northing", "lon": "easting"})
    out = ceiling_summary(table, "knn", "idw", cov, coords)
    assert out["ratio_to_idw"] == pytest.approx(_mae(table, "knn") / _mae(table, "idw"))
    station = out["offset_oracle"]["station"]
    assert station["mae"] <= out["mae"]["knn"] + 1e-9
    assert out["offset_oracle"]["station×month"]["mae"] <= station["mae"] + 1e-9
    assert station["ratio_to_idw"] == pytest.approx(station["mae"] / out["mae"]["idw"])
    assert out["station_log_offset"]["covariates"] == ["northing", "easting"]
    assert set(out["anomaly_correlation"]) == {"month", "week"}
    assert list(out["by_season"]) == ["DJF"]  # the region is January only: the one season is the whole table
    winter = out["by_season"]["DJF"]
    assert winter["cells"] == len(table) and winter["ratio_to_idw"] == pytest.approx(out["ratio_to_idw"])
    assert winter["station_oracle_ratio"] == pytest.approx(station["ratio_to_idw"])


def test_ceiling_summary_splits_a_year_into_its_seasons(cells) -> None:
    coords = pd.DataFrame({"lat": 39.0 + 0.1 * np.arange(6), "lon": 116.0 + 0.1 * np.arange(6)},
                          index=[f"S{s}" for s in range(6)])
    out = ceiling_summary(cells, "drift", "model", coords.rename(columns={"lat": "a", "lon": "b"}), coords)
    assert list(out["by_season"]) == ["DJF", "MAM", "JJA", "SON"]
    assert sum(v["cells"] for v in out["by_season"].values()) == len(cells)
    for v in out["by_season"].values():  # the median is the offset that minimises a station's MAE: never worse
        assert 0 < v["station_oracle_ratio"] <= v["ratio_to_model"] + 1e-9
