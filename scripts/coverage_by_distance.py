"""Diagnosis only: where a protocol's interval coverage comes from, by distance to the nearest observed station.

    .venv/bin/python -m scripts.coverage_by_distance [--model spin] [--protocol sparse-30km] [--json OUT]

Scores the shipped model's calibrated interval on two sets of cells, each through the calibration's own steps
(``calibration_cells``: the model uncalibrated, then the shipped ``intervals.json`` applied):

- ``test``: ``S_test`` hidden as the protocol hides it, scored on test days (the evaluation's cells);
- ``val``: the validation view (``S_test`` removed), every validation station fold hidden in turn as the protocol
  hides it (seed 0), every hidden BTH station scored on validation days (the calibration's cells).

For each it prints the coverage, the medians of the features the interval's scale reads (nearest and
third-nearest observed km, neighbour spread, predicted level), and per nearest-distance band the coverage, the
median scale σ and the median |log error|. Nothing here changes a shipped model or table: a fix would have to be
chosen on the ``val`` cells alone.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from core.contracts.settings import DEFAULT_DATASET
from core.contracts.stationset import active_stations
from core.data.load import load_stationset
from core.engine.models import get_model
from core.evaluation.calibrate import calibration_cells, calibration_runs
from core.evaluation.protocols import runs_for
from core.evaluation.runner import all_folds, resolve_test_stations, scored_hours, validation_view
from core.intervals import load_table

BANDS_KM = ((0, 30), (30, 40), (40, 50), (50, 70), (70, np.inf))


def summarise(cells: dict[str, np.ndarray], table) -> dict:
    """Coverage, feature medians and per-band figures of ``cells`` under ``table`` (an IntervalTable)."""
    ok = np.isfinite(cells["pred"]) & np.isfinite(cells["truth"])
    c = {k: v[ok] for k, v in cells.items()}
    args = [c[k][None] for k in ("pred", "near_km", "times", "third_km", "spread")]
    lo, hi = (b[0] for b in table.bounds(*args))
    sigma = table.scale(*args)[0]
    inside = (c["truth"] >= lo) & (c["truth"] <= hi)
    abs_r = np.abs(np.log1p(np.maximum(c["truth"], 0)) - np.log1p(np.maximum(c["pred"], 0)))
    out = {"cells": int(ok.sum()), "coverage": round(float(inside.mean()), 4),
           "median": {k: round(float(np.median(c[k])), 3) for k in ("near_km", "third_km", "spread", "pred")},
           "median_sigma": round(float(np.median(sigma)), 3), "bands": {}}
    for a, b in BANDS_KM:
        m = (c["near_km"] >= a) & (c["near_km"] < b)
        if m.any():
            out["bands"][f"{a}-{b:g} km"] = {"cells": int(m.sum()), "coverage": round(float(inside[m].mean()), 3),
                                             "median_sigma": round(float(np.median(sigma[m])), 3),
                                             "median_abs_log_error": round(float(np.median(abs_r[m])), 3)}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="spin")
    ap.add_argument("--protocol", default="sparse-30km")
    ap.add_argument("--dataset", default=DEFAULT_DATASET)
    ap.add_argument("--json", default=None, help="write the figures here too")
    a = ap.parse_args()
    stations = load_stationset(dataset=a.dataset)
    ds = active_stations(stations)
    s_test = resolve_test_stations(stations, None)
    model, table = get_model(a.model, calibrated=False), load_table(a.model)
    if table is None:
        raise SystemExit(f"{a.model} ships no interval table: run `python -m core calibrate --model {a.model}`.")
    hours, _ = scored_hours(ds, None, use_split=True, split="test")
    result = {"model": a.model, "protocol": a.protocol, "dataset": a.dataset, "test_stations": list(s_test),
              "test": summarise(calibration_cells(model, ds, runs_for(a.protocol, ds, s_test), hours), table)}
    print("test", json.dumps(result["test"]), flush=True)
    view = validation_view(ds, s_test)[0]
    runs = [r for f in all_folds(stations)
            for r in calibration_runs(view, validation_view(ds, s_test, f)[1], (a.protocol,), (0,))]
    vhours, _ = scored_hours(view, None, use_split=True, split="val")
    result["val"] = summarise(calibration_cells(model, view, runs, vhours), table)
    print("val", json.dumps(result["val"]), flush=True)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
