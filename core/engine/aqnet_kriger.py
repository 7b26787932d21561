"""Kriger wrapper of ``aqnet``: the engine's :class:`NeuralKriger` plus the model's explanations.

On top of ``station_pred`` / ``grid`` (computed by :meth:`NeuralKriger.infer`), the result carries:

- ``attention``: DataArray ``(station, pred_day, hist_day)`` — for each station and each 24-hour
  prediction chunk of the window (``pred_day`` = the chunk's first hour), the head-averaged
  attention over the 14 history days before it (``hist_day`` = −14 … −1 days; 2-D coordinate
  ``hist_date`` gives the dates). Every row sums to 1. Observed stations show their own attention;
  a hidden station shows the mix of its neighbours' rows weighted by its kNN weights.
  Stations without coordinates get NaN.
- ``influence``: Dataset ``(target, source)`` with ``knn`` — the neural-kNN weight of each
  observed source station in each target's estimate, averaged over the window's hours (rows sum
  to 1 where a target had any observed neighbour). No diffusion/advection split: aqnet has none.
- ``extras["knn_weights"]``: DataArray ``(pred_day, target, source)``, the same weights per chunk.

The explanation is a second pass over the same batches (the engine's pass only keeps predictions);
it costs as much as the prediction itself.
"""

from __future__ import annotations

import numpy as np
import torch
import xarray as xr

from core.contracts.grid import GridSpec
from core.contracts.kriger import InferenceResult, Window
from core.engine.chunk_batches import chunk_batches, window_chunks
from core.engine.neural_kriger import NeuralKriger
from core.nn.features import prepare


class AQNetKriger(NeuralKriger):
    """``aqnet`` through the Kriger contract, with attention and kNN weights in the result."""

    def infer(self, stations: xr.Dataset, observed: np.ndarray, grid: GridSpec | None, window: Window,
              with_influence: bool = True) -> InferenceResult:
        result = super().infer(stations, observed, grid, window, with_influence=False)
        if with_influence:
            self._explain(result, stations, observed, window)
        return result

    @torch.no_grad()
    def _explain(self, result: InferenceResult, stations: xr.Dataset, observed: np.ndarray, window: Window) -> None:
        times = stations["time"].values
        idx = np.flatnonzero((times >= window.start) & (times <= window.end))
        nodes = prepare(stations)
        obs = np.asarray(observed, bool)[:, nodes.station_index]
        win, pred_len = int(self.hparams["window"]), int(self.hparams["predict"])
        hist_days = int(self.hparams.get("hist_days", 14))
        i0, i1 = int(idx[0]), int(idx[-1]) + 1
        chunks = window_chunks(i0, i1, pred_len, win - pred_len)
        n = nodes.n_nodes
        att = np.full((len(chunks), n, hist_days), np.nan, dtype="float32")
        knn = np.zeros((len(chunks), n, n), dtype="float32")
        for part in chunk_batches(chunks, nodes, obs, self.device):
            out = self.module(part.batch)
            a_ = out["attention"].float().cpu().numpy()
            w_ = out["knn_weights"].float().cpu().numpy()
            nb = out["knn_idx"].cpu().numpy()
            for j, ch in enumerate(part.chunks):
                hours = ch.stop - ch.start
                att[ch.index] = a_[j]
                wmean = w_[j, w_.shape[1] - hours:].mean(0)  # (N, k): only the chunk's own hours
                np.add.at(knn[ch.index], (np.arange(n)[:, None].repeat(nb.shape[-1], 1), nb[j]), wmean)
        codes = stations["station"].values
        pred_day = times[[ch.start for ch in chunks]]
        full = np.full((stations.sizes["station"], len(chunks), hist_days), np.nan, dtype="float32")
        full[nodes.station_index] = att.transpose(1, 0, 2)
        lags = np.arange(-hist_days, 0)
        hist_date = (pred_day.astype("datetime64[D]")[:, None] + lags[None, :].astype("timedelta64[D]"))
        result.attention = xr.DataArray(
            full, dims=("station", "pred_day", "hist_day"),
            coords={"station": codes, "pred_day": pred_day, "hist_day": lags,
                    "hist_date": (("pred_day", "hist_day"), hist_date.astype("datetime64[ns]"))},
            name="attention",
            attrs={"description": "head-averaged temporal attention of each 24-h prediction chunk over the "
                                  "14 days before it (rows sum to 1); hidden stations: kNN-weighted mix"},
        )
        node_codes = nodes.codes
        result.extras["knn_weights"] = xr.DataArray(
            knn, dims=("pred_day", "target", "source"),
            coords={"pred_day": pred_day, "target": node_codes, "source": node_codes}, name="knn_weights",
            attrs={"description": "neural-kNN weight of each observed source in each target's estimate, "
                                  "mean over the chunk's hours"},
        )
        hours = np.array([ch.stop - ch.start for ch in chunks], dtype="float32")
        mean_w = (knn * hours[:, None, None]).sum(0) / hours.sum()
        result.influence = xr.Dataset(
            {"knn": (("target", "source"), mean_w)}, coords={"target": node_codes, "source": node_codes},
            attrs={"description": "neural-kNN weights (target × source), mean over the window's hours",
                   "wind": result.wind},
        )
