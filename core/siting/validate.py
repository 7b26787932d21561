"""Does the siting score pick the monitors that help most?  A masking experiment on validation days.

Honest by construction: ``S_test`` stations are dropped before anything (never input, never scored),
and only validation hours (days 21–23 of every month) are predicted and scored.

For each seed: hide ``hide_share`` of the remaining BTH stations at random (the rest, and every
non-BTH station, stay observed). Score each hidden station as a candidate site with the same rule
as the map — uncertainty there (mean 90 % interval width at the station when the model gives one,
else the distance to the nearest observed station) × people in its 0.1° population cell — and pick
``k`` by the same greedy with spacing. Restore those k (observe them) and re-infer; likewise restore
``k`` hidden stations drawn at random (``random_draws`` draws per seed). Each pair is scored on the
*same* stations: the hidden ones restored by neither, so restoring a hard station never removes it
from the score. MAE (µg/m³) over every validation hour with a measurement.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from core.contracts.kriger import Kriger, Window
from core.contracts.settings import MAX_HISTORY_HOURS
from core.data.population import point_population
from core.data.splits import select_test_stations, time_split
from core.engine.infer import infer
from core.errors import InvalidRequest
from core.siting.score import DEFAULT_SPACING_KM, DISTANCE, INTERVAL, greedy_sites, nearest_km


@dataclass(frozen=True)
class ValidationConfig:
    hide_share: float = 0.5
    k: int = 5
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    random_draws: int = 4
    min_spacing_km: float = DEFAULT_SPACING_KM
    use_interval: bool = True  # False: rank by the distance proxy even when the model gives intervals


def validation_windows(times: np.ndarray) -> list[Window]:
    """Contiguous spans of validation hours (one per month) as inclusive windows."""
    val = time_split(times)["val"]
    idx = np.flatnonzero(val)
    if not len(idx):
        raise InvalidRequest("The dataset has no validation days (21–23 of a month): siting cannot be validated.")
    breaks = np.flatnonzero(np.diff(idx) > 1)
    starts = np.r_[idx[0], idx[breaks + 1]]
    ends = np.r_[idx[breaks], idx[-1]]
    return [Window(times[a], times[b]) for a, b in zip(starts, ends, strict=True)]


def predict_windows(model: Kriger, ds: xr.Dataset, observed: np.ndarray, windows: Sequence[Window]
                    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray]:
    """Predictions, interval widths (or None) and truth at every station over ``windows`` → ``(hours, station)``."""
    times = ds["time"].values
    preds, widths, truths = [], [], []
    for w in windows:
        start = np.datetime64(w.start) - np.timedelta64(MAX_HISTORY_HOURS, "h")  # models that read the past get it
        sl = ds.isel(time=(times >= start) & (times <= w.end))
        res = infer(model, sl, observed, window=w)
        preds.append(res.station_pred.values)
        truths.append(sl["pm25"].sel(time=res.station_pred["time"]).values)
        if res.station_lo is not None and res.station_hi is not None:
            widths.append((res.station_hi - res.station_lo).values)
    width = np.concatenate(widths) if len(widths) == len(windows) else None
    return np.concatenate(preds), width, np.concatenate(truths)


def mae(pred: np.ndarray, truth: np.ndarray, cols: np.ndarray) -> float:
    p, t = pred[:, cols], truth[:, cols]
    ok = np.isfinite(t) & np.isfinite(p)
    return float(np.abs(p[ok] - t[ok]).mean()) if ok.any() else float("nan")


@dataclass
class SitingView:
    """The stations the experiment runs on (``S_test`` dropped) and what every seed reads from them."""

    ds: xr.Dataset
    s_test: set[str]
    codes: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    pool: np.ndarray  # indices of the BTH stations that may be hidden
    n_hide: int
    windows: list[Window]
    people: np.ndarray  # people in each station's population cell


def siting_view(ds: xr.Dataset, pop: xr.DataArray, cfg: ValidationConfig) -> SitingView:
    """Drop ``S_test``, size the hidden set (too few BTH stations is an :class:`InvalidRequest`), find the
    validation windows and each station's population."""
    s_test = set(select_test_stations(ds))
    keep = ~np.isin(ds["station"].values.astype(str), sorted(s_test))
    ds = ds.isel(station=keep)
    lat, lon = ds["lat"].values.astype(float), ds["lon"].values.astype(float)
    pool = np.flatnonzero(ds["is_bth"].values.astype(bool))
    n_hide = int(round(cfg.hide_share * len(pool)))
    if n_hide < cfg.k + 2:
        raise InvalidRequest(f"Only {len(pool)} BTH stations outside S_test: too few to hide {cfg.k} + 2.")
    windows = validation_windows(ds["time"].values)
    return SitingView(ds, s_test, ds["station"].values.astype(str), lat, lon, pool, n_hide, windows,
                      point_population(lat, lon, pop))


