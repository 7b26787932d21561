"""Inverse-distance weighting: ẑ(x) = Σ d_i^-p z_i / Σ d_i^-p over the stations observed that hour.

The power p is tuned on validation days (:func:`tune_power`) and stored in
``assets/models/idw/card.json``; ``get_model("idw")`` reads it (p = 2 when absent).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import xarray as xr

from core.baselines._neighbours import chunks, distances, idw_matrix, make_result, window_problem
from core.engine.result import InferenceResult, Window
from core.grid import GridSpec
from core.paths import MODELS_DIR
from core.registry import register

DEFAULT_POWER = 2.0
CARD = MODELS_DIR / "idw" / "card.json"


class IDW:
    """Kriger: inverse-distance weighting with power ``power`` over all observed stations."""

    name = "idw"
    history_hours = 0  # per-hour method: reads nothing before the window

    def __init__(self, power: float = DEFAULT_POWER) -> None:
        if not power > 0:
            raise ValueError(f"IDW power must be > 0, got {power}")
        self.power = float(power)

    def infer(self, stations: xr.Dataset, observed: np.ndarray, grid: GridSpec | None,
              window: Window) -> InferenceResult:
        """``station_pred`` (time, station) µg/m³; NaN at hours where no station is observed."""
        p = window_problem(stations, observed, window)
        dist = distances(p, grid)  # (N, S)
        pred = np.concatenate([idw_matrix(p.values[sl], dist, self.power) for sl in chunks(len(p.times), 256)]) \
            if len(p.times) else np.zeros((0, dist.shape[0]))
        return make_result(p, pred, grid, self.name, {"power": self.power})


def tune_power(
    stations: xr.Dataset,
    observed_train: np.ndarray,
    val_times: np.ndarray,
    candidates: Sequence[float] = (1.0, 1.5, 2.0, 2.5, 3.0, 4.0),
    hide_share: float = 0.5,
    repeats: int = 5,
    seed: int = 0,
) -> tuple[float, dict[str, float]]:
    """Pick the power with the lowest MAE on validation hours.

    ``observed_train``: (station,) bool — stations that may be used (never ``S_test``);
    ``val_times``: (time,) bool over ``stations.time``. In each repeat a random ``hide_share`` of the
    usable BTH stations (all usable ones if none is BTH) is hidden and predicted from the rest.
    Returns (best power, {power: MAE µg/m³}).
    """
    allowed = np.asarray(observed_train, bool)
    vals = stations["pm25"].values[np.asarray(val_times, bool)].astype(float)
    vals[:, ~allowed] = np.nan
    from core.geo import haversine_km

    lat, lon = stations["lat"].values, stations["lon"].values
    dist = np.maximum(haversine_km(lat, lon, lat, lon), 1e-3)
    pool = np.flatnonzero(allowed & stations["is_bth"].values.astype(bool))
    if len(pool) < 2:
        pool = np.flatnonzero(allowed)
    rng = np.random.default_rng(seed)
    errs = {float(c): [] for c in candidates}
    for _ in range(repeats):
        hidden = rng.choice(pool, size=max(1, int(round(hide_share * len(pool)))), replace=False)
        inp = vals.copy()
        inp[:, hidden] = np.nan
        truth = vals[:, hidden]
        for c in candidates:
            pred = idw_matrix(inp, dist[hidden], float(c))
            ok = np.isfinite(truth) & np.isfinite(pred)
            errs[float(c)].append(np.abs(pred[ok] - truth[ok]))
    mae = {str(c): float(np.concatenate(e).mean()) for c, e in errs.items()}
    best = min(errs, key=lambda c: mae[str(c)])
    return best, mae


def load_power(card: Path | None = None) -> float:
    """The tuned power from ``card.json`` (default :data:`CARD`), or :data:`DEFAULT_POWER` without a card."""
    card = CARD if card is None else card
    if card.is_file():
        return float(json.loads(card.read_text())["power"])
    return DEFAULT_POWER


@register("idw")
def make_idw(power: float | None = None) -> IDW:
    return IDW(power if power is not None else load_power())


def tune_and_save(dataset: str = "cnemc_bth_2019", card: Path | None = None) -> dict:
    """Tune the power on the validation days of ``dataset`` (``S_test`` excluded) and write ``card.json``."""
    import datetime as dt

    from core.data.load import load_stationset
    from core.data.stationset import active_stations
    from core.evaluation.runner import data_sha256, git_commit
    from core.evaluation.splits import select_test_stations, time_split

    raw = load_stationset(dataset=dataset)
    ds = active_stations(raw)
    s_test = select_test_stations(raw)
    allowed = ~np.isin(ds["station"].values.astype(str), s_test)
    val = time_split(ds["time"].values)["val"]
    best, table = tune_power(ds, allowed, val)
    info = {
        "model": "idw", "power": best, "candidates_mae": table, "tuned_on": dataset, "split": "val (days 21-23)",
        "hide_share": 0.5, "repeats": 5, "S_test_excluded": s_test, "data_sha256": data_sha256(raw),
        "commit": git_commit(), "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    card = CARD if card is None else card
    card.parent.mkdir(parents=True, exist_ok=True)
    card.write_text(json.dumps(info, ensure_ascii=False, indent=1))
    return info


if __name__ == "__main__":  # python -m core.baselines.idw [dataset]
    import sys

    print(json.dumps(tune_and_save(*sys.argv[1:2]), ensure_ascii=False, indent=1))
