"""Evidence for a next step: does blending the shipped spin with another model still pay? Validation days only.

    .venv/bin/python -m scripts.blend_choices [--protocols mask-50,sparse-30km,holdout] [--json OUT]

Every model runs through the evaluation's own steps (``prepare_evaluation`` + ``score_model``,
``split="val"``): S_test removed, S_val hidden as each protocol hides it and scored on days 21–23 of every
month of cnemc_bth_2019, so all models see the same hidden sets and hours. For each partner (logok, aqnet) the
blend ``(1 − w)·spin + w·partner`` (µg/m³) is scored for w = 0 … 0.6. The weight is also cross-fitted: chosen
on odd months and scored on even months, then the other way round. That says whether a weight chosen on
validation would carry to days it was not chosen on. Nothing here changes a shipped model.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from core.contracts.settings import DEFAULT_DATASET
from core.engine.models import get_model
from core.evaluation.runner import prepare_evaluation, score_model

WEIGHTS = np.round(np.arange(0.0, 0.61, 0.1), 2)
PARTNERS = ("logok", "aqnet")


def _flat(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([p.ravel() for p in parts])


def blend_table(protocol: str, dataset: str = DEFAULT_DATASET) -> dict:
    """Validation MAE of spin blended with each partner, on a weight grid and cross-fitted by month parity."""
    setup = prepare_evaluation(protocol, dataset, path=None, test_stations=None, period=None, seeds=None,
                               stations=None, split="val")
    scores = {m: score_model(get_model(m), setup).scores for m in ("spin", *PARTNERS)}
    pred = {m: _flat(s.pred) for m, s in scores.items()}
    truth = _flat(scores["spin"].truth)
    month = _flat(scores["spin"].times).astype("datetime64[M]").astype(int) % 12
    ok = np.isfinite(truth) & np.all([np.isfinite(v) for v in pred.values()], axis=0)
    odd, even = ok & (month % 2 == 1), ok & (month % 2 == 0)
    out: dict = {"protocol": protocol, "dataset": dataset, "split": "val", "cells": int(ok.sum()),
                 "s_val": list(setup.s_val), "seeds": sorted({r.seed for r in setup.runs if r.seed is not None})}
    for other in PARTNERS:
        def err(w: float, sel: np.ndarray, other: str = other) -> np.ndarray:
            return np.abs((1 - w) * pred["spin"][sel] + w * pred[other][sel] - truth[sel])

        w_odd = float(min(WEIGHTS, key=lambda w: err(w, odd).mean()))
        w_even = float(min(WEIGHTS, key=lambda w: err(w, even).mean()))
        crossfit = (err(w_odd, even).sum() + err(w_even, odd).sum()) / (odd.sum() + even.sum())
        out[other] = {"mae_by_weight": {str(w): round(float(err(w, ok).mean()), 3) for w in WEIGHTS},
                      "crossfit": {"w_chosen_on_odd_months": w_odd, "w_chosen_on_even_months": w_even,
                                   "mae": round(float(crossfit), 3)}}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--protocols", default="mask-50,sparse-30km,holdout")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    tables = [blend_table(p) for p in args.protocols.split(",")]
    for t in tables:
        print(json.dumps({k: v for k, v in t.items() if k != "s_val"}), flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(tables, fh, indent=1)


if __name__ == "__main__":
    main()