def rank_hidden(view: SitingView, hidden: np.ndarray, observed: np.ndarray, width: np.ndarray | None,
                cfg: ValidationConfig) -> tuple[np.ndarray, str]:
    """The ``k`` hidden stations the map's rule would restore (uncertainty × people, greedy with spacing) and
    which uncertainty it used (:data:`INTERVAL` or :data:`DISTANCE`)."""
    lat, lon = view.lat, view.lon
    if cfg.use_interval and width is not None and np.isfinite(width[:, hidden]).any():
        unc, kind = np.nanmean(width[:, hidden], axis=0), INTERVAL
    else:
        unc = nearest_km(lat[hidden], lon[hidden], lat[observed], lon[observed])
        kind = DISTANCE
    near = nearest_km(lat[hidden], lon[hidden], lat[observed], lon[observed])
    score = unc * view.people[hidden]
    picks = greedy_sites(score, lat[hidden], lon[hidden], near, cfg.k, cfg.min_spacing_km)
    ranked = hidden[[p.index for p in picks]]
    if len(ranked) < cfg.k:  # spacing or empty cells left fewer: fill by score order so counts match
        rest = [h for h in hidden[np.argsort(-score)] if h not in set(ranked)]
        ranked = np.r_[ranked, rest[:cfg.k - len(ranked)]].astype(int)
    return ranked, kind


def restored(observed: np.ndarray, stations: np.ndarray) -> np.ndarray:
    """``observed`` with ``stations`` observed again."""
    out = observed.copy()
    out[stations] = True
    return out


def run_seed(model: Kriger, view: SitingView, seed: int, cfg: ValidationConfig) -> dict:
    """One seed: hide, rank, restore the ranked ``k`` and ``random_draws`` random ``k``; MAE on the same stations."""
    rng = np.random.default_rng(seed)
    ds, codes, windows = view.ds, view.codes, view.windows
    hidden = np.sort(rng.choice(view.pool, size=view.n_hide, replace=False))
    observed = np.ones(len(codes), bool)
    observed[hidden] = False
    pred, width, truth = predict_windows(model, ds, observed, windows)
    ranked, kind = rank_hidden(view, hidden, observed, width, cfg)
    pred_r, _, _ = predict_windows(model, ds, restored(observed, ranked), windows)
    draws = []
    for _ in range(cfg.random_draws):
        rand = rng.choice(hidden, size=cfg.k, replace=False)
        pred_x, _, _ = predict_windows(model, ds, restored(observed, rand), windows)
        common = np.setdiff1d(hidden, np.union1d(ranked, rand))
        draws.append({"restored": sorted(codes[rand].tolist()), "scored": sorted(codes[common].tolist()),
                      "ranked_mae": mae(pred_r, truth, common), "random_mae": mae(pred_x, truth, common)})
    return {
        "seed": int(seed), "hidden": sorted(codes[hidden].tolist()), "uncertainty": kind,
        "ranked_restored": codes[ranked].tolist(), "mae_before_restoring": mae(pred, truth, hidden),
        "ranked_mae": float(np.mean([d["ranked_mae"] for d in draws])),
        "random_mae": float(np.mean([d["random_mae"] for d in draws])), "random_draws": draws,
    }


def siting_report(view: SitingView, per_seed: list[dict], cfg: ValidationConfig) -> dict:
    """The validation JSON: ranked vs random MAE over seeds, the settings and every seed's record."""
    ranked_mae = float(np.mean([r["ranked_mae"] for r in per_seed]))
    random_mae = float(np.mean([r["random_mae"] for r in per_seed]))
    kinds = {r["uncertainty"] for r in per_seed}
    months = sorted({str(np.datetime64(w.start, "M")) for w in view.windows})
    return {
        "ranked_mae": ranked_mae, "random_mae": random_mae, "ratio": ranked_mae / random_mae,
        "seeds": [int(s) for s in cfg.seeds],
        "ranked_mae_per_seed": [r["ranked_mae"] for r in per_seed],
        "random_mae_per_seed": [r["random_mae"] for r in per_seed],
        "seeds_ranked_better": int(sum(r["ranked_mae"] < r["random_mae"] for r in per_seed)),
        "uncertainty": sorted(kinds)[0] if len(kinds) == 1 else ",".join(sorted(kinds)),
        "k": cfg.k, "hide_share": cfg.hide_share, "random_draws_per_seed": cfg.random_draws,
        "min_spacing_km": cfg.min_spacing_km,
        "hours": f"validation days 21-23 of each month, {months[0]} to {months[-1]} ({len(view.windows)} months)",
        "excluded_s_test": sorted(view.s_test), "units": "ug m-3",
        "protocol": ("S_test dropped; per seed hide hide_share of the other BTH stations, rank hidden stations by "
                     "uncertainty x people, restore top-k vs k at random, MAE at hidden stations restored by "
                     "neither, validation hours only"),
        "per_seed": per_seed,
    }


def validate_siting(ds: xr.Dataset, model: Kriger, pop: xr.DataArray, cfg: ValidationConfig = ValidationConfig(),
                    progress: Callable[[str], None] | None = None) -> dict:
    """Ranked vs random restoring of hidden stations on validation days of active StationSet ``ds``."""
    view = siting_view(ds, pop, cfg)
    per_seed = []
    for seed in cfg.seeds:
        rec = run_seed(model, view, seed, cfg)
        per_seed.append(rec)
        if progress:
            progress(f"seed {seed}: ranked {rec['ranked_mae']:.2f} vs random {rec['random_mae']:.2f} µg/m³")
    return siting_report(view, per_seed, cfg)
