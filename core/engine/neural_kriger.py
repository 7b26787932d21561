"""A trained neural module served through the Kriger contract (``infer(...) -> InferenceResult``).

The requested window is cut into chunks of ``predict`` hours; each chunk is fed with up to
``window - predict`` hours of history before it (models with ``predict == window`` see the chunk
alone). Several chunks run as one batch. Grid cells are receive-only targets (``tgt_*`` batch keys);
a model without a grid head gets its surface by IDW of its own station predictions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import xarray as xr

from core.engine.checkpoint import load_checkpoint
from core.engine.features import TargetPoints, make_batch, prepare
from core.engine.result import InferenceResult, Window, grid_dataset
from core.engine.trainer import ModelAdapter, model_hparams, resolve_device
from core.errors import InvalidRequest
from core.graph import idw_weights
from core.grid import GridSpec

CHUNKS_PER_BATCH = 8


class NeuralKriger:
    """Kriger around an ``nn.Module`` built by a :class:`ModelAdapter`."""

    def __init__(self, adapter: ModelAdapter, module: torch.nn.Module, hparams: dict, card: dict | None = None,
                 device: str = "auto"):
        self.name = adapter.name
        self.adapter = adapter
        self.hparams = hparams
        self.card = card or {}
        self.device = resolve_device(device)
        self.module = module.to(self.device).eval()
        self._targets_cache: dict = {}

    @classmethod
    def from_checkpoint(cls, adapter: ModelAdapter, root: Path | None = None, device: str = "auto",
                        name: str | None = None, **_: object) -> NeuralKriger:
        """Load ``assets/models/<name>/`` (checks sha256 and architecture version)."""
        payload, card = load_checkpoint(name or adapter.name, adapter.arch_version, root)
        hp = payload["hparams"]
        module = adapter.build(model_hparams(hp))
        module.load_state_dict(payload["state_dict"])
        return cls(adapter, module, hp, card, device)

    def _targets(self, grid: GridSpec, nodes) -> TargetPoints:
        key = (hash(grid), nodes.codes.tobytes(), nodes.lat.tobytes(), nodes.lon.tobytes())
        if key not in self._targets_cache:
            lat, lon = grid.points()
            self._targets_cache = {key: TargetPoints.build(lat, lon, nodes, k=int(self.hparams.get("target_k", 12)))}
        return self._targets_cache[key]

    @torch.no_grad()
    def infer(self, stations: xr.Dataset, observed: np.ndarray, grid: GridSpec | None, window: Window,
              with_influence: bool = True) -> InferenceResult:
        times = stations["time"].values
        idx = np.flatnonzero((times >= window.start) & (times <= window.end))
        if not len(idx):
            raise InvalidRequest("The window holds no hour of this StationSet.")
        nodes = prepare(stations)
        if nodes.n_nodes == 0:
            raise InvalidRequest("No station has coordinates: nothing to infer from.")
        obs = np.asarray(observed, bool)[:, nodes.station_index]
        targets = self._targets(grid, nodes) if grid is not None else None
        win, pred_len = int(self.hparams["window"]), int(self.hparams["predict"])
        hist = win - pred_len
        i0, i1 = int(idx[0]), int(idx[-1]) + 1
        chunks = [(a, min(a + pred_len, i1)) for a in range(i0, i1, pred_len)]
        station_out = np.full((i1 - i0, nodes.n_nodes), np.nan, dtype="float32")
        grid_out = np.full((i1 - i0, len(targets.lat)), np.nan, dtype="float32") if targets is not None else None
        influence = None
        # group chunks of equal input length so they batch together
        for g in range(0, len(chunks), CHUNKS_PER_BATCH):
            group = chunks[g:g + CHUNKS_PER_BATCH]
            spans = [(max(0, a - hist), b) for a, b in group]
            lengths = {b - s for s, b in spans}
            for length in sorted(lengths):
                members = [(c, s) for c, s in zip(group, spans, strict=True) if s[1] - s[0] == length]
                starts = np.array([s for _, (s, _) in members])
                sl = starts[:, None] + np.arange(length)[None, :]
                batch = make_batch(nodes, starts, length, obs[sl], targets=targets, device=self.device,
                                   with_truth=False)
                out = self.module(batch)
                pred = out["pred"].float().cpu().numpy()
                gp = out.get("grid_pred")
                if targets is not None and gp is None:
                    gp = self._idw_surface(out["pred"], batch, targets)
                for k, ((a, b), (s, _)) in enumerate(members):
                    station_out[a - i0:b - i0] = pred[k, a - s:b - s]
                    if grid_out is not None:
                        grid_out[a - i0:b - i0] = gp[k, a - s:b - s].float().cpu().numpy()
                if with_influence and "influence_diffusion" in out:
                    influence = (out["influence_diffusion"].float().cpu().numpy(),
                                 out["influence_advection"].float().cpu().numpy())
        full = np.full((i1 - i0, stations.sizes["station"]), np.nan, dtype="float32")
        full[:, nodes.station_index] = station_out
        wtimes = times[i0:i1]
        station_pred = xr.DataArray(full, dims=("time", "station"),
                                    coords={"time": wtimes, "station": stations["station"].values},
                                    name="pm25", attrs={"units": "ug m-3"})
        result = InferenceResult(
            station_pred=station_pred, model=self.name,
            wind=self.adapter.wind_label(nodes.wind is not None, self.hparams), device=str(self.device),
            extras={"arch_version": self.adapter.arch_version, "aod": self.card.get("aod", "none")},
        )
        if grid_out is not None:
            result.grid = grid_dataset(wtimes, grid, grid_out.reshape(len(wtimes), *grid.shape), model=self.name)
            result.grid.attrs["wind"] = result.wind
        if influence is not None:
            codes = nodes.codes
            result.influence = xr.Dataset(
                {"diffusion": (("target", "source"), influence[0]), "advection": (("target", "source"), influence[1])},
                coords={"target": codes, "source": codes},
                attrs={"description": "share of each source station in a target's messages (gate-weighted), "
                                      "averaged over the last chunk's hours", "wind": result.wind},
            )
        return result

    @staticmethod
    def _idw_surface(pred: torch.Tensor, batch: dict, targets: TargetPoints) -> torch.Tensor:
        """IDW of station predictions (B, L, N) onto targets → (B, L, M) — fallback for models without a grid head."""
        idx = batch["tgt_idx"]
        w = idw_weights(batch["tgt_dist"]) * batch["tgt_valid"].float()
        vals = pred[..., idx]
        return (vals * w).sum(-1) / w.sum(-1).clamp_min(1e-12)

