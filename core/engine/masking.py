"""Dynamic node masking: which training stations are hidden in a batch.

Training matches the test-time situation: a station is hidden for a whole window (as in
``holdout`` / ``mask-R``), and a fresh random share between ``lo`` and ``hi`` of the
*training* stations is hidden in every window. ``S_test`` is not in the data at all (the
trainer removes it before building :class:`core.nn.features.NodeData`).
"""

from __future__ import annotations

import numpy as np

MASK_LO, MASK_HI = 0.1, 0.9


def sample_hidden(rng: np.random.Generator, candidates: np.ndarray, n_windows: int, length: int,
                  lo: float = MASK_LO, hi: float = MASK_HI) -> np.ndarray:
    """Hidden nodes per window, bool ``(B, L, N)``: a share ``U(lo, hi)`` of ``candidates`` (bool (N,)).

    The same nodes stay hidden for all ``length`` hours of a window.
    """
    cand = np.flatnonzero(candidates)
    n = len(candidates)
    hidden = np.zeros((n_windows, n), dtype=bool)
    for b in range(n_windows):
        share = rng.uniform(lo, hi)
        k = int(round(share * len(cand)))
        if k:
            hidden[b, rng.choice(cand, size=k, replace=False)] = True
    return np.repeat(hidden[:, None, :], length, axis=1)


def fixed_hidden(seed: int, candidates: np.ndarray, share: float, n_windows: int, length: int) -> np.ndarray:
    """Deterministic hidden sets (for validation): exactly ``share`` of ``candidates`` per window, ``(B, L, N)``."""
    rng = np.random.default_rng(seed)
    return sample_hidden(rng, candidates, n_windows, length, share, share)


SPARSE_LO, SPARSE_HI = 0.1, 0.5  # share of candidates a cluster-masked window hides


def sample_clusters(rng: np.random.Generator, candidates: np.ndarray, dist_km: np.ndarray, n_windows: int,
                    length: int, radius_km: float = 30.0, lo: float = SPARSE_LO, hi: float = SPARSE_HI) -> np.ndarray:
    """Hidden nodes per window shaped like the ``sparse-30km`` protocol, bool ``(B, L, N)``.

    Each window draws a share ``U(lo, hi)`` of ``candidates`` (bool (N,)), then hides random candidate
    centres, each with every candidate within ``radius_km`` (``dist_km`` (N, N) km), until the share is
    reached: the network sees targets whose whole neighbourhood is dark, as sparse-30km scores them.
    """
    cand = np.flatnonzero(candidates)
    n = len(candidates)
    near = (np.asarray(dist_km)[np.ix_(cand, cand)] <= radius_km)  # (C, C) within the radius, self included
    hidden = np.zeros((n_windows, n), dtype=bool)
    for b in range(n_windows):
        want = int(round(rng.uniform(lo, hi) * len(cand)))
        chosen = np.zeros(len(cand), dtype=bool)
        for c in rng.permutation(len(cand)):
            if chosen.sum() >= want:
                break
            if not chosen[c]:
                chosen |= near[c]
        hidden[b, cand[chosen]] = True
    return np.repeat(hidden[:, None, :], length, axis=1)
