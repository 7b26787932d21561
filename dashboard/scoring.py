"""Scores at hidden stations for the masking lab (pure numpy/pandas; no st.* calls).

Every model is scored on the same (hour, station) pairs: those where the truth exists and
every compared model gave a finite estimate.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from core.evaluation.metrics import all_metrics


def common_pairs(truth: np.ndarray, preds: Mapping[str, np.ndarray], hidden: np.ndarray) -> np.ndarray:
    """bool (time, station): hidden stations with a truth value and a finite estimate from every model."""
    ok = np.isfinite(truth) & np.asarray(hidden, bool)[None, :]
    for p in preds.values():
        ok &= np.isfinite(p)
    return ok


def summary_table(truth: np.ndarray, preds: Mapping[str, np.ndarray], hidden: np.ndarray) -> pd.DataFrame:
    """One row per model: MAE, RMSE, bias (µg/m³), R² and n (hour × station pairs), same pairs for all."""
    ok = common_pairs(truth, preds, hidden)
    rows = []
    for name, p in preds.items():
        m = all_metrics(p[ok], truth[ok])
        rows.append({"model": name, "MAE": m["mae"], "RMSE": m["rmse"], "bias": m["bias"], "R2": m["r2"],
                     "n": m["n"]})
    return pd.DataFrame(rows, columns=["model", "MAE", "RMSE", "bias", "R2", "n"])


def per_station(truth: np.ndarray, pred: np.ndarray, hidden: np.ndarray) -> pd.DataFrame:
    """Per hidden station: MAE and bias (µg/m³) over the hours with truth, and the hour count."""
    hidden = np.asarray(hidden, bool)
    ok = np.isfinite(truth) & np.isfinite(pred)
    err = np.where(ok, pred - truth, np.nan)
    n = ok.sum(axis=0)
    with np.errstate(invalid="ignore"):
        mae = np.where(n > 0, np.nansum(np.abs(err), axis=0) / np.maximum(n, 1), np.nan)
        bias = np.where(n > 0, np.nansum(err, axis=0) / np.maximum(n, 1), np.nan)
    idx = np.flatnonzero(hidden)
    return pd.DataFrame({"index": idx, "mae": mae[idx], "bias": bias[idx], "hours": n[idx]})
