"""What a learned model declares about itself: :class:`ModelSpec`.

A model file (``core/nn/models/<name>.py``) holds a plain ``nn.Module`` and one ``ModelSpec`` registered
with :func:`core.contracts.registry.register_spec`. The engine reads the spec to build, train, save and
serve the module (``core.engine.models.get_model``); the model never imports the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a spec is read without torch (the dashboard's cold start imports it only when needed)
    import numpy as np
    import torch

# Hyper-parameters the engine understands (training, masking, validation). A spec's ``defaults``,
# ``core/conf/<name>.yaml`` and the CLI override them; ``build`` never receives them (:func:`module_hparams`).
TRAIN_DEFAULTS: dict = {
    "window": 24, "predict": 24, "batch_size": 8, "lr": 2e-3, "weight_decay": 1e-5, "epochs": 30,
    "steps_per_epoch": 100, "patience": 6, "mask_lo": 0.1, "mask_hi": 0.9, "masking": "dynamic",
    "init_loss": 0.5, "aod_loss": 0.0, "grad_clip": 1.0, "val_windows": 48, "val_share": 0.5,
    "train_margin_deg": None, "warmup_steps": 20, "threads": None,
    "schedule": "plateau", "min_lr_frac": 0.05, "val_sets": 0,
    "sparse_share": 0.0, "sparse_km": 30.0,  # share of training windows masked like sparse-30km (clusters)
    "subnet_size": None, "val_margin_deg": 2.0,
    "aux_dropout": 0.0,  # share of training windows with every auxiliary pollutant blanked (PM2.5-only networks)
    # inference: longest chunk (h) a window is cut into when the encoder reads its chunk both ways
    # (predict == window); None = chunks of ``predict`` hours as in training (core.engine.chunk_batches.even_chunks)
    "chunk_hours": None,
    # inference: "window" refits the spec's fitted hyper-parameters (``fit``) on each call's observed stations;
    # "auto" refits only where the spec's ``refit_gate`` says the training-day fit does not apply;
    # None / "trained" keeps the training-day fit (core.engine.neural_kriger)
    "variogram": None,
}
# values of the ``variogram`` inference setting: as fitted on training days, or refitted on each call's window from
# the stations observed in it (another network's spatial scale: UCI Beijing, AQI-36), or refitted only on a window
# whose observed network the spec's ``refit_gate`` marks (spin: one narrower than the trained range)
TRAINED, WINDOW, AUTO = "trained", "window", "auto"
VARIOGRAMS = (TRAINED, WINDOW, AUTO)


def module_hparams(hp: dict) -> dict:
    """The hyper-parameters ``build`` receives (engine-only keys removed)."""
    return {k: v for k, v in hp.items() if k not in TRAIN_DEFAULTS}


def history_hours(hp: dict) -> int:
    """Hours of input a model with hyper-parameters ``hp`` reads before the hours it predicts."""
    return max(0, int(hp["window"]) - int(hp["predict"]))


@dataclass(frozen=True)
class ModelSpec:
    """How the engine builds, trains and labels one learned model. ``build(hparams) -> nn.Module``."""

    name: str
    arch_version: str
    build: Callable[[dict], torch.nn.Module]
    defaults: dict = field(default_factory=dict)
    wind: str = "none"  # "inferred": infers transport without a MetSource; "none": ignores wind
    uses_measured_wind: bool = False
    loss: Callable | None = None  # (out, batch, LossWeights) -> (loss, parts); default: the composite loss
    # (hparams, NodeData, training-hours bool (T,)) -> hparams: data-dependent hyper-parameters fitted on
    # training days before the module is built (spin: the kriging variogram); saved with the checkpoint
    fit: Callable | None = None
    fitted_hparams: tuple[str, ...] = ()  # the keys ``fit`` sets (data, not a choice of the training recipe)
    # (hparams, lat (S,), lon (S,) of a window's observed stations, degrees) -> bool: whether ``variogram: auto``
    # refits on that window (None: never; the training-day fit is kept)
    refit_gate: Callable[[dict, np.ndarray, np.ndarray], bool] | None = None
    notes: dict = field(default_factory=dict)  # static facts for the model card (e.g. data sources it reads)
    # hyper-parameters a card's ``inference`` block may change after training (chosen on validation days;
    # they change how the weights run, never their shapes): core.engine.checkpoint.inference_settings
    inference_hparams: tuple[str, ...] = ()
    # which engine Kriger serves the module: "neural" (predictions, grid, influence) or "aqnet" (+ attention)
    kriger: str = "neural"
    # what its served result explains beyond the estimate (what the attention page can draw): "attention"
    # (temporal attention, prediction day × history day), "influence" (which stations fed each estimate)
    explains: tuple[str, ...] = ()
    # whether ``build`` takes ``members`` > 1: trained runs assembled into one checkpoint that serves their mean
    # correction (``python -m core ensemble``; spin: core.nn.ensemble.CorrectionEnsemble)
    ensembles: bool = False

    def hparams(self, overrides: dict | None = None) -> dict:
        return {**TRAIN_DEFAULTS, **self.defaults, **(overrides or {})}

    def wind_label(self, has_measured: bool, hparams: dict | None = None) -> str:
        """"measured" only when the data has wind and the model (hparams ``use_measured_wind``) reads it."""
        if self.uses_measured_wind and has_measured and (hparams or {}).get("use_measured_wind", True):
            return "measured"
        return self.wind
