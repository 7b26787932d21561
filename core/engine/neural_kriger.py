"""A trained neural module served through the Kriger contract (``infer(...) -> InferenceResult``).

The requested window is cut into chunks of ``predict`` hours; each chunk is fed with up to
``window - predict`` hours of history before it (models with ``predict == window`` see the chunk
alone). Several chunks run as one batch. Grid cells are receive-only targets (``tgt_*`` batch keys);
a model without a grid head gets its surface by IDW of its own station predictions.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import xarray as xr

from core.contracts.grid import GridSpec
from core.contracts.kriger import InferenceResult, Window, grid_dataset
from core.contracts.model_spec import AUTO, TRAINED, VARIOGRAMS, ModelSpec, history_hours, module_hparams
from core.engine.checkpoint import INFERENCE_FORMAT, inference_settings, load_checkpoint
from core.engine.chunk_batches import Chunk, ChunkBatch, chunk_batches, even_chunks, window_chunks
from core.engine.device import resolve_device
from core.errors import InvalidRequest
from core.graph import idw_weights
from core.nn.features import AUX_VARS, NodeData, TargetPoints, prepare, target_batch

STATION_PASSES = 2  # encoded windows kept per model (a reanalysis worker's current time block and the last)
CACHED_HOURS = 7 * 24  # longer windows are encoded batch by batch and not kept (memory)


@dataclass
class _Group:
    """One batch of the window's chunks and the module's :meth:`encode` outputs and state for it (None for a
    module that does not split: it runs whole)."""

    part: ChunkBatch
    state: dict | None
    out: dict | None


@dataclass
class _Readout:
    """One window's predictions at the nodes (T, N), at the grid targets (T, M) or None, and the last
    chunk's (diffusion, advection) influence shares (N, N) or None."""

    station: np.ndarray
    grid: np.ndarray | None
    influence: tuple[np.ndarray, np.ndarray] | None


