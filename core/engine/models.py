"""A ready Kriger by registry name: the one place that turns a name into a model.

Classical models come from their registered factory; learned models from their
:class:`~core.contracts.model_spec.ModelSpec` and shipped checkpoint, served by the engine Kriger
the spec names (:data:`KRIGERS`). Shipped interval calibrations are applied on top, so every
consumer gets ``station_lo``/``station_hi`` and grid ``pm25_lo``/``pm25_hi``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from core.contracts import registry
from core.contracts.kriger import Kriger
from core.contracts.model_spec import ModelSpec


def _neural(spec: ModelSpec, **kwargs) -> Kriger:
    from core.engine.neural_kriger import NeuralKriger

    return NeuralKriger.from_checkpoint(spec, **kwargs)


def _aqnet(spec: ModelSpec, **kwargs) -> Kriger:
    from core.engine.aqnet_kriger import AQNetKriger

    return AQNetKriger.from_checkpoint(spec, **kwargs)


# ModelSpec.kriger → how a checkpoint becomes a Kriger (lazy: torch is imported only when a learned model is)
KRIGERS: dict[str, Callable[..., Kriger]] = {"neural": _neural, "aqnet": _aqnet}


def get_model(name: str, calibrated: bool = True, checkpoint: str | None = None, **kwargs) -> Kriger:
    """A Kriger by registry name; unknown names list what exists.

    ``calibrated``: wrap it in :class:`core.intervals.CalibratedKriger` when its shipped interval
    calibration (``<models>/<name>/intervals.json``, fitted for this very checkpoint) exists.
    ``checkpoint``: another checkpoint folder of a learned model (e.g. ``spin-national``), with its own table.
    ``kwargs`` go to the factory (classical) or to the checkpoint loader (learned: ``root``, ``device`` …).
    """
    registry.require(name)
    if checkpoint is not None:
        kwargs["name"] = checkpoint
    factory = registry.factory(name)
    model = factory(**kwargs) if factory is not None else load_learned(registry.get_spec(name), **kwargs)
    if calibrated:
        from core.intervals import CalibratedKriger, load_table

        table = load_table(checkpoint or name, kwargs.get("root"))  # another checkpoint has a table of its own
        if table is not None:
            return CalibratedKriger(model, table)
    return model


def load_learned(spec: ModelSpec, root: Path | None = None, **kwargs) -> Kriger:
    """A learned model's checkpoint (``<root or models>/<name>/``) served by the Kriger its spec names."""
    return KRIGERS[spec.kriger](spec, root=root, **kwargs)
