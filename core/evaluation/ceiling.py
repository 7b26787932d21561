"""How much of a model's error at hidden stations could any input explain? A validation-day diagnosis.

Issue 9 set goals near what its filer called the information ceiling. This module measures that ceiling on
validation days, through the evaluation's own code path (:func:`cell_table` runs
:func:`core.evaluation.runner.run_model` on each validation station fold), with three questions:

1. **Offset oracles** (:func:`offset_oracle_mae`): the MAE left if each hidden station's median error were known
   and removed, per station (a static offset: siting, local sources) or per station and month (a slowly varying
   one). Both read the hidden truth: they bound what a perfect offset model could reach, they are not models.
2. **Static covariates** (:func:`loso_r2`): how much of the per-station log offset the static inputs a place
   has (log population of its 0.1° cell and 3×3 block, elevation) explain on stations left out one at a time.
3. **Neighbours' anomalies** (:func:`anomaly_correlation`): whether two hidden stations' period offsets (after
   their own yearly offset) move together, by distance. Where they do not, no interpolation of residuals from
   neighbours can recover them.

Everything is on validation days with ``S_test`` removed; nothing here chooses a setting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import xarray as xr

from core.contracts.seasons import SEASONS, season_of
from core.evaluation.metrics import mae
from core.evaluation.runner import prepare_evaluation, run_model
from core.geo import haversine_pairs_km

PERIODS = {"month": "M", "week": "W"}  # anomaly periods: pandas period codes
DISTANCE_BANDS_KM = ((0.0, 10.0), (10.0, 20.0), (20.0, 40.0), (40.0, 80.0), (80.0, 1000.0))
MIN_SHARED_PERIODS = 4  # a pair needs this many periods with both stations scored to give a correlation


def cell_table(models: Mapping[str, object], protocol: str, stations: xr.Dataset,
               folds: Sequence[int]) -> pd.DataFrame:
    """Every scored validation cell of ``protocol`` over validation station ``folds``: one row per (fold, run,
    station, time) with ``y`` (truth, µg/m³) and one prediction column (µg/m³) per model of ``models`` (name →
    Kriger). Rows where any model or the truth is missing are dropped, so every column is scored on the same
    cells."""
    parts = []
    for fold in folds:
        setup = prepare_evaluation(protocol, None, None, None, None, None, stations, "val", fold)
        cols: dict[str, list[np.ndarray]] = {}
        base: dict[str, list[np.ndarray]] = {"run": [], "station": [], "time": [], "y": []}
        for name, model in models.items():
            scores = run_model(model, setup.ds, setup.runs, setup.hours)
            cols[name] = [p.ravel() for p in scores.pred]
            if base["y"]:
                continue
            for i, (run, y, t) in enumerate(zip(setup.runs, scores.truth, scores.times, strict=True)):
                base["run"].append(np.full(y.size, i))
                base["station"].append(np.broadcast_to(np.asarray(run.scored, dtype=object)[None, :], y.shape).ravel())
                base["time"].append(t.ravel())
                base["y"].append(y.ravel())
        frame = pd.DataFrame({k: np.concatenate(v) for k, v in base.items()})
        for name, preds in cols.items():
            pred = np.concatenate(preds)
            if pred.shape != frame["y"].shape:  # a model that skipped a window the first one scored
                raise ValueError(f"{name} scored {pred.size} cells of fold {fold}, the first model {len(frame)}")
            frame[name] = pred
        frame.insert(0, "fold", fold)
        parts.append(frame)
    out = pd.concat(parts, ignore_index=True)
    return out[np.isfinite(out[["y", *models]].to_numpy(float)).all(axis=1)].reset_index(drop=True)


def _log_residual(cells: pd.DataFrame, model: str) -> pd.Series:
    """log1p(truth) − log1p(prediction) per cell: PM2.5 offsets scale with the level."""
    return np.log1p(cells["y"].clip(lower=0)) - np.log1p(cells[model].clip(lower=0))


def _period(cells: pd.DataFrame, period: str) -> pd.Series:
    return pd.DatetimeIndex(cells["time"]).to_period(PERIODS[period]).astype(str)


def offset_oracle_mae(cells: pd.DataFrame, model: str, by: Sequence[str] = ("station",)) -> float:
    """MAE (µg/m³) of ``model`` after removing each group's median error (groups: ``by`` columns of ``cells``, and
    ``month`` or ``week`` for the calendar period). An oracle: the offsets are read from the hidden truth."""
    keys = [_period(cells, k) if k in PERIODS else cells[k] for k in by]
    err = cells["y"] - cells[model]
    return float((err - err.groupby(keys).transform("median")).abs().mean())


def station_bias(cells: pd.DataFrame, model: str) -> pd.Series:
    """Median log error (log1p truth − log1p prediction) of ``model`` per station: its static offset."""
    return _log_residual(cells, model).groupby(cells["station"]).median()


def loso_r2(target: pd.Series, covariates: pd.DataFrame) -> float:
    """Leave-one-station-out R² of a linear fit of ``target`` (per station) on ``covariates`` (same index) with an
    intercept: 1 − Σ(held-out error²) / Σ(deviation from the mean²). ≤ 0 means the covariates predict nothing on
    stations they were not fitted on."""
    frame = covariates.join(target.rename("_target"), how="inner").dropna()
    x = np.c_[np.ones(len(frame)), frame.drop(columns="_target").to_numpy(float)]
    y = frame["_target"].to_numpy(float)
    if len(y) <= x.shape[1]:
        return float("nan")
    held_out = np.empty(len(y))
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        coef, *_ = np.linalg.lstsq(x[keep], y[keep], rcond=None)
        held_out[i] = x[i] @ coef
    return float(1.0 - ((y - held_out) ** 2).sum() / ((y - y.mean()) ** 2).sum())


def period_anomalies(cells: pd.DataFrame, model: str, period: str = "month") -> pd.Series:
    """Median log error per (fold, run, station, period) minus that station's mean over the periods (its yearly
    offset removed): what is left to interpolate from neighbours."""
    r = _log_residual(cells, model)
    off = r.groupby([cells["fold"], cells["run"], cells["station"], _period(cells, period)]).median()
    return off - off.groupby(level=[0, 1, 2]).transform("mean")


def anomaly_correlation(cells: pd.DataFrame, model: str, coords: pd.DataFrame, period: str = "month",
                        bands: Sequence[tuple[float, float]] = DISTANCE_BANDS_KM) -> list[dict]:
    """Mean correlation of two hidden stations' period anomalies (:func:`period_anomalies`) per distance band,
    over every pair scored in the same fold and run; ``coords`` has ``lat``, ``lon`` per station code.
    Rows: ``{"lo_km", "hi_km", "pairs", "mean_corr"}`` (``mean_corr`` None for a band without pairs)."""
    anomalies = period_anomalies(cells, model, period)
    dist, corr = [], []
    for _, group in anomalies.groupby(level=[0, 1]):
        table = group.droplevel([0, 1]).unstack()  # station × period
        codes = table.index.to_numpy()
        if len(codes) < 2:
            continue
        lat, lon = coords.loc[codes, "lat"].to_numpy(float), coords.loc[codes, "lon"].to_numpy(float)
        km = haversine_pairs_km(lat[:, None], lon[:, None], lat[None, :], lon[None, :])
        values = table.to_numpy(float)
        for i, j in zip(*np.triu_indices(len(codes), 1), strict=True):
            both = np.isfinite(values[i]) & np.isfinite(values[j])
            if both.sum() < MIN_SHARED_PERIODS or values[i, both].std() == 0 or values[j, both].std() == 0:
                continue
            dist.append(km[i, j])
            corr.append(np.corrcoef(values[i, both], values[j, both])[0, 1])
    dist_a, corr_a = np.asarray(dist), np.asarray(corr)
    rows = []
    for lo, hi in bands:
        sel = (dist_a >= lo) & (dist_a < hi)
        rows.append({"lo_km": lo, "hi_km": hi, "pairs": int(sel.sum()),
                     "mean_corr": float(corr_a[sel].mean()) if sel.any() else None})
    return rows


def ceiling_summary(cells: pd.DataFrame, model: str, reference: str, covariates: pd.DataFrame,
                    coords: pd.DataFrame) -> dict:
    """Every figure of this module for one protocol's ``cells``: MAE of ``model`` and of each other column, the
    offset oracles as MAE and as a ratio to ``reference`` (e.g. IDW), the station offsets' spread and what the
    ``covariates`` explain of them, the anomaly correlations by distance (month and week), and per season the ratio
    and the per-station oracle's ratio."""
    preds = [c for c in cells.columns if c not in ("fold", "run", "station", "time", "y")]
    maes = {m: mae(cells[m].to_numpy(), cells["y"].to_numpy()) for m in preds}
    ref = maes[reference]
    oracles = {}
    for by in (("station",), ("station", "month")):
        value = offset_oracle_mae(cells, model, by)
        oracles["×".join(by)] = {"mae": value, f"ratio_to_{reference}": value / ref}
    bias = station_bias(cells, model)
    seasons = season_of(pd.DatetimeIndex(cells["time"]).to_numpy())
    by_season = {}
    for name in SEASONS:  # the station oracle within the season: its offset may differ from the year's
        part = cells[seasons == name]
        if len(part):
            truth = part["y"].to_numpy()
            ref_s = mae(part[reference].to_numpy(), truth)
            by_season[name] = {"cells": len(part), f"ratio_to_{reference}": mae(part[model].to_numpy(), truth) / ref_s,
                               "station_oracle_ratio": offset_oracle_mae(part, model, ("station",)) / ref_s}
    return {
        "cells": len(cells), "stations": int(cells["station"].nunique()),
        "mae": maes, f"ratio_to_{reference}": maes[model] / ref,
        "offset_oracle": oracles,
        "station_log_offset": {"sd": float(bias.std()), "mean": float(bias.mean()),
                               "loso_r2": loso_r2(bias, covariates), "covariates": list(covariates.columns),
                               "corr": {c: float(np.corrcoef(bias, covariates.loc[bias.index, c])[0, 1])
                                        for c in covariates.columns}},
        "anomaly_correlation": {p: anomaly_correlation(cells, model, coords, p) for p in PERIODS},
        "by_season": by_season,
    }
