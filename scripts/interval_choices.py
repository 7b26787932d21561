"""Evidence behind the interval method's choices (core/intervals.py docstring), on validation days only.

    .venv/bin/python -m scripts.interval_choices --model spin [--transfer uci] [--transfer yrd]

1. Cross-fit on BTH validation cells (S_test removed): fitted on odd (even) months without one fold in five
   of the stations, scored on that fold's S_val cells of the other months, per protocol — for one pooled
   quantile pair, per-band pairs (< / ≥ 20 km) and the automatic choice (:func:`core.intervals.choose_bands`).
2. ``--transfer``: the table fitted on every BTH cell, scored on another period and station set:
   ``uci`` (UCI Beijing 2013–17 validation days without AQI-36's year May 2014 – Apr 2015, four-fold
   holdout of three stations, two permutations) or a region of cnemc_china_2019 outside the BTH file
   (``yrd``, ``prd``, ``scq``; validation days, the calibration protocols). S_test and AQI-36 never enter.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from core.contracts.stationset import active_stations
from core.data.load import load_stationset
from core.data.splits import select_test_stations
from core.engine.models import get_model
from core.evaluation.calibrate import PROTOCOLS, calibration_cells, calibration_runs
from core.evaluation.protocols import Run
from core.evaluation.runner import resolve_test_stations, scored_hours, validation_view
from core.intervals import fit_table

REGIONS = {"yrd": (29.5, 33.0, 117.5, 122.5), "prd": (21.5, 24.0, 112.0, 115.5), "scq": (28.5, 31.5, 103.0, 107.5)}
SHOWN = ("holdout", "mask-50", "mask-90", "sparse-30km")
VARIANTS = {"pooled": (), "bands <20/>=20 km": (20.0,), "automatic": None}


def cells_by_protocol(model, view, targets, runs, hours) -> dict[str, np.ndarray]:
    """Calibration cells of ``runs`` with their protocol and whether the station is a target (S_val)."""
    out: dict[str, list] = {}
    for proto in dict.fromkeys(r.group.split(":")[0] for r in runs):
        sel = [r for r in runs if r.group.split(":")[0] == proto]
        c = calibration_cells(model, view, sel, hours)
        c["proto"] = np.full(len(c["pred"]), proto)
        c["target"] = np.isin(c["stations"], list(targets))
        for k, v in c.items():
            out.setdefault(k, []).append(v)
    return {k: np.concatenate(v) for k, v in out.items()}


def table(c: dict, edges) -> object:
    return fit_table("x", c["pred"], c["truth"], c["near_km"], c["times"], third_km=c["third_km"],
                     spread=c["spread"], stations=c["stations"], band_edges=edges)


def score(t, c: dict, m: np.ndarray) -> tuple[float, float, int]:
    lo, hi = t.bounds(c["pred"][m], c["near_km"][m], c["times"][m], c["third_km"][m], c["spread"][m])
    y = c["truth"][m]
    ok = np.isfinite(y) & np.isfinite(lo)
    return float(((y >= lo) & (y <= hi))[ok].mean()), float((hi - lo)[ok].mean()), int(ok.sum())


def cross_fit(c: dict, edges) -> dict[str, tuple[float, float]]:
    month = c["times"].astype("datetime64[M]").astype(int)
    codes, inv = np.unique(c["stations"], return_inverse=True)
    fold = (np.random.default_rng(42).permutation(len(codes)) % 5)[inv]
    acc = {p: np.zeros(3) for p in SHOWN}
    for k in (0, 1):
        for f in range(5):
            tr = (month % 2 != k) & (fold != f)
            t = table({key: v[tr] for key, v in c.items()}, edges)
            for p in SHOWN:
                m = (month % 2 == k) & (fold == f) & (c["proto"] == p) & c["target"]
                if m.any():
                    cov, w, n = score(t, c, m)
                    acc[p] += (cov * n, w * n, n)
    return {p: (a[0] / a[2], a[1] / a[2]) for p, a in acc.items() if a[2]}


def transfer_cells(model, name: str) -> dict:
    if name == "uci":
        view = active_stations(load_stationset(dataset="uci_beijing_multisite"))
        hours, _ = scored_hours(view, None, use_split=True, split="val")
        t = view["time"].values
        hours &= ~((t >= np.datetime64("2014-05-01")) & (t < np.datetime64("2015-05-01")))
        codes = sorted(view["station"].values.astype(str))
        runs = []
        for seed in (0, 1):
            perm = list(np.random.default_rng(seed).permutation(codes))
            runs += [Run(seed=seed, hidden=tuple(perm[f::4]), scored=tuple(perm[f::4]), group=f"holdout:{seed}{f}")
                     for f in range(4)]
        return cells_by_protocol(model, view, codes, runs, hours)
    ch = load_stationset(dataset="cnemc_china_2019")
    bth = load_stationset(dataset="cnemc_bth_2019")["station"].values.astype(str)
    a, b, c0, d = REGIONS[name]
    la, lo = ch["lat"].values, ch["lon"].values
    keep = (la >= a) & (la <= b) & (lo >= c0) & (lo <= d) & ~np.isin(ch["station"].values.astype(str), bth)
    view = active_stations(ch.isel(station=np.flatnonzero(keep)))
    view = view.assign_coords(is_bth=("station", np.zeros(view.sizes["station"], bool)))
    targets = select_test_stations(view)
    hours, _ = scored_hours(view, None, use_split=True, split="val")
    return cells_by_protocol(model, view, targets, calibration_runs(view, targets, PROTOCOLS, (0, 1)), hours)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="spin")
    ap.add_argument("--transfer", action="append", default=[], choices=["uci", *REGIONS])
    args = ap.parse_args()
    model = get_model(args.model, calibrated=False)
    stations = load_stationset(dataset="cnemc_bth_2019")
    view, s_val = validation_view(active_stations(stations), resolve_test_stations(stations, None))
    hours, _ = scored_hours(view, None, use_split=True, split="val")
    t0 = time.time()
    c = cells_by_protocol(model, view, s_val, calibration_runs(view, s_val), hours)
    print(f"{args.model}: {len(c['pred'])} BTH validation cells ({time.time() - t0:.0f} s)")
    for name, edges in VARIANTS.items():
        got = cross_fit(c, edges)
        print(f"  cross-fit {name:18s} " + "  ".join(f"{p} {cv:.3f} ({w:.1f})" for p, (cv, w) in got.items()))
    for name in args.transfer:
        u = transfer_cells(model, name)
        for vname, edges in VARIANTS.items():
            t = table(c, edges)
            masks = {p: (u["proto"] == p) & u["target"] for p in SHOWN}
            got = {p: score(t, u, m)[:2] for p, m in masks.items() if m.any()}
            shown = "  ".join(f"{p} {cv:.3f} ({w:.1f})" for p, (cv, w) in got.items())
            print(f"  transfer {name} {vname:18s} {shown}")


if __name__ == "__main__":
    main()
