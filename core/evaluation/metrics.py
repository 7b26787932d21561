"""Scores on hourly PM2.5 (µg/m³, original scale). NaN-aware: a pair counts only if both are finite."""

from __future__ import annotations

import numpy as np

from core.contracts.seasons import SEASONS, season_of

__all__ = ["SEASONS", "season_of", "mae", "rmse", "r2", "bias", "all_metrics"]


def _pairs(pred: np.ndarray, truth: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, truth = np.asarray(pred, float).ravel(), np.asarray(truth, float).ravel()
    if pred.shape != truth.shape:
        raise ValueError(f"pred and truth differ in size: {pred.size} vs {truth.size}")
    ok = np.isfinite(pred) & np.isfinite(truth)
    return pred[ok], truth[ok]


def mae(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean absolute error; NaN when no pair is finite."""
    p, t = _pairs(pred, truth)
    return float(np.abs(p - t).mean()) if p.size else float("nan")


def rmse(pred: np.ndarray, truth: np.ndarray) -> float:
    """Root mean squared error."""
    p, t = _pairs(pred, truth)
    return float(np.sqrt(((p - t) ** 2).mean())) if p.size else float("nan")


def r2(pred: np.ndarray, truth: np.ndarray) -> float:
    """Coefficient of determination 1 − SS_res / SS_tot (NaN if truth is constant)."""
    p, t = _pairs(pred, truth)
    if p.size == 0:
        return float("nan")
    ss_tot = ((t - t.mean()) ** 2).sum()
    return float(1.0 - ((t - p) ** 2).sum() / ss_tot) if ss_tot > 0 else float("nan")


def bias(pred: np.ndarray, truth: np.ndarray) -> float:
    """Mean of pred − truth (positive = over-estimate)."""
    p, t = _pairs(pred, truth)
    return float((p - t).mean()) if p.size else float("nan")


def all_metrics(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """``{"mae", "rmse", "r2", "bias", "n"}`` — n = number of scored (finite) pairs."""
    p, _ = _pairs(pred, truth)
    return {"mae": mae(pred, truth), "rmse": rmse(pred, truth), "r2": r2(pred, truth),
            "bias": bias(pred, truth), "n": int(p.size)}
