"""Inverse-distance weighting: ẑ(x) = Σ d_i^-p z_i / Σ d_i^-p over the stations observed that hour.

The power p is tuned per protocol on validation days (:mod:`core.evaluation.tuning`) and stored in
``assets/models/idw/card.json``; ``get_model("idw", protocol=...)`` reads it (p = 2 when absent).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import xarray as xr

from core.baselines._neighbours import chunks, distances, idw_matrix, make_result, window_problem
from core.contracts.grid import GridSpec
from core.contracts.kriger import InferenceResult, Window
from core.contracts.registry import register
from core.paths import MODELS_DIR

DEFAULT_POWER = 2.0
CARD = MODELS_DIR / "idw" / "card.json"


class IDW:
    """Kriger: inverse-distance weighting with power ``power`` over all observed stations."""

    name = "idw"
    history_hours = 0  # per-hour method: reads nothing before the window

    def __init__(self, power: float = DEFAULT_POWER) -> None:
        if not power > 0:
            raise ValueError(f"IDW power must be > 0, got {power}")
        self.power = float(power)

    def infer(self, stations: xr.Dataset, observed: np.ndarray, grid: GridSpec | None,
              window: Window) -> InferenceResult:
        """``station_pred`` (time, station) µg/m³; NaN at hours where no station is observed."""
        p = window_problem(stations, observed, window)
        dist = distances(p, grid)  # (N, S)
        pred = np.concatenate([idw_matrix(p.values[sl], dist, self.power) for sl in chunks(len(p.times), 256)]) \
            if len(p.times) else np.zeros((0, dist.shape[0]))
        return make_result(p, pred, grid, self.name, {"power": self.power})


def load_power(card: Path | None = None, protocol: str | None = None) -> float:
    """The tuned power from ``card.json`` (default :data:`CARD`) — the one tuned for ``protocol`` when the
    card has it (``power_by_protocol``, see :mod:`core.evaluation.tuning`) — or :data:`DEFAULT_POWER`."""
    card = CARD if card is None else card
    if card.is_file():
        info = json.loads(card.read_text())
        return float((info.get("power_by_protocol") or {}).get(protocol, info["power"]))
    return DEFAULT_POWER


@register("idw")
def make_idw(power: float | None = None, protocol: str | None = None) -> IDW:
    """IDW with the validation-tuned power (for ``protocol`` when given: masking level matters)."""
    return IDW(power if power is not None else load_power(protocol=protocol))
