"""Diagnosis only: how close the shipped spin is to what any input could tell about a hidden station (validation).

    .venv/bin/python -m scripts.ceiling [--protocols holdout,mask-50,sparse-30km] [--json OUT]

Runs spin, IDW and logok (the shipped ones) on every validation station fold of each protocol
(:func:`core.evaluation.ceiling.cell_table`, the evaluation's own steps, ``S_test`` removed) and writes
:func:`core.evaluation.ceiling.ceiling_summary` per protocol: offset oracles, what static covariates (population,
elevation) explain of each station's offset on stations left out, and how two hidden stations' monthly and weekly
anomalies correlate by distance. Nothing here changes a shipped model: it says how much is left to get.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json

import pandas as pd

from core.contracts.provenance import data_sha256, git_commit
from core.contracts.settings import DEFAULT_DATASET
from core.data.load import load_stationset
from core.data.terrain import elevation_m
from core.engine.models import get_model
from core.evaluation.ceiling import ceiling_summary, cell_table
from core.evaluation.runner import all_folds, resolve_test_stations
from core.nn.features import static_features

MODELS = ("spin", "idw", "logok")


def station_frames(stations) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(coords, covariates) per station code: lat/lon in degrees; log population of the 0.1° cell and its 3×3
    block (the spin input, ÷ 10) and elevation (km, pvlib's Altitude.h5)."""
    codes = stations["station"].values.astype(str)
    lat, lon = stations["lat"].values.astype(float), stations["lon"].values.astype(float)
    static = static_features(lat, lon)
    coords = pd.DataFrame({"lat": lat, "lon": lon}, index=codes)
    cov = pd.DataFrame({"log_pop_cell": static[:, 0], "log_pop_block": static[:, 1],
                        "elevation_km": elevation_m(lat, lon) / 1000.0}, index=codes)
    return coords, cov


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--protocols", default="holdout,mask-50,sparse-30km")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    stations = load_stationset(dataset=DEFAULT_DATASET)
    models = {m: get_model(m) for m in MODELS}
    coords, cov = station_frames(stations)
    folds = all_folds(stations)
    out = {"dataset": DEFAULT_DATASET,
           "split": "val (days 21-23), S_test removed, every validation fold hidden in turn",
           "folds": list(folds), "test_stations_excluded": resolve_test_stations(stations, None),
           "models": list(MODELS), "commit": git_commit(), "data_sha256": data_sha256(stations),
           "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "protocols": {}}
    for p in args.protocols.split(","):
        cells = cell_table(models, p, stations, folds)
        out["protocols"][p] = ceiling_summary(cells, "spin", "idw", cov, coords)
        out["protocols"][p]["runs"] = int(cells.groupby(["fold", "run"]).ngroups)
        print(json.dumps({p: {k: v for k, v in out["protocols"][p].items() if k != "anomaly_correlation"}},
                         indent=1), flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
            fh.write("\n")


if __name__ == "__main__":
    main()
