"""Fit a model's interval calibration (:class:`core.intervals.IntervalTable`) on validation days.

The calibration cells are the model's predictions at *hidden non-test stations on validation days*
(days 21–23 of each month), over the station set with ``S_test`` removed entirely (the evaluation's
:func:`~core.evaluation.runner.validation_view`). So that the intervals hold for every protocol, the
hidden sets span them all — holdout, mask-30 … mask-90 and sparse-30km on that set — and every hidden
BTH station of a run is a calibration cell (its distances to the nearest observed stations and their
spread are what the interval's scale conditions on). Each protocol runs once per validation station fold
(:func:`core.data.splits.validation_folds`: every non-test BTH station is a target in one of them), so the
quantiles of isolated targets are not set by the few of one fold. ``S_test`` and test days never take part.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import numpy as np
import xarray as xr

from core.contracts.provenance import data_sha256, git_commit
from core.contracts.settings import DEFAULT_DATASET
from core.contracts.stationset import active_stations
from core.data.load import load_stationset
from core.engine.models import get_model
from core.evaluation.protocols import Run, runs_for
from core.evaluation.runner import (
    all_folds,
    resolve_test_stations,
    run_model,
    scored_hours,
    validation_view,
)
from core.intervals import DEFAULT_LEVEL, IntervalTable, Neighbours, fingerprint, fit_table, save_table

PROTOCOLS = ("holdout", "mask-30", "mask-50", "mask-70", "mask-90", "sparse-30km")
SEEDS = (0, 1)


def calibration_runs(view: xr.Dataset, s_val: Sequence[str], protocols: Sequence[str] = PROTOCOLS,
                     seeds: Sequence[int] = SEEDS) -> list[Run]:
    """The protocols' runs on the validation view, each scoring every hidden BTH station."""
    bth = set(view["station"].values[view["is_bth"].values.astype(bool)].astype(str)) or set(
        view["station"].values.astype(str))
    runs = []
    for name in protocols:
        for r in runs_for(name, view, s_val, list(seeds) if name.startswith("mask-") else None):
            runs.append(Run(seed=r.seed, hidden=r.hidden, scored=tuple(c for c in r.hidden if c in bth),
                            group=f"{name}:{r.group}"))
    return runs


def calibration_cells(model, view: xr.Dataset, runs: Sequence[Run], hours: np.ndarray,
                      tick: Callable[[], None] = lambda: None) -> dict[str, np.ndarray]:
    """Flat (pred, truth, near_km, third_km, spread, times, stations) over all runs' scored cells (µg/m³, km,
    log units, station codes)."""
    scores = run_model(model, view, runs, hours, tick=tick)
    codes = view["station"].values.astype(str)
    pos = {c: i for i, c in enumerate(codes)}
    lat, lon = view["lat"].values.astype(float), view["lon"].values.astype(float)
    t_all = view["time"].values
    index = {t: i for i, t in enumerate(t_all)}
    pm = view["pm25"].values
    near_of = Neighbours()
    out = {k: [] for k in ("pred", "truth", "near_km", "third_km", "spread", "times", "stations")}
    for run, p, y, t in zip(runs, scores.pred, scores.truth, scores.times, strict=True):
        if not p.size:
            continue
        rows = np.array([index[x] for x in t[:, 0]])
        cols = np.array([pos[c] for c in run.scored])
        observed = ~np.isin(codes, run.hidden)
        avail = observed[None, :] & np.isfinite(pm[rows])
        hood = near_of(avail, pm[rows], lat, lon, lat[cols], lon[cols])
        for k, v in (("pred", p), ("truth", y), ("near_km", hood.near_km), ("third_km", hood.third_km),
                     ("spread", hood.spread), ("times", t),
                     ("stations", np.broadcast_to(np.asarray(run.scored)[None, :], p.shape))):
            out[k].append(v.ravel())
    return {k: np.concatenate(v) if v else np.zeros(0) for k, v in out.items()}


def calibrate(model_name: str, dataset: str | None = DEFAULT_DATASET, stations: xr.Dataset | None = None,
              model=None, level: float = DEFAULT_LEVEL, protocols: Sequence[str] = PROTOCOLS,
              seeds: Sequence[int] = SEEDS, save: bool = True, progress: bool = False,
              folds: Sequence[int] | None = None) -> IntervalTable:
    """Fit (and by default ship) the interval table of ``model_name`` on validation days of ``dataset``,
    over the validation station ``folds`` (default all of them)."""
    if stations is None:
        stations = load_stationset(dataset=dataset)
    model = model if model is not None else get_model(model_name, calibrated=False)
    ds = active_stations(stations)
    s_test = resolve_test_stations(stations, None)
    folds = list(all_folds(stations) if folds is None else folds)
    if not folds:
        raise ValueError("calibrate needs at least one validation fold")
    view = validation_view(ds, s_test)[0]  # the same station set for every fold: only the hidden stations change
    runs: list[Run] = []
    for f in folds:
        runs += [Run(seed=r.seed, hidden=r.hidden, scored=r.scored, group=f"fold{f}:{r.group}")
                 for r in calibration_runs(view, validation_view(ds, s_test, f)[1], protocols, seeds)]
    hours, _ = scored_hours(view, None, use_split=True, split="val")
    bar = None
    if progress:
        from tqdm import tqdm

        from core.evaluation.runner import windows

        bar = tqdm(total=len(runs) * len(windows(hours)), desc=f"calibrate {model_name}", unit="infer")
    cells = calibration_cells(model, view, runs, hours, tick=(bar.update if bar is not None else lambda: None))
    if bar is not None:
        bar.close()
    meta = {
        "fitted_on": dataset or stations.attrs.get("source", ""), "split": "val (days 21-23)",
        "protocols": list(protocols), "seeds": list(seeds), "val_folds": folds,
        "test_stations_excluded": list(s_test),
        "n_cells": int(np.isfinite(cells["pred"]).sum()), "data_sha256": data_sha256(stations),
        "commit": git_commit(), "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "score": "log1p residual / sigma, sigma = exp(scale model in scale_terms); one quantile pair for every "
                 "distance, its level raised by the coverage lost on held-out validation months and stations",
    }
    table = fit_table(model_name, cells["pred"], cells["truth"], cells["near_km"], cells["times"], level,
                      third_km=cells["third_km"], spread=cells["spread"], fingerprint_=fingerprint(model_name),
                      meta=meta, stations=cells["stations"])
    if save:
        save_table(table)
    return table
