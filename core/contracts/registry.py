"""Model registry: names → the module that registers them. No if/elif chains.

Two kinds of entries, both registered by the model's own module on import:

- a classical model registers a factory ``f(**kwargs) -> Kriger`` with :func:`register`;
- a learned model registers its :class:`~core.contracts.model_spec.ModelSpec` with :func:`register_spec`;
  the engine turns spec + checkpoint into a Kriger.

A ready Kriger comes from ``core.engine.models.get_model(name)``. Names are listed without importing
anything (:func:`available`), so the dashboard's cold start does not pay for torch.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable
from importlib.util import find_spec
from pathlib import Path

from core.contracts.model_spec import ModelSpec
from core.errors import InvalidRequest
from core.paths import MODELS_DIR

# The module that registers each shipped model (one model per file; the file stem is the model name).
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
LEARNED_PACKAGE = "core.nn.models"  # shipped modules under it register a ModelSpec and need a checkpoint
CLASSICAL_PACKAGE = "core.baselines"  # shipped modules under it register a factory: numpy only, no training
CHECKPOINT_FILE = "model.pt"

_FACTORIES: dict[str, Callable[..., object]] = {}
_SPECS: dict[str, ModelSpec] = {}


def register(name: str):
    """Decorator: register a factory ``f(**kwargs) -> Kriger`` under ``name``."""

    def deco(factory):
        _FACTORIES[name] = factory
        return factory

    return deco


def register_spec(spec: ModelSpec) -> ModelSpec:
    """Register a learned model's spec under ``spec.name`` (returns it, for ``SPEC = register_spec(...)``)."""
    _SPECS[spec.name] = spec
    return spec


def _module_of(name: str) -> str | None:
    return next((m for m in MODEL_MODULES if m.rsplit(".", 1)[1] == name), None)


def import_model(name: str) -> None:
    """Import only the module that registers ``name``: a baseline then costs no torch import (~3 s of a
    cold dashboard start). A name no shipped module has (a user's own model) imports every module."""
    mod = _module_of(name)
    for m in (mod,) if mod else MODEL_MODULES:
        importlib.import_module(m)


def available() -> list[str]:
    """Registered model names, without importing the model modules (their file stems, when present)."""
    shipped = {m.rsplit(".", 1)[1] for m in MODEL_MODULES if find_spec(m) is not None}
    return sorted(shipped | set(_FACTORIES) | set(_SPECS))


def classical() -> tuple[str, ...]:
    """The shipped classical models (interpolators: no checkpoint, no torch), without importing them."""
    return tuple(m.rsplit(".", 1)[1] for m in MODEL_MODULES if m.startswith(CLASSICAL_PACKAGE + "."))


def is_learned(name: str) -> bool:
    """Whether ``name`` is a learned model (needs a trained checkpoint), without importing it."""
    mod = _module_of(name)
    return name in _SPECS or (mod is not None and mod.startswith(LEARNED_PACKAGE + "."))


def is_ready(name: str, root: Path | None = None) -> bool:
    """Whether ``get_model(name)`` can serve ``name`` now: a classical model always, a learned one when
    its checkpoint (``<models>/<name>/model.pt``) exists. Imports nothing."""
    if name not in available():
        return False
    return not is_learned(name) or ((root or MODELS_DIR) / name / CHECKPOINT_FILE).exists()


def factory(name: str) -> Callable[..., object] | None:
    """The factory a classical model registered (None for a learned model)."""
    if name not in _FACTORIES and name not in _SPECS:
        import_model(name)
    return _FACTORIES.get(name)


def get_spec(name: str) -> ModelSpec:
    """The spec of a learned model (imports its module, which registers it)."""
    if name not in _SPECS:
        import_model(name)
    if name not in _SPECS:
        raise InvalidRequest(f"'{name}' is not a trainable model. Trainable: {', '.join(sorted(_SPECS)) or 'none'}.")
    return _SPECS[name]


def require(name: str) -> None:
    """Refuse an unknown name, listing what exists."""
    if name not in _FACTORIES and name not in _SPECS:
        import_model(name)
    if name not in _FACTORIES and name not in _SPECS:
        raise InvalidRequest(f"Unknown model '{name}'. Available: {', '.join(available())}.")


def accepts(name: str, parameter: str) -> bool:
    """Whether the factory of ``name`` takes ``parameter`` (e.g. ``protocol`` for settings tuned per protocol)."""
    f = factory(name)
    return f is not None and parameter in inspect.signature(f).parameters
