"""Station-level bootstrap intervals for an evaluation's headline figures (MAE ratios, interval coverage).

A protocol scores a few dozen stations (S_test: 20) over hundreds of hours; one station's hours share its errors,
so the figures' sampling noise is the stations'. Resampling stations with replacement (a cluster bootstrap) and
recomputing a figure from the resampled stations' summed cells (:func:`core.evaluation.runner.station_sums`) gives
its percentile interval; a ratio of two models resamples the same stations for both (paired), as both were scored
on the same cells.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

N_BOOT = 2000
SEED = 0
LEVEL = 0.95


def _table(by_station: dict[str, dict], codes: list[str], key: str) -> np.ndarray:
    return np.array([float(by_station[c][key]) for c in codes])


def _interval(stat: Callable[[np.ndarray], np.ndarray], n_stations: int, n_boot: int, seed: int,
              level: float) -> tuple[float, float]:
    """Percentile interval of ``stat`` (indices (B, S) of resampled stations → (B,) values)."""
    idx = np.random.default_rng(seed).integers(0, n_stations, size=(n_boot, n_stations))
    values = stat(idx)
    values = values[np.isfinite(values)]
    a = (1 - level) / 2
    return float(np.quantile(values, a)), float(np.quantile(values, 1 - a))


def ratio_interval(model: dict[str, dict], reference: dict[str, dict], n_boot: int = N_BOOT, seed: int = SEED,
                   level: float = LEVEL) -> dict:
    """MAE of ``model`` / MAE of ``reference`` over the stations both scored, with its paired station-bootstrap
    interval: ``{"ratio", "lo", "hi", "stations", "n_boot", "seed", "level"}``. Each argument is a report's
    ``by_station`` block."""
    codes = sorted(set(model) & set(reference))
    if not codes:
        raise ValueError("the two reports share no scored station")
    err_m, err_r = _table(model, codes, "abs_err"), _table(reference, codes, "abs_err")
    n_m, n_r = _table(model, codes, "n"), _table(reference, codes, "n")

    def stat(idx: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return (err_m[idx].sum(1) / n_m[idx].sum(1)) / (err_r[idx].sum(1) / n_r[idx].sum(1))

    lo, hi = _interval(stat, len(codes), n_boot, seed, level)
    ratio = (err_m.sum() / n_m.sum()) / (err_r.sum() / n_r.sum())
    return {"ratio": float(ratio), "lo": lo, "hi": hi, "stations": len(codes), "n_boot": n_boot, "seed": seed,
            "level": level}


def coverage_interval(by_station: dict[str, dict], n_boot: int = N_BOOT, seed: int = SEED,
                      level: float = LEVEL) -> dict | None:
    """Share of interval cells the interval covers, with its station-bootstrap interval: ``{"coverage", "lo",
    "hi", "stations", "n_boot", "seed", "level"}``; None when no station has an interval cell."""
    codes = sorted(c for c, s in by_station.items() if s.get("n_interval"))
    if not codes:
        return None
    inside, n = _table(by_station, codes, "inside"), _table(by_station, codes, "n_interval")

    def stat(idx: np.ndarray) -> np.ndarray:
        return inside[idx].sum(1) / n[idx].sum(1)

    lo, hi = _interval(stat, len(codes), n_boot, seed, level)
    return {"coverage": float(inside.sum() / n.sum()), "lo": lo, "hi": hi, "stations": len(codes),
            "n_boot": n_boot, "seed": seed, "level": level}


def report_intervals(report: dict, refs: tuple[str, ...] = ("idw", "logok")) -> dict:
    """An evaluation report's station-bootstrap intervals: ``{"ratio_to": {ref: ratio_interval | None},
    "coverage": coverage_interval | None}``; None wherever the report or the baseline ``ref`` has no per-station
    sums (reports before them, a baseline that failed)."""
    mine = report.get("by_station")
    if not mine:
        return {"ratio_to": dict.fromkeys(refs), "coverage": None}
    base = report.get("baselines") or {}
    other = {ref: (base.get(ref) or {}).get("by_station") for ref in refs}
    return {"ratio_to": {ref: ratio_interval(mine, o) if o else None for ref, o in other.items()},
            "coverage": coverage_interval(mine)}
