"""Model registry: name -> factory. Models register themselves; no if/elif chains.

``get_model("idw")`` returns a ready Kriger (learned models load their shipped
checkpoint from ``assets/models/<name>/``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from core.errors import InvalidRequest

# Modules that register models on import (one model per file).
MODEL_MODULES = (
    "core.baselines.idw",
    "core.baselines.ok",
    "core.baselines.logok",
    "core.baselines.knn",
    "core.baselines.linear",
    "core.nn.models.ignnk",
    "core.nn.models.aqnet",
    "core.nn.models.spin",
)

_FACTORIES: dict[str, Callable[..., object]] = {}


def register(name: str):
    """Decorator: register a factory ``f(**kwargs) -> Kriger`` under ``name``."""

    def deco(factory):
        _FACTORIES[name] = factory
        return factory

    return deco


def _import_all() -> None:
    for mod in MODEL_MODULES:
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as err:  # a model file not written yet must not break the rest
            if err.name != mod:
                raise


def _import_one(name: str) -> None:
    """Import only the module of ``name`` (file stem = model name): a baseline then costs no torch import
    (~3 s of a cold dashboard start), where importing every model module would."""
    mod = next((m for m in MODEL_MODULES if m.rsplit(".", 1)[1] == name), None)
    if mod is None:
        _import_all()  # registered elsewhere (e.g. a user's module): look everywhere
        return
    try:
        importlib.import_module(mod)
    except ModuleNotFoundError as err:
        if err.name != mod:
            raise


def import_model(name: str) -> None:
    """Import the module that registers ``name`` (its factory and, for learned models, its training adapter).

    :func:`available` lists names without importing anything, so code that needs what a model module
    registers on import (e.g. ``core.engine.trainer.get_adapter``) calls this first.
    """
    _import_one(name)


def available() -> list[str]:
    """Registered model names, without importing the model modules (their file stems, when present)."""
    from importlib.util import find_spec

    shipped = {m.rsplit(".", 1)[1] for m in MODEL_MODULES if find_spec(m) is not None}
    return sorted(shipped | set(_FACTORIES))


def accepts(name: str, parameter: str) -> bool:
    """Whether the factory of ``name`` takes ``parameter`` (e.g. ``protocol`` for settings tuned per protocol)."""
    import inspect

    _import_one(name)
    return name in _FACTORIES and parameter in inspect.signature(_FACTORIES[name]).parameters


def get_model(name: str, calibrated: bool = True, checkpoint: str | None = None, **kwargs):
    """A Kriger by registry name; unknown names list what exists.

    ``calibrated``: wrap it in :class:`core.intervals.CalibratedKriger` when its shipped interval
    calibration (``<models>/<name>/intervals.json``, fitted for this very checkpoint) exists, so every
    consumer gets ``station_lo``/``station_hi`` and grid ``pm25_lo``/``pm25_hi``.
    ``checkpoint``: another checkpoint folder of a learned model (e.g. ``spin-national``), with its own table.
    """
    if name not in _FACTORIES:
        _import_one(name)
    if name not in _FACTORIES:
        raise InvalidRequest(f"Unknown model '{name}'. Available: {', '.join(sorted(_FACTORIES))}.")
    if checkpoint is not None:
        kwargs["name"] = checkpoint
    model = _FACTORIES[name](**kwargs)
    if calibrated:
        from core.intervals import CalibratedKriger, load_table

        table = load_table(checkpoint or name, kwargs.get("root"))  # another checkpoint has a table of its own
        if table is not None:
            return CalibratedKriger(model, table)
    return model
