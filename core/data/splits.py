"""Data splits shared by training and the evaluation protocols (:mod:`core.evaluation.protocols`).

- time: in every month, days 1–20 train, 21–23 validation, 24–end test;
- stations: ``S_test`` = 25 % of active BTH stations, at least one per city, fixed seed.
  ``S_test`` is never seen in training — not as input, not as target;
- validation folds: the BTH stations left once ``S_test`` is removed, cut into :data:`VAL_FOLDS` disjoint
  station folds by the same rule (fold 0 is ``S_val``). Design choices are scored on every fold, so that they
  are not a draw of the 15 stations of one fold.
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from core.contracts.stationset import active_mask

TRAIN_LAST_DAY = 20
VAL_LAST_DAY = 23
TEST_SHARE = 0.25
TEST_SEED = 2019
VAL_FOLDS = 4  # 60 non-test BTH stations in cnemc_bth_2019 → 4 folds of 15, each the size of S_test's share


def time_split(times: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean masks over ``times`` for "train", "val" and "test" by day of month."""
    day = np.asarray(times, dtype="datetime64[ns]").astype("datetime64[D]")
    dom = (day - day.astype("datetime64[M]")).astype(int) + 1
    return {
        "train": dom <= TRAIN_LAST_DAY,
        "val": (dom > TRAIN_LAST_DAY) & (dom <= VAL_LAST_DAY),
        "test": dom > VAL_LAST_DAY,
    }


def candidates(ds: xr.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """(codes, cities) of the stations the station splits draw from: active BTH stations, or every active
    station when the set has none in BTH (e.g. another region)."""
    act = active_mask(ds)
    pool = act & ds["is_bth"].values
    if not pool.any():
        pool = act
    return ds["station"].values[pool].astype(str), ds["city"].values[pool].astype(str)


def select_test_stations(ds: xr.Dataset, seed: int = TEST_SEED, share: float = TEST_SHARE) -> list[str]:
    """``S_test``: ``share`` of active BTH stations (rounded), at least one per city, by ``seed``.

    Deterministic for a given station set: candidates are sorted by code before drawing.
    Falls back to all active stations when the set has no BTH station (e.g. another region).
    """
    codes, cities = candidates(ds)
    order = np.argsort(codes)
    codes, cities = codes[order], cities[order]
    rng = np.random.default_rng(seed)
    n_target = max(1, int(round(share * len(codes))))
    chosen: list[str] = []
    for city in sorted(set(cities)):
        members = codes[cities == city]
        chosen.append(str(rng.choice(members)))
    rest = np.array([c for c in codes if c not in set(chosen)])
    n_more = max(0, n_target - len(chosen))
    if n_more and len(rest):
        chosen += [str(c) for c in rng.choice(rest, size=min(n_more, len(rest)), replace=False)]
    return sorted(chosen)


def validation_folds(view: xr.Dataset, n_folds: int = VAL_FOLDS, seed: int = TEST_SEED) -> list[list[str]]:
    """Disjoint station folds of ``view`` (a station set with ``S_test`` already removed), sorted codes each.

    Fold 0 is ``select_test_stations(view)``, i.e. ``S_val``, so single-fold figures stay what they were. The
    other candidate stations (BTH ones; all when none is in BTH) are dealt city by city, in a random order
    fixed by ``seed``, to folds 1…``n_folds``−1 in turn, so every fold spreads over the cities like ``S_val``.
    With fewer candidates than folds there are fewer folds (each non-empty)."""
    if n_folds < 1:
        raise ValueError(f"n_folds must be ≥ 1, got {n_folds}")
    first = select_test_stations(view, seed=seed)
    codes, cities = candidates(view)
    left = np.isin(codes, first, invert=True)
    codes, cities = codes[left], cities[left]
    rng = np.random.default_rng(seed + 1)
    dealt = [str(c) for city in sorted(set(cities)) for c in rng.permutation(np.sort(codes[cities == city]))]
    rest = [sorted(dealt[f::n_folds - 1]) for f in range(n_folds - 1)] if n_folds > 1 else []
    return [first] + [f for f in rest if f]
