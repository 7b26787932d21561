"""Evidence for spin's init: is there a stronger classical estimate than its log-OK? Validation days only.

    .venv/bin/python -m scripts.init_choices [--protocols mask-50,sparse-30km,holdout] [--json OUT]

Log-OK (``core.baselines.logok``, 16 neighbours) scored through ``evaluate(..., split="val")``: S_test is
removed, S_val is hidden as each protocol hides it (mask-R: seeds 0–4) and scored on days 21–23 of every month
of cnemc_bth_2019. Every variant sees the same hidden sets and hours, so the MAEs compare directly.

1. Variogram: one fitted per hour (the ``logok`` baseline) against spin's single global shape (nugget
   fraction and range from ``assets/models/spin/card.json``, each hour keeping its own sill), with
   10 and 16 neighbours. This asks whether a per-hour variogram in spin's init would help.
2. Regression kriging: a per-hour ridge trend of log1p(PM2.5) on covariates fitted on the observed stations,
   the residuals kriged and the trend added back. Covariates: log elevation, linear elevation, and log
   elevation + latitude + longitude. Elevation is the pvlib ``Altitude.h5`` grid (core/data/terrain.py).
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

import numpy as np

import core.baselines.ok as ok_module
from core.baselines.logok import LogOrdinaryKriging
from core.data.load import load_stationset
from core.data.terrain import elevation_m
from core.evaluation.runner import evaluate
from core.paths import MODELS_DIR

# OrdinaryKriging clamps its estimates at 0 (PM2.5 is never negative); residuals are, so they are kriged
# shifted by this much (OK is shift-invariant) and shifted back.
SHIFT = 20.0


class TrendLogOK(LogOrdinaryKriging):
    """Log-OK of the residuals of a per-hour ridge trend on covariates (``lat``, ``lon``, elevation)."""

    def __init__(self, covariates: tuple[str, ...], n_neighbours: int = 16, ridge: float = 1.0) -> None:
        super().__init__(n_neighbours)
        self.covariates, self.ridge = covariates, ridge

    def _design(self, lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
        elev = np.nan_to_num(elevation_m(lat, lon))
        columns = {"elev": np.log1p(np.maximum(elev, 0.0)) / 3.0, "elev_lin": elev / 500.0,
                   "lat": (lat - 39.0) / 2.0, "lon": (lon - 116.0) / 2.0}
        return np.stack([np.ones_like(lat)] + [columns[c] for c in self.covariates], axis=1)

    def _transform(self, p):
        logv = np.log1p(np.maximum(p.values, 0.0))
        x = self._design(p.lat, p.lon)  # (S, q)
        q = x.shape[1]
        penalty = self.ridge * np.eye(q)
        penalty[0, 0] = 0.0  # the intercept is not shrunk
        beta = np.zeros((len(logv), q))
        for t, row in enumerate(logv):
            ok = np.isfinite(row)
            if ok.sum() >= q + 5:
                beta[t] = np.linalg.solve(x[ok].T @ x[ok] + penalty, x[ok].T @ row[ok])
            elif ok.any():
                beta[t, 0] = row[ok].mean()
        self._beta, self._trend, self._log_problem = beta, beta @ x.T, replace(p, values=logv)
        return replace(p, values=logv - self._trend + SHIFT)

    def _result(self, p, pred, var, grid, extras):
        trend = self._trend
        if pred.shape[1] > trend.shape[1]:  # grid targets after the stations
            glat, glon = grid.points()
            trend = np.concatenate([trend, self._beta @ self._design(glat, glon).T], axis=1)
        return super()._result(self._log_problem, pred - SHIFT + trend, var, grid, extras)


def spin_variogram() -> tuple[float, float]:
    hp = json.loads((MODELS_DIR / "spin" / "card.json").read_text())["hparams"]
    return float(hp["ok_nugget"]), float(hp["ok_range_km"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--protocols", default="mask-50,sparse-30km,holdout")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    frac, range_km = spin_variogram()
    per_hour = ok_module.fit_spherical

    def global_shape(centres, gamma, counts):
        nug, psill, rng = per_hour(centres, gamma, counts)
        sill = nug + psill  # OK weights ignore the sill's scale: each hour keeps its own, the shape is spin's
        return frac * sill, (1 - frac) * sill, np.full_like(rng, range_km)

    variants = {
        **{f"per-hour variogram, k={k}": (per_hour, lambda k=k: LogOrdinaryKriging(k)) for k in (10, 16)},
        **{f"spin's global variogram, k={k}": (global_shape, lambda k=k: LogOrdinaryKriging(k)) for k in (10, 16)},
        **{f"trend on {'+'.join(c)}, k=16": (per_hour, lambda c=c: TrendLogOK(c))
           for c in (("elev",), ("elev_lin",), ("elev", "lat", "lon"))},
    }
    stations = load_stationset(dataset="cnemc_bth_2019")
    out: dict = {"split": "val (days 21-23), S_test removed, S_val scored", "spin_variogram":
                 {"nugget_fraction": frac, "range_km": range_km}, "mae": {}}
    try:
        for protocol in args.protocols.split(","):
            for name, (fit, make) in variants.items():
                ok_module.fit_spherical = fit
                t0 = time.time()
                rep = evaluate("logok", protocol, stations=stations, baselines=(), split="val",
                               models={"logok": make()})
                out["mae"][f"{protocol} | {name}"] = round(rep["metrics"]["mae"], 3)
                print(f"{protocol:12s} {name:34s} MAE {rep['metrics']['mae']:.3f}  ({time.time() - t0:.0f} s)",
                      flush=True)
    finally:
        ok_module.fit_spherical = per_hour
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
