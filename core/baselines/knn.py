"""k-nearest-neighbours: the plain mean of the k nearest stations observed that hour."""

from __future__ import annotations

import numpy as np
import xarray as xr

from core.baselines._neighbours import (
    candidate_order,
    chunks,
    complete_pairs,
    distances,
    make_result,
    ranked_neighbours,
    window_problem,
)
from core.contracts.grid import GridSpec
from core.contracts.kriger import InferenceResult, Window
from core.contracts.registry import register

DEFAULT_K = 5
CANDIDATES = 64  # nearest stations searched first per target; grown where fewer than k are observed


class KNN:
    """Kriger: unweighted mean of the ``k`` nearest observed stations (fewer if fewer are observed)."""

    name = "knn"
    history_hours = 0  # per-hour method: reads nothing before the window

    def __init__(self, k: int = DEFAULT_K) -> None:
        if k < 1:
            raise ValueError(f"k must be ≥ 1, got {k}")
        self.k = int(k)

    def infer(self, stations: xr.Dataset, observed: np.ndarray, grid: GridSpec | None,
              window: Window) -> InferenceResult:
        """``station_pred`` (time, station) µg/m³; NaN only at hours where no located station is observed
        (or at a target without coordinates)."""
        p = window_problem(stations, observed, window)
        dist = distances(p, grid)
        n_cand = max(CANDIDATES, 4 * self.k)
        order = candidate_order(dist, n_cand)
        avail = p.available
        out = np.full((len(p.times), dist.shape[0]), np.nan)
        step = max(1, 2_000_000 // max(1, order.size))
        widened = 0
        for sl in chunks(len(p.times), step):
            idx, ok = ranked_neighbours(avail[sl], order, self.k)  # (t, N, k)
            short_t, short_n = np.nonzero(ok.sum(axis=2) < self.k)
            if len(short_t):  # nearest candidates all hidden: search further out
                i_s, ok_s = idx[short_t, short_n], ok[short_t, short_n]
                widened += complete_pairs(avail[sl], dist, n_cand, short_t, short_n, i_s, ok_s, self.k)
                idx[short_t, short_n], ok[short_t, short_n] = i_s, ok_s
            v = p.values[sl][np.arange(idx.shape[0])[:, None, None], idx]
            v = np.where(ok, v, 0.0)
            n = ok.sum(axis=2)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[sl] = np.where(n > 0, v.sum(axis=2) / n, np.nan)
        return make_result(p, out, grid, self.name, {"k": self.k, "widened_searches": widened})


@register("knn")
def make_knn(k: int = DEFAULT_K) -> KNN:
    return KNN(k)
