"""Validation-day diagnosis of spin by distance to the nearest observed station (README, spin's kriging init).

Runs spin (as shipped), spin's init alone (its correction decoder zeroed), and logok over the calibration
runs of :mod:`core.evaluation.calibrate` (holdout, mask-30…90, sparse-30km on the S_test-free set, seeds 0–1;
every hidden BTH station scored) and prints the MAE per nearest-observed distance band and protocol.
``--ok-k N`` runs spin with that many kriging neighbours instead of the shipped value. Validation days only.

Usage: OMP_NUM_THREADS=1 .venv/bin/python scripts/diagnose_spin_bands.py [--ok-k 16]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.contracts.stationset import active_stations  # noqa: E402
from core.data.load import load_stationset  # noqa: E402
from core.engine.models import get_model  # noqa: E402
from core.evaluation.calibrate import PROTOCOLS, calibration_runs  # noqa: E402
from core.evaluation.runner import resolve_test_stations, run_model, scored_hours, validation_view  # noqa: E402
from core.geo import haversine_km  # noqa: E402

BANDS_KM = (0, 10, 20, 30, 45, np.inf)


class _Zero(nn.Module):
    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.zeros(h.shape[:-1] + (1,), dtype=h.dtype)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ok-k", type=int, default=None)
    ap.add_argument("--dataset", default="cnemc_bth_2019")
    args = ap.parse_args()
    torch.set_num_threads(1)
    stations = load_stationset(dataset=args.dataset)
    ds = active_stations(stations)
    view, s_val = validation_view(ds, resolve_test_stations(stations, None))
    hours, _ = scored_hours(view, None, use_split=True, split="val")
    runs = calibration_runs(view, s_val, PROTOCOLS, (0, 1))
    models = {}
    for name in ("spin", "spin init"):
        m = get_model("spin", calibrated=False)
        if args.ok_k is not None:
            m.module.ok_k = m.hparams["ok_k"] = args.ok_k
        if name == "spin init":
            m.module.decoder = _Zero()
        models[name] = m
    models["logok"] = get_model("logok", calibrated=False)
    preds = {n: run_model(m, view, runs, hours) for n, m in models.items()}
    codes = view["station"].values.astype(str)
    pos = {c: i for i, c in enumerate(codes)}
    lat, lon = view["lat"].values.astype(float), view["lon"].values.astype(float)
    dist = haversine_km(lat, lon, lat, lon)
    pm = view["pm25"].values
    index = {t: i for i, t in enumerate(view["time"].values)}
    ref = preds["spin"]
    near, proto, truth = [], [], []
    for run, y, t in zip(runs, ref.truth, ref.times, strict=True):
        if not y.size:
            continue
        rows = np.array([index[x] for x in t[:, 0]])
        avail = ~np.isin(codes, run.hidden)[None, :] & np.isfinite(pm[rows])
        d = np.where(avail[:, None, :], dist[[pos[c] for c in run.scored]][None], np.inf)
        near.append(d.min(-1).ravel())
        proto.append(np.full(y.size, run.group.split(":")[0]))
        truth.append(y.ravel())
    near, proto, truth = np.concatenate(near), np.concatenate(proto), np.concatenate(truth)
    pred = {n: np.concatenate([p.ravel() for p, y in zip(s.pred, s.truth, strict=True) if y.size])
            for n, s in preds.items()}
    ok = np.isfinite(truth) & np.all([np.isfinite(p) for p in pred.values()], axis=0)
    for pr in ("all", *PROTOCOLS):
        print(f"\n{pr}\n| nearest observed km | cells | " + " | ".join(pred) + " |")
        for lo, hi in zip(BANDS_KM[:-1], BANDS_KM[1:], strict=True):
            sel = ok & (near >= lo) & (near < hi) & ((proto == pr) | (pr == "all"))
            if sel.sum() >= 50:
                print(f"| {lo}–{hi:g} | {sel.sum()} | "
                      + " | ".join(f"{np.abs(p[sel] - truth[sel]).mean():.2f}" for p in pred.values()) + " |")


if __name__ == "__main__":
    main()