class NeuralKriger:
    """Kriger around an ``nn.Module`` built from a :class:`~core.contracts.model_spec.ModelSpec`."""

    def __init__(self, spec: ModelSpec, module: torch.nn.Module, hparams: dict, card: dict | None = None,
                 device: str = "auto"):
        self.name = spec.name
        self.spec = spec
        self.hparams = hparams
        self.card = card or {}
        self.device = resolve_device(device)
        self.module = module.to(self.device).eval()
        self._targets_cache: dict = {}
        self._passes: dict[str, tuple[NodeData, list[_Group]]] = {}
        self._passes_lock = threading.Lock()  # the dashboard's warm-up threads share a loaded model
        self.variogram = hparams.get("variogram") or TRAINED
        if self.variogram not in VARIOGRAMS:
            raise InvalidRequest(f"{spec.name}: the inference setting variogram={hparams['variogram']!r} is not one "
                                 f"of {', '.join(VARIOGRAMS)}. Fix the 'inference' block of its card.json (or retune).")
        if hparams.get("chunk_hours") and self.history_hours > 0:
            # _chunks would ignore it: refuse rather than serve a setting that silently does nothing
            raise InvalidRequest(
                f"{spec.name}: the inference setting chunk_hours={hparams['chunk_hours']} applies only to a model "
                f"that reads no history, and this one reads {self.history_hours} h before each chunk "
                f"(window {hparams.get('window')}, predict {hparams.get('predict')}). Remove chunk_hours from the "
                f"'inference' block of its card.json (or retune it).")

    @property
    def history_hours(self) -> int:
        """Hours of input read before the first predicted hour (``window - predict``)."""
        return history_hours(self.hparams)

    @classmethod
    def from_checkpoint(cls, spec: ModelSpec, root: Path | None = None, device: str = "auto",
                        name: str | None = None, inference: dict | None = None, **_: object) -> NeuralKriger:
        """Load ``assets/models/<name>/`` (checks sha256 and architecture version).

        The card's ``inference`` block (settings chosen on validation after training) is applied over the
        trained hyper-parameters; ``inference`` replaces it (the tuner scoring its candidates).
        """
        payload, card = load_checkpoint(name or spec.name, spec.arch_version, root)
        if inference is None:
            inference = inference_settings(name or spec.name, card, spec.inference_hparams)
        else:
            inference = inference_settings(name or spec.name, {**card, "inference": {
                "format": INFERENCE_FORMAT, "model_sha256": card.get("model_sha256"), "hparams": inference}},
                spec.inference_hparams)
        hp = {**payload["hparams"], **inference}
        module = spec.build(module_hparams(hp))
        module.load_state_dict(payload["state_dict"])
        return cls(spec, module, hp, card, device)

    def _targets(self, grid: GridSpec, nodes) -> TargetPoints:
        key = (hash(grid), nodes.codes.tobytes(), nodes.lat.tobytes(), nodes.lon.tobytes())
        found = self._targets_cache.get(key)
        if found is None:  # built into a local first: another thread may replace the cache meanwhile
            lat, lon = grid.points()
            found = TargetPoints.build(lat, lon, nodes, k=int(self.hparams.get("target_k", 12)))
            self._targets_cache = {key: found}
        return found

    def _station_key(self, stations: xr.Dataset, observed: np.ndarray, window: Window, *extra: object) -> str:
        """sha256 over everything the station side reads (values, coordinates, times, observed mask, window)."""
        h = hashlib.sha256()
        for var in ("station", "lat", "lon", "is_bth", "time", "pm25", *AUX_VARS, "u10", "v10"):
            if var in stations.variables:
                h.update(var.encode() + np.ascontiguousarray(stations[var].values).tobytes())
        h.update(np.ascontiguousarray(observed).tobytes() + str((window.start, window.end, *extra)).encode())
        return h.hexdigest()

    def _refits(self, nodes: NodeData, obs: np.ndarray, i0: int, i1: int) -> bool:
        """Whether the window's hours [i0, i1) get a refitted variogram: always with ``window``, never with
        ``trained``; with ``auto`` where the spec's ``refit_gate`` marks the network observed in them (the
        positions of stations with at least one observed hour; hidden stations do not count)."""
        if self.spec.fit is None or self.variogram == TRAINED:
            return False
        if self.variogram == AUTO:
            seen = obs[i0:i1].any(0)
            return self.spec.refit_gate is not None and bool(
                self.spec.refit_gate(self.hparams, nodes.lat[seen], nodes.lon[seen]))
        return True

    def _refitted(self, nodes: NodeData, obs: np.ndarray, i0: int, i1: int) -> dict[str, float]:
        """The spec's fitted hyper-parameters (spin: the kriging variogram) refitted on the window's hours
        [i0, i1) from the stations observed in them only (hidden values are never read) where :meth:`_refits`
        says so, else {}. A window too thin to fit keeps the trained values (the spec's ``fit`` returns them)."""
        if not self._refits(nodes, obs, i0, i1):
            return {}
        seen = np.where(obs[i0:i1], nodes.pm25[i0:i1], np.nan)
        hp = self.spec.fit(dict(self.hparams), dataclasses.replace(nodes, pm25=seen), np.ones(i1 - i0, bool))
        return {k: float(hp[k]) for k in self.spec.fitted_hparams if k in hp}

    def _groups(self, nodes: NodeData, obs: np.ndarray, i0: int, i1: int, split: bool) -> Iterator[_Group]:
        """The window's chunk batches (:func:`chunk_batches`), encoded when the module splits; generated one at a
        time so a long window never holds every batch at once. A refitted variogram rides in every batch."""
        fitted = {k: torch.tensor(v, dtype=torch.float32, device=self.device)
                  for k, v in self._refitted(nodes, obs, i0, i1).items()}
        for part in chunk_batches(self._chunks(i0, i1), nodes, obs, self.device):
            part.batch.update(fitted)
            out, state = self.module.encode(part.batch) if split else (None, None)
            yield _Group(part, state, out)

    def _chunks(self, i0: int, i1: int) -> list[Chunk]:
        """The window's chunks: ``predict`` hours after ``window - predict`` of history, as trained; or, with a
        ``chunk_hours`` inference setting and no history, near-equal chunks of at most that many hours."""
        win, pred_len = int(self.hparams["window"]), int(self.hparams["predict"])
        longest = self.hparams.get("chunk_hours")
        if longest and pred_len == win:
            return even_chunks(i0, i1, int(longest))
        return window_chunks(i0, i1, pred_len, win - pred_len)

    def _station_pass(self, stations: xr.Dataset, observed: np.ndarray, window: Window, i0: int, i1: int,
                      with_influence: bool) -> tuple[NodeData, Iterable[_Group]]:
        """The nodes and the window's chunk batches; kept (up to :data:`STATION_PASSES`) for a module that splits
        (encode/read_targets, e.g. spin): the tiles of one reanalysis block (same stations, same hours) reuse
        the encoded stations and only read out their own cells."""
        split = hasattr(self.module, "encode") and hasattr(self.module, "read_targets")
        key = (self._station_key(stations, observed, window, with_influence)
               if split and i1 - i0 <= CACHED_HOURS else None)
        with self._passes_lock:
            cached = self._passes.get(key) if key is not None else None
        if cached is not None:
            return cached
        nodes = prepare(stations)
        if nodes.n_nodes == 0:
            raise InvalidRequest("No station has coordinates: nothing to infer from.")
        obs = np.asarray(observed, bool)[:, nodes.station_index]
        groups = self._groups(nodes, obs, i0, i1, split)
        if key is not None:
            groups = list(groups)
            with self._passes_lock:  # read-modify-write: another thread's entry must not be dropped
                kept = list(self._passes.items())[-(STATION_PASSES - 1):] if STATION_PASSES > 1 else []
                self._passes = dict(kept) | {key: (nodes, groups)}
        return nodes, groups

    def _read_out(self, nodes: NodeData, groups: Iterable[_Group], targets: TargetPoints | None, i0: int, i1: int,
                  with_influence: bool) -> _Readout:
        """Run (or, when encoded already, read out) every chunk batch; keep each chunk's own hours."""
        station_out = np.full((i1 - i0, nodes.n_nodes), np.nan, dtype="float32")
        grid_out = np.full((i1 - i0, len(targets.lat)), np.nan, dtype="float32") if targets is not None else None
        influence = None
        for grp in groups:
            part = grp.part
            tb = part.batch
            if targets is not None:
                tb = tb | target_batch(nodes, part.starts, part.length, part.batch, targets, self.device)
            if grp.state is not None:  # encoded already: only the readout to this call's targets runs
                out = dict(grp.out)
                if targets is not None:
                    out["grid_pred"] = self.module.read_targets(tb, grp.state)
            else:
                out = self.module(tb)
            pred = out["pred"].float().cpu().numpy()
            gp = out.get("grid_pred")
            if targets is not None and gp is None:
                gp = self._idw_surface(out["pred"], tb, targets)
            for k, ch in enumerate(part.chunks):
                station_out[ch.start - i0:ch.stop - i0] = pred[k, ch.start - ch.input_start:ch.stop - ch.input_start]
                if grid_out is not None:
                    grid_out[ch.start - i0:ch.stop - i0] = (
                        gp[k, ch.start - ch.input_start:ch.stop - ch.input_start].float().cpu().numpy())
            if with_influence and "influence_diffusion" in out:
                influence = (out["influence_diffusion"].float().cpu().numpy(),
                             out["influence_advection"].float().cpu().numpy())
        return _Readout(station_out, grid_out, influence)

    def _result(self, stations: xr.Dataset, nodes: NodeData, grid: GridSpec | None, wtimes: np.ndarray,
                readout: _Readout) -> InferenceResult:
        """The InferenceResult: predictions at every station of ``stations`` (NaN without coordinates), the grid
        and the message-passing influence when there are any."""
        full = np.full((len(wtimes), stations.sizes["station"]), np.nan, dtype="float32")
        full[:, nodes.station_index] = readout.station
        station_pred = xr.DataArray(full, dims=("time", "station"),
                                    coords={"time": wtimes, "station": stations["station"].values},
                                    name="pm25", attrs={"units": "ug m-3"})
        result = InferenceResult(
            station_pred=station_pred, model=self.name,
            wind=self.spec.wind_label(nodes.wind is not None, self.hparams), device=str(self.device),
            extras={"arch_version": self.spec.arch_version, "aod": self.card.get("aod", "none")},
        )
        if readout.grid is not None:
            result.grid = grid_dataset(wtimes, grid, readout.grid.reshape(len(wtimes), *grid.shape), model=self.name)
            result.grid.attrs["wind"] = result.wind
        if readout.influence is not None:
            codes = nodes.codes
            diffusion, advection = readout.influence
            result.influence = xr.Dataset(
                {"diffusion": (("target", "source"), diffusion), "advection": (("target", "source"), advection)},
                coords={"target": codes, "source": codes},
                attrs={"description": "share of each source station in a target's messages (gate-weighted), "
                                      "averaged over the last chunk's hours", "wind": result.wind},
            )
        return result

    @torch.no_grad()
    def infer(self, stations: xr.Dataset, observed: np.ndarray, grid: GridSpec | None, window: Window,
              with_influence: bool = True) -> InferenceResult:
        times = stations["time"].values
        idx = np.flatnonzero((times >= window.start) & (times <= window.end))
        if not len(idx):
            raise InvalidRequest("The window holds no hour of this StationSet.")
        i0, i1 = int(idx[0]), int(idx[-1]) + 1
        nodes, groups = self._station_pass(stations, observed, window, i0, i1, with_influence)
        targets = self._targets(grid, nodes) if grid is not None else None
        readout = self._read_out(nodes, groups, targets, i0, i1, with_influence)
        return self._result(stations, nodes, grid, times[i0:i1], readout)

    @staticmethod
    def _idw_surface(pred: torch.Tensor, batch: dict, targets: TargetPoints) -> torch.Tensor:
        """IDW of station predictions (B, L, N) onto targets → (B, L, M) — fallback for models without a grid head."""
        idx = batch["tgt_idx"]
        w = idw_weights(batch["tgt_dist"]) * batch["tgt_valid"].float()
        vals = pred[..., idx]
        return (vals * w).sum(-1) / w.sum(-1).clamp_min(1e-12)

