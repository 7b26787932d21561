"""Evaluation protocols: which stations are hidden, which are scored.

A protocol turns an active StationSet and ``S_test`` into *runs*. Each run hides a set of stations
(for every hour of the evaluated span) and scores some of them:

- ``holdout``: hide ``S_test``, observe every other station; score ``S_test`` (one run);
- ``mask-R`` (R = 30, 50, 70, 90): hide ``S_test`` plus random other BTH active stations so that
  R % of BTH active stations are hidden; score ``S_test``; one run per seed (5 by default);
- ``sparse-30km``: for each s in ``S_test`` hide s and every active station within 30 km; score s
  (one run per target; targets whose hidden sets are identical share a run).

Inputs may come from the whole region (non-BTH active stations stay observed); only ``S_test`` is scored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from core.errors import InvalidRequest
from core.geo import haversine_km

DEFAULT_SEEDS = 5
SPARSE_RADIUS_KM = 30.0


@dataclass(frozen=True)
class Run:
    """One inference pass: ``hidden`` codes are blanked at every hour; ``scored`` codes are scored.

    ``seed`` identifies the random draw (0 for deterministic protocols); ``group`` names the
    reporting unit (the seed for mask-R; the target station for sparse-30km).
    """

    seed: int
    hidden: tuple[str, ...]
    scored: tuple[str, ...]
    group: str = ""


Protocol = Callable[[xr.Dataset, Sequence[str], Sequence[int]], list[Run]]
PROTOCOLS: dict[str, Protocol] = {}


def protocol(name: str):
    def deco(fn: Protocol) -> Protocol:
        PROTOCOLS[name] = fn
        return fn

    return deco


def _pool(ds: xr.Dataset) -> np.ndarray:
    """Codes of the masking pool: BTH stations of ``ds`` (all of them when none is BTH), sorted."""
    codes = ds["station"].values.astype(str)
    bth = ds["is_bth"].values.astype(bool)
    return np.sort(codes[bth] if bth.any() else codes)


@protocol("holdout")
def holdout(ds: xr.Dataset, s_test: Sequence[str], seeds: Sequence[int] = (0,)) -> list[Run]:
    test = tuple(sorted(s_test))
    return [Run(seed=0, hidden=test, scored=test, group="0")]


def mask_ratio(ratio: float) -> Protocol:
    """``mask-R``: hide ``S_test`` + random pool stations until ``ratio`` of the pool is hidden."""

    def run(ds: xr.Dataset, s_test: Sequence[str], seeds: Sequence[int] = range(DEFAULT_SEEDS)) -> list[Run]:
        pool = _pool(ds)
        test = sorted(s_test)
        n_hidden = int(round(ratio * len(pool)))
        others = np.array([c for c in pool if c not in set(test)])
        runs = []
        for seed in seeds:
            rng = np.random.default_rng(seed)
            n_more = min(max(0, n_hidden - len(test)), len(others))
            extra = rng.choice(others, size=n_more, replace=False).tolist() if n_more else []
            runs.append(Run(seed=int(seed), hidden=tuple(sorted(test + [str(c) for c in extra])),
                            scored=tuple(test), group=str(seed)))
        return runs

    run.__doc__ = f"mask-{round(ratio * 100)}: {ratio:.0%} of BTH active stations hidden, S_test among them."
    return run


for _r in (30, 50, 70, 90):
    PROTOCOLS[f"mask-{_r}"] = mask_ratio(_r / 100)


@protocol("sparse-30km")
def sparse_30km(ds: xr.Dataset, s_test: Sequence[str], seeds: Sequence[int] = (0,)) -> list[Run]:
    """One run per target s: hide s and every active station (any region) within 30 km of it."""
    codes = ds["station"].values.astype(str)
    lat, lon = ds["lat"].values, ds["lon"].values
    pos = {c: i for i, c in enumerate(codes)}
    idx = [pos[c] for c in sorted(s_test)]
    d = haversine_km(lat[idx], lon[idx], lat, lon)
    by_hidden: dict[tuple[str, ...], list[str]] = {}
    for row, i in enumerate(idx):
        hidden = tuple(sorted(set(codes[d[row] <= SPARSE_RADIUS_KM]) | {codes[i]}))
        by_hidden.setdefault(hidden, []).append(str(codes[i]))
    return [Run(seed=0, hidden=h, scored=tuple(sorted(t)), group=",".join(sorted(t))) for h, t in by_hidden.items()]


def runs_for(name: str, ds: xr.Dataset, s_test: Sequence[str], seeds: Sequence[int] | None = None) -> list[Run]:
    """The runs of protocol ``name`` on active StationSet ``ds``; unknown names list the known ones."""
    if name not in PROTOCOLS:
        raise InvalidRequest(f"Unknown protocol '{name}'. Known: {', '.join(PROTOCOLS)}.")
    missing = sorted(set(s_test) - set(ds["station"].values.astype(str)))
    if missing:
        raise InvalidRequest(f"Test stations not among the active stations: {', '.join(missing)}.")
    if seeds is None:
        seeds = range(DEFAULT_SEEDS) if name.startswith("mask-") else (0,)
    return PROTOCOLS[name](ds, list(s_test), list(seeds))
