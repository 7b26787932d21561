"""Ordinary kriging of log1p(PM2.5), back-transformed (registry name ``logok``).

PM2.5 is heavy-tailed and its spatial differences scale with its level, so a variogram of
``log1p(PM2.5)`` is closer to stationary than one of PM2.5 itself (in the CNEMC BTH 2019 reports,
``assets/metrics/spin_*.json``, log-OK beats IDW and plain OK under every protocol). Everything else —
per-hour spherical variogram, the ``n_neighbours`` nearest observed stations, batched solves, the guard that
replaces absurd values by IDW — is :class:`~core.baselines.ok.OrdinaryKriging`, run on the log scale.

Back-transform of the kriged log value ``m`` with kriging variance ``σ²``:

- ``"expm1"``: ``expm1(m)`` — the median of a log-normal predictive distribution;
- ``"lognormal"``: ``(1 + expm1(m)) · exp(σ²/2) − 1`` — its mean.

Which one ships is chosen on validation days (:func:`choose_backtransform`, stored in
``assets/models/logok/card.json``). The kriging variance also gives the model's *own* interval
``expm1(m ± z σ)`` (``station_lo``/``station_hi``, grid ``pm25_lo``/``pm25_hi``); it is a model-based
interval, not a calibrated one — :mod:`core.intervals` replaces it by the calibrated one when the
shipped calibration exists.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
from scipy.stats import norm

from core.baselines._neighbours import Problem, make_result
from core.baselines.ok import OrdinaryKriging
from core.contracts.grid import GridSpec
from core.contracts.kriger import InferenceResult
from core.contracts.registry import register
from core.paths import MODELS_DIR

BACKTRANSFORMS = ("expm1", "lognormal")
DEFAULT_BACKTRANSFORM = "expm1"
OWN_LEVEL = 0.9
CARD = MODELS_DIR / "logok" / "card.json"


class LogOrdinaryKriging(OrdinaryKriging):
    """Kriger: ordinary kriging on ``log1p(PM2.5)``; µg/m³ out, with a kriging-variance interval."""

    name = "logok"

    def __init__(self, n_neighbours: int = 16, guard: bool = True,
                 backtransform: str = DEFAULT_BACKTRANSFORM, level: float = OWN_LEVEL) -> None:
        if backtransform not in BACKTRANSFORMS:
            raise ValueError(f"backtransform must be one of {BACKTRANSFORMS}, got {backtransform!r}")
        super().__init__(n_neighbours, guard)
        self.backtransform = backtransform
        self.level = float(level)

    def _transform(self, p: Problem) -> Problem:
        return replace(p, values=np.log1p(np.maximum(p.values, 0.0)))

    def _result(self, p: Problem, pred: np.ndarray, var: np.ndarray, grid: GridSpec | None,
                extras: dict) -> InferenceResult:
        """``pred``/``var``: (T, N_targets) kriged log1p values and their variance."""
        sd = np.sqrt(np.maximum(var, 0.0))
        if self.backtransform == "lognormal":
            est = np.expm1(pred + 0.5 * sd**2)
        else:
            est = np.expm1(pred)
        z = float(norm.ppf(0.5 + self.level / 2))
        lo, hi = np.expm1(np.maximum(pred - z * sd, 0.0)), np.expm1(pred + z * sd)
        raw = replace(p, values=np.expm1(p.values))
        extras = extras | {"backtransform": self.backtransform}
        res = make_result(raw, est, grid, self.name, extras)
        lo_res = make_result(raw, lo, grid, self.name)
        hi_res = make_result(raw, hi, grid, self.name)
        res.station_lo, res.station_hi = lo_res.station_pred, hi_res.station_pred
        if res.grid is not None:
            res.grid["pm25_lo"] = lo_res.grid["pm25"]
            res.grid["pm25_hi"] = hi_res.grid["pm25"]
        res.extras["interval"] = {"kind": "kriging variance (log scale), not calibrated", "level": self.level}
        return res


def load_backtransform(card: Path | None = None) -> str:
    """The back-transform chosen on validation (``card.json``), else :data:`DEFAULT_BACKTRANSFORM`."""
    card = CARD if card is None else card
    if card.is_file():
        return str(json.loads(card.read_text()).get("backtransform", DEFAULT_BACKTRANSFORM))
    return DEFAULT_BACKTRANSFORM


@register("logok")
def make_logok(n_neighbours: int = 16, backtransform: str | None = None) -> LogOrdinaryKriging:
    return LogOrdinaryKriging(n_neighbours, backtransform=backtransform or load_backtransform())
