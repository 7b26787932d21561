"""Meteorological seasons: the one table every layer uses (evaluation breakdowns, interval calibration)."""

from __future__ import annotations

import numpy as np

SEASONS = {"DJF": (12, 1, 2), "MAM": (3, 4, 5), "JJA": (6, 7, 8), "SON": (9, 10, 11)}
_INDEX_OF_MONTH = np.array([-1, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 0])  # by month 1..12: DJF=0 … SON=3


def season_index(times: np.ndarray) -> np.ndarray:
    """0 (DJF), 1 (MAM), 2 (JJA), 3 (SON) per datetime64, same shape as ``times``."""
    month = np.asarray(times, "datetime64[M]").astype(int) % 12 + 1
    return _INDEX_OF_MONTH[month]


def season_of(times: np.ndarray) -> np.ndarray:
    """Season label (DJF/MAM/JJA/SON) per datetime64."""
    return np.array(list(SEASONS))[season_index(times)]
