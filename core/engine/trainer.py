"""The training engine shared by every neural model (``spin``, ``aqnet``, ``ignnk``).

How to add a model
------------------
1. Write a plain ``nn.Module`` in ``core/nn/models/<name>.py`` whose ``forward(batch)`` takes the batch
   dict of :mod:`core.nn.features` (``x, mask, init, aux, tfeat, static, dist, bearing, center``
   and optionally ``wind``, ``tgt_*``) and returns a dict of µg/m³ tensors:

   - ``pred`` (B, L, N) — required: PM2.5 at every station node (use ``features.to_ugm3``);
   - ``init_pred`` (B, L, N) — optional initialization head (gets the ``init_loss`` term);
   - ``grid_pred`` (B, L, M) — optional, when the batch has ``tgt_*`` keys (receive-only targets such
     as grid cells); without it, :class:`NeuralKriger` interpolates the station predictions (IDW);
   - ``influence_diffusion`` / ``influence_advection`` (N, N) — optional, target × source shares;
   - ``attention`` (N, L_pred, L_hist) — optional, temporal attention for the dashboard.

   No per-station embeddings: the module must run on any number of nodes it has never seen.
2. In the same file, register its spec (``core.contracts``; a model never imports the engine)::

       SPEC = register_spec(ModelSpec(
           name="mymodel", arch_version="mymodel-1", build=lambda hp: MyModule(**hp),
           defaults={"hidden": 32, "window": 24, "predict": 24, ...},
           wind="none"))            # "inferred" when it infers transport, "none" if it ignores wind

   and add its module path to ``core.contracts.registry.MODEL_MODULES``.

   Hyper-parameters understood by the engine (``core.contracts.model_spec.TRAIN_DEFAULTS``, overridable in
   ``defaults``, ``core/conf/<name>.yaml`` and the CLI): ``window`` (hours of input per sample), ``predict`` (the
   last hours of the window that are scored; ``predict < window`` gives history, e.g. AQ-Net's 14 days),
   ``batch_size, lr, weight_decay, epochs, steps_per_epoch, patience, mask_lo, mask_hi, masking``
   (``dynamic``/``fixed``), ``init_loss, aod_loss, grad_clip, val_windows``, ``sparse_share`` (share of
   training windows hiding whole ``sparse_km`` neighbourhoods, :func:`core.engine.masking.sample_clusters`),
   ``subnet_size`` (each step trains on a random spatial neighbourhood of that many stations; validation
   then runs on the nodes within the BTH box grown by ``val_margin_deg``: see :func:`validation_data`),
   ``aux_dropout`` (share of training windows whose auxiliary pollutants are blanked at every node, as in a
   folder that reports PM2.5 only).
   Keys the engine does not know are passed to ``build``; engine keys are not
   (:func:`core.contracts.model_spec.module_hparams`).
3. ``python -m core train --model mymodel`` then trains it, writes ``assets/models/mymodel/{model.pt,
   card.json}``, and ``core.engine.models.get_model("mymodel")`` serves it through the Kriger contract.

Honesty: :func:`train` removes ``S_test`` (``core.data.splits.select_test_stations``) from the
StationSet *before* anything else sees it, trains on days 1–20 and early-stops on days 21–23 of every month.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import xarray as xr
from tqdm.auto import tqdm

from core.contracts.grid import BTH_BBOX
from core.contracts.model_spec import ModelSpec, module_hparams
from core.contracts.provenance import git_commit
from core.contracts.stationset import active_stations
from core.data.splits import select_test_stations, time_split
from core.engine.checkpoint import save_checkpoint
from core.engine.device import resolve_device
from core.engine.masking import fixed_hidden, sample_clusters, sample_hidden
from core.engine.subnets import nodes_in_box, random_neighbourhood, subset_nodes
from core.errors import UnusableData
from core.nn.features import NodeData, make_batch, prepare
from core.nn.losses import LossWeights, composite_loss

ABLATIONS: dict[str, dict] = {
    "no-advection": {"use_advection": False},
    "no-diffusion": {"use_diffusion": False},
    "no-masking": {"masking": "fixed"},
    "no-init-loss": {"init_loss": 0.0},
    "inferred-wind": {"use_measured_wind": False},  # ignore measured u10/v10: the network infers transport
    "no-terrain": {"use_terrain": False},
    "old-init": {"init_mode": "idw"},  # spin-1's init: IDW p=2 of every observed node
    "no-mp-mask": {"mp_observed_only": False},  # hidden neighbours count fully in message passing
    "short-context": {"tcn_layers": 3},  # dilations 1, 2, 4 (receptive field 15 h) instead of 1 … 16
    # not a removal: a training variant judged the same way (half the windows masked like sparse-30km)
    "sparse-masks": {"sparse_share": 0.5},
    # an addition: the encoder also reads each node's leave-one-out log-OK and its nearest observed distance
    "loo-inputs": {"loo_inputs": True},
}
VAL_SEED_BASE = 1000  # validation hidden sets use seeds 1000, 1001, … whatever the training seed


def seed_everything(seed: int) -> None:
    torch.manual_seed(seed)
    np.random.seed(seed % (2**32))


@dataclass
class TrainData:
    """What the trainer sees: S_test already removed. ``train_starts`` / ``val_starts`` index window starts."""

    nodes: NodeData
    test_codes: list[str]
    train_starts: np.ndarray
    val_starts: np.ndarray
    aod: np.ndarray | None = None
    input_hours: np.ndarray | None = None  # (T,) hours training batches may read (None: all); see below


def window_starts(ok_hours: np.ndarray, length: int, stride: int = 1) -> np.ndarray:
    """Starts ``s`` such that hours ``s … s+length-1`` are all ``ok``."""
    ok = np.asarray(ok_hours, bool).astype(int)
    if len(ok) < length:
        return np.zeros(0, int)
    run = np.convolve(ok, np.ones(length, int), mode="valid")
    starts = np.flatnonzero(run == length)
    if stride > 1 and len(starts):
        keep, last = [], -stride
        for s in starts:
            if s - last >= stride:
                keep.append(s)
                last = s
        starts = np.asarray(keep, int)
    return starts


def starts_with_history(scored_ok: np.ndarray, history_ok: np.ndarray, window: int, predict: int,
                        stride: int = 1) -> np.ndarray:
    """Window starts whose last ``predict`` hours are all ``scored_ok`` and earlier hours all ``history_ok``."""
    hist = window - predict
    s = window_starts(scored_ok, predict, stride) - hist
    s = s[s >= 0]
    if hist and len(s):
        ok = np.concatenate([[0], np.cumsum(np.asarray(history_ok, bool).astype(int))])
        s = s[ok[s + hist] - ok[s] == hist]
    return s


def prepare_training_data(ds: xr.Dataset, window: int, aod_source=None,
                          test_codes: list[str] | None = None, predict: int | None = None,
                          margin_deg: float | None = None) -> TrainData:
    """Active stations minus ``S_test`` → :class:`TrainData` with train/val window starts.

    ``test_codes`` defaults to ``select_test_stations(ds)`` (the evaluation rule and seed).
    With ``predict < window`` (models with history, e.g. aqnet's 14 days) the scored last ``predict``
    hours must lie in the split and have data; the history before them may have gaps. Training windows
    read values of training days only (other hours are blanked through ``input_hours``); validation
    windows' history lies in training or validation days.
    ``margin_deg``: keep only nodes within the BTH box grown by this many degrees (a cheaper training
    graph; the models are inductive, so inference still uses every station it is given).
    """
    ds = active_stations(ds)
    if test_codes is None:
        test_codes = select_test_stations(ds)
    keep = ~np.isin(ds["station"].values.astype(str), test_codes)
    if margin_deg is not None:
        w, s, e, n = BTH_BBOX
        lat, lon = ds["lat"].values, ds["lon"].values
        keep &= (lon > w - margin_deg) & (lon < e + margin_deg) & (lat > s - margin_deg) & (lat < n + margin_deg)
    train_ds = ds.isel(station=np.flatnonzero(keep))
    assert not set(train_ds["station"].values.astype(str)) & set(test_codes), "S_test leaked into training data"
    nodes = prepare(train_ds)
    split = time_split(nodes.times)
    present = train_ds["present"].values if "present" in train_ds.coords else np.ones(len(nodes.times), bool)
    has_any = np.isfinite(nodes.pm25).any(axis=1) & present
    pred = predict or window
    # With history (pred < window) a training window may reach back before a month's day 1: the values
    # of non-training hours in it are blanked (``input_hours``), so no validation/test hour is ever read.
    train_starts = starts_with_history(split["train"] & has_any, np.ones_like(split["train"]), window, pred)
    input_hours = split["train"] if pred < window else None
    val_starts = starts_with_history(split["val"] & has_any, ~split["test"], window, pred, stride=pred)
    if not len(train_starts):
        raise UnusableData(f"No {window}-hour window inside the training days (1–20 of each month) has data.")
    aod = sample_aod(aod_source, nodes) if aod_source is not None else None
    return TrainData(nodes, list(test_codes), train_starts, val_starts, aod, input_hours=input_hours)


def sample_aod(aod_source, nodes: NodeData) -> np.ndarray | None:
    """AOD from an AODSource at the nodes' nearest grid cell → ``(T, N)`` (NaN under clouds), or None."""
    field_ = aod_source.aod(nodes.times)
    if field_ is None:
        return None
    field_ = field_.reindex(time=nodes.times)
    iy = np.abs(field_["lat"].values[None, :] - nodes.lat[:, None]).argmin(1)
    ix = np.abs(field_["lon"].values[None, :] - nodes.lon[:, None]).argmin(1)
    return field_.values[:, iy, ix].astype("float32")


def _loss_mask(batch: dict, hidden: np.ndarray, trainable: np.ndarray, predict: int, device) -> torch.Tensor:
    lm = torch.from_numpy(hidden & trainable[None, None, :]).to(device).float() * batch["y_mask"]
    lm[:, : lm.shape[1] - predict] = 0.0
    return lm


def validation_hidden_sets(data: TrainData, hp: dict) -> list[np.ndarray]:
    """Fixed validation hidden sets, bool (N,) each: ``val_share`` of the BTH training nodes (every node
    when none is BTH), drawn with seeds ``VAL_SEED_BASE + i`` for ``i < val_sets`` — the same for every
    training seed and every validation window, as evaluation hides stations for the whole span."""
    nodes = data.nodes
    cand = nodes.is_bth if nodes.is_bth.any() else np.ones(nodes.n_nodes, bool)
    return [fixed_hidden(VAL_SEED_BASE + i, cand, hp["val_share"], 1, 1)[0, 0] for i in range(int(hp["val_sets"]))]


@torch.no_grad()
def validate(module: torch.nn.Module, data: TrainData, hp: dict, device, seed: int = 0) -> dict[str, float]:
    """MAE (µg/m³) on hidden BTH training stations over validation windows, and IDW's on the same cells.

    ``val_sets > 0``: every validation window is scored under each fixed hidden set of
    :func:`validation_hidden_sets` (independent of ``seed``). ``val_sets == 0`` (legacy): ``val_windows``
    random windows, each with its own random hidden set drawn from ``seed``.
    """
    module.eval()
    starts = data.val_starts
    if not len(starts):
        return {"val_mae": float("nan"), "val_idw_mae": float("nan"), "val_n": 0}
    nodes = data.nodes
    cand = nodes.is_bth if nodes.is_bth.any() else np.ones(nodes.n_nodes, bool)
    if hp.get("val_sets"):
        sets = validation_hidden_sets(data, hp)
        hidden_all = np.concatenate([np.repeat(h[None, None], len(starts), 0) for h in sets])
        hidden_all = np.repeat(hidden_all, hp["window"], 1)
        starts = np.tile(starts, len(sets))
    else:
        if len(starts) > hp["val_windows"]:
            starts = np.sort(np.random.default_rng(seed).choice(starts, hp["val_windows"], replace=False))
        hidden_all = fixed_hidden(seed, cand, hp["val_share"], len(starts), hp["window"])
    err = idw_err = n = 0.0
    for i in range(0, len(starts), hp["batch_size"]):
        st, hid = starts[i:i + hp["batch_size"]], hidden_all[i:i + hp["batch_size"]]
        batch = make_batch(nodes, st, hp["window"], ~hid, aod=None, device=device)
        lm = _loss_mask(batch, hid, cand, hp["predict"], device)
        out = module(batch)
        idw = torch.expm1(batch["init"] + batch["center"].unsqueeze(-1)).clamp_min(0)
        err += float(((out["pred"] - batch["y"]).abs() * lm).sum())
        idw_err += float(((idw - batch["y"]).abs() * lm).sum())
        n += float(lm.sum())
    module.train()
    return {"val_mae": err / max(n, 1), "val_idw_mae": idw_err / max(n, 1), "val_n": int(n)}


def validation_card(data: TrainData, hp: dict) -> dict:
    """What validation scored: hidden station codes per fixed set, window starts (UTC), hours per window."""
    nodes = data.nodes
    card = {"windows": [str(nodes.times[s]) for s in data.val_starts], "hours_per_window": int(hp["window"]),
            "scored_last_hours": int(hp["predict"])}
    if hp.get("val_sets"):
        card["hidden_sets"] = [{"seed": VAL_SEED_BASE + i, "hidden": [str(c) for c in nodes.codes[h]]}
                               for i, h in enumerate(validation_hidden_sets(data, hp))]
    else:
        card["hidden_sets"] = f"random per window (seed = training seed), share {hp['val_share']}"
    return card


def validation_data(data: TrainData, hp: dict) -> TrainData:
    """What :func:`validate` scores on: the whole training graph, or with ``subnet_size`` (a national
    network trained a neighbourhood at a time) the nodes within the BTH box grown by ``val_margin_deg``
    — about the graph a BTH evaluation gives the model — when that box holds any node."""
    if not hp.get("subnet_size"):
        return data
    box = nodes_in_box(data.nodes, BTH_BBOX, float(hp["val_margin_deg"]))
    return replace(data, nodes=subset_nodes(data.nodes, box)) if len(box) else data


@dataclass
class TrainResult:
    module: torch.nn.Module
    hparams: dict
    history: list[dict]
    best: dict
    out_dir: Path | None
    test_codes: list[str]
    steps_run: int = 0  # optimizer steps taken
    stopped: str = ""  # why training ended (epochs, step budget, early stopping, time cap …)


class LrSchedule:
    """The learning rate of every optimizer step, as a factor of ``lr`` (``hp["schedule"]``).

    "plateau": linear warm-up, then constant, halved when validation stalls (:meth:`on_stall`). "cosine":
    warm-up, then cosine decay to ``min_lr_frac`` over the step budget; under a time cap the budget shrinks
    after the first epoch to the epochs that fit in it (:meth:`fit_time_cap`), so the decay completes within it.
    """

    def __init__(self, opt: torch.optim.Optimizer, hp: dict) -> None:
        self.total_steps = hp["epochs"] * hp["steps_per_epoch"]
        self.steps_per_epoch = hp["steps_per_epoch"]
        self.warm = max(1, min(hp["warmup_steps"], self.total_steps // 10))
        self.cosine = hp["schedule"] == "cosine"
        self.min_lr_frac = hp["min_lr_frac"]
        self.budget_steps = self.total_steps
        self.sched = torch.optim.lr_scheduler.LambdaLR(opt, self.factor)

    def factor(self, step: int) -> float:
        if step < self.warm or not self.cosine:
            return min(1.0, (step + 1) / self.warm)
        frac = min(1.0, (step - self.warm) / max(1, self.budget_steps - self.warm))
        return self.min_lr_frac + (1 - self.min_lr_frac) * 0.5 * (1 + math.cos(math.pi * frac))

    def step(self) -> None:
        self.sched.step()

    def fit_time_cap(self, first_epoch_s: float, max_minutes: float | None) -> None:
        """After the first epoch (cosine under a time cap): the budget becomes the epochs that fit in the cap."""
        if self.cosine and max_minutes:
            fit_epochs = max(1, int(60 * max_minutes / max(first_epoch_s, 1e-3)))
            self.budget_steps = min(self.total_steps, fit_epochs * self.steps_per_epoch)

    def on_stall(self, epochs_without_progress: int) -> None:
        """Plateau: every two epochs without progress halve the learning rate."""
        if epochs_without_progress % 2 == 0 and not self.cosine:
            self.sched.base_lrs = [b * 0.5 for b in self.sched.base_lrs]

    def budget_spent(self, epochs_done: int) -> bool:
        """Cosine: the decay has reached its end (the step budget is spent)."""
        return self.cosine and epochs_done * self.steps_per_epoch >= self.budget_steps


class BatchSampler:
    """Training batches: random windows of training days with random hidden stations (the masking of
    ``hp``), on every node or, with ``subnet_size``, on a random neighbourhood per step."""

    def __init__(self, data: TrainData, hp: dict, seed: int, device: torch.device) -> None:
        self.data, self.hp, self.device = data, hp, device
        self.rng = np.random.default_rng(seed)
        self.trainable = np.ones(data.nodes.n_nodes, bool)
        self.fixed = (fixed_hidden(seed, self.trainable, 0.5, 1, hp["window"])[0] if hp["masking"] == "fixed"
                      else None)
        self.subnet = int(hp["subnet_size"]) if hp.get("subnet_size") else None

    def next(self) -> dict:
        """One batch, its ``loss_mask`` set (hidden trainable stations over the scored last hours)."""
        hp, rng, data, nodes, subnet = self.hp, self.rng, self.data, self.data.nodes, self.subnet
        starts = rng.choice(data.train_starts, hp["batch_size"])
        # the graph of this step: every node, or a random neighbourhood of ``subnet`` nodes (positions ``sub``)
        sub = random_neighbourhood(nodes, subnet, rng) if subnet else slice(None)
        step_nodes = subset_nodes(nodes, sub) if subnet else nodes
        step_trainable = self.trainable[sub]
        if self.fixed is not None:
            hidden = np.repeat(self.fixed[None][..., sub], hp["batch_size"], 0)
        else:
            hidden = sample_hidden(rng, step_trainable, hp["batch_size"], hp["window"], hp["mask_lo"],
                                   hp["mask_hi"])
            if hp["sparse_share"] > 0:  # some windows hide whole 30-km neighbourhoods, as sparse-30km does
                pick = rng.random(hp["batch_size"]) < hp["sparse_share"]
                if pick.any():
                    hidden[pick] = sample_clusters(rng, step_trainable, step_nodes.geom.dist_km, int(pick.sum()),
                                                   hp["window"], hp["sparse_km"])
        observed = ~hidden
        if data.input_hours is not None:
            observed = observed & data.input_hours[starts[:, None] + np.arange(hp["window"])][:, :, None]
        aod = None if data.aod is None else data.aod[:, sub]
        batch = make_batch(step_nodes, starts, hp["window"], observed, aod=aod, device=self.device)
        if hp["aux_dropout"] > 0:  # a folder may report PM2.5 only (AQI-36): the model must have seen that
            blank = torch.from_numpy(rng.random(hp["batch_size"]) < hp["aux_dropout"]).to(self.device)
            batch["aux"] = batch["aux"] * (~blank).to(batch["aux"].dtype)[:, None, None, None]
        batch["loss_mask"] = _loss_mask(batch, hidden, step_trainable, hp["predict"], self.device)
        return batch


@dataclass
class EpochLoop:
    """What the epoch loop leaves: per-epoch records, the best one and its weights, and how it ended."""

    history: list[dict]
    best: dict
    best_state: dict
    steps_run: int  # optimizer steps taken: the budget that makes two runs comparable (a time cap is load-dependent)
    stopped: str
    started: float  # time.monotonic() when the loop began


def run_epochs(spec: ModelSpec, module: torch.nn.Module, data: TrainData, val_data: TrainData, hp: dict,
               dev: torch.device, seed: int, max_minutes: float | None, progress: bool) -> EpochLoop:
    """Optimise ``module`` epoch by epoch, validating after each; keeps the best-on-validation weights and
    stops at the epoch limit, on early stopping, at the time cap or when the cosine step budget is spent."""
    opt = torch.optim.AdamW([p for p in module.parameters() if p.requires_grad], lr=hp["lr"],
                            weight_decay=hp["weight_decay"])
    schedule = LrSchedule(opt, hp)
    weights = LossWeights(init=hp["init_loss"], aod=hp["aod_loss"])
    sampler = BatchSampler(data, hp, seed, dev)
    loss_fn = spec.loss or composite_loss
    deadline = time.monotonic() + 60 * max_minutes if max_minutes else math.inf
    loop = EpochLoop([], {"val_mae": math.inf, "epoch": -1}, copy.deepcopy(module.state_dict()), 0, "epochs",
                     time.monotonic())
    bad = 0
    for epoch in range(hp["epochs"]):
        module.train()
        losses = []
        bar = tqdm(range(hp["steps_per_epoch"]), desc=f"{spec.name} epoch {epoch + 1}/{hp['epochs']}",
                   disable=not progress, leave=False)
        for _ in bar:
            batch = sampler.next()
            out = module(batch)
            loss, parts = loss_fn(out, batch, weights)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(module.parameters(), hp["grad_clip"])
            opt.step()
            schedule.step()
            loop.steps_run += 1
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{np.mean(losses[-20:]):.4f}")
            if time.monotonic() > deadline:
                break
        val = validate(module, val_data, hp, dev, seed=seed)
        rec = {"epoch": epoch + 1, "train_loss": float(np.mean(losses)), **val,
               "minutes": round((time.monotonic() - loop.started) / 60, 2)}
        loop.history.append(rec)
        if epoch == 0:
            schedule.fit_time_cap(time.monotonic() - loop.started, max_minutes)
        if progress:
            tqdm.write(f"[{spec.name}] epoch {epoch + 1}: loss {rec['train_loss']:.4f} "
                       f"val MAE {val['val_mae']:.2f} (IDW {val['val_idw_mae']:.2f}) µg/m³  {rec['minutes']} min")
        if val["val_mae"] < loop.best["val_mae"] or not math.isfinite(loop.best["val_mae"]):
            loop.best, bad = dict(rec), 0
            loop.best_state = copy.deepcopy(module.state_dict())
        else:
            bad += 1
            schedule.on_stall(bad)
            if bad >= hp["patience"]:
                loop.stopped = "early stopping"
                break
        if time.monotonic() > deadline:
            loop.stopped = f"time cap {max_minutes} min"
            break
        if schedule.budget_spent(epoch + 1):
            loop.stopped = "step budget"
            break
    return loop


def build_card(spec: ModelSpec, ds: xr.Dataset, data: TrainData, val_data: TrainData, hp: dict, module:
               torch.nn.Module, loop: EpochLoop, seed: int, dev: torch.device, dataset_name: str) -> dict:
    """The model card saved with the checkpoint: data, split, validation, training record and provenance."""
    nodes = data.nodes
    subnet = int(hp["subnet_size"]) if hp.get("subnet_size") else None
    best = loop.best
    return {
        "dataset": dataset_name or ds.attrs.get("source", ""),
        "data_sha256": ds.attrs.get("input_sha256", ""),
        "split": {"time": "days 1–20 train, 21–23 validation, 24–end test (every month)",
                  "train_windows": int(len(data.train_starts)), "val_windows": int(len(data.val_starts)),
                  "training_stations": [str(c) for c in nodes.codes]},
        "test_stations": data.test_codes,
        "seed": seed, "device": str(dev),
        "wind": spec.wind_label(nodes.wind is not None, hp),
        "aod": "used" if hp["aod_loss"] > 0 else "none",
        "metrics": {"val_mae": best["val_mae"], "val_idw_mae": best.get("val_idw_mae"),
                    "best_epoch": best["epoch"], "val_hidden_share": hp["val_share"]},
        "validation": validation_card(val_data, hp),
        **({"subnet": {"size": subnet, "rule": "each step: the subnet_size stations nearest a training station "
                                                "drawn uniformly",
                       "validation_graph": f"training stations within the BTH box grown by "
                                           f"{hp['val_margin_deg']}°",
                       "validation_nodes": int(val_data.nodes.n_nodes)}} if subnet else {}),
        "history": loop.history, "stopped": loop.stopped, "steps_run": loop.steps_run,
        "train_minutes": round((time.monotonic() - loop.started) / 60, 2),
        "git_commit": git_commit(),
        "n_parameters": int(sum(p.numel() for p in module.parameters())),
        **spec.notes,
    }


def train(spec: ModelSpec, ds: xr.Dataset, *, overrides: dict | None = None, device: str = "auto",
          seed: int = 0, max_minutes: float | None = None, aod_source=None, save: bool = True,
          out_root: Path | None = None, save_as: str | None = None, dataset_name: str = "",
          progress: bool = True, data: TrainData | None = None) -> TrainResult:
    """Train ``spec``'s model on ``ds`` (see module docstring); returns the best-on-validation module."""
    hp = spec.hparams(overrides)
    if aod_source is None:
        hp["aod_loss"] = 0.0
    dev = resolve_device(device)
    if hp["threads"] and dev.type == "cpu":  # on a busy shared CPU one thread avoids OpenMP spin-waits (4× faster)
        torch.set_num_threads(int(hp["threads"]))
    seed_everything(seed)
    data = data or prepare_training_data(ds, hp["window"], aod_source, predict=hp["predict"],
                                         margin_deg=hp["train_margin_deg"])
    if data.aod is None:
        hp["aod_loss"] = 0.0
    if spec.fit is not None:
        hp = spec.fit(hp, data.nodes, time_split(data.nodes.times)["train"])
    module = spec.build(module_hparams(hp)).to(dev)
    val_data = validation_data(data, hp)
    loop = run_epochs(spec, module, data, val_data, hp, dev, seed, max_minutes, progress)
    module.load_state_dict(loop.best_state)
    module.eval()
    out_dir = None
    if save:
        card = build_card(spec, ds, data, val_data, hp, module, loop, seed, dev, dataset_name)
        out_dir = save_checkpoint(save_as or spec.name, spec.arch_version, hp, module, card, out_root)
    return TrainResult(module, hp, loop.history, loop.best, out_dir, data.test_codes, loop.steps_run, loop.stopped)
