"""k-nearest-neighbours: the plain mean of the k nearest stations observed that hour."""

from __future__ import annotations

import numpy as np
import xarray as xr

from core.baselines._neighbours import (
    candidate_order,
    chunks,
    distances,
    make_result,
    ranked_neighbours,
    window_problem,
)
from core.engine.result import InferenceResult, Window
from core.grid import GridSpec
from core.registry import register

DEFAULT_K = 5
CANDIDATES = 64  # nearest stations searched per target; enough unless >90 % of them are hidden


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
        """``station_pred`` (time, station) µg/m³; NaN where no candidate station is observed."""
        p = window_problem(stations, observed, window)
        dist = distances(p, grid)
        order = candidate_order(dist, max(CANDIDATES, 4 * self.k))
        avail = p.available
        out = np.full((len(p.times), dist.shape[0]), np.nan)
        step = max(1, 2_000_000 // max(1, order.size))
        for sl in chunks(len(p.times), step):
            idx, ok = ranked_neighbours(avail[sl], order, self.k)  # (t, N, k)
            v = p.values[sl][np.arange(idx.shape[0])[:, None, None], idx]
            v = np.where(ok, v, 0.0)
            n = ok.sum(axis=2)
            with np.errstate(invalid="ignore", divide="ignore"):
                out[sl] = np.where(n > 0, v.sum(axis=2) / n, np.nan)
        return make_result(p, out, grid, self.name, {"k": self.k})


@register("knn")
def make_knn(k: int = DEFAULT_K) -> KNN:
    return KNN(k)
