"""Training masks: random shares and sparse-30km-shaped clusters (whole neighbourhoods dark)."""

from __future__ import annotations

import numpy as np
import pytest

from core.engine.masking import sample_clusters, sample_hidden
from core.geo import haversine_km


@pytest.fixture
def two_towns() -> tuple[np.ndarray, np.ndarray]:
    """Two towns 5 km across, ~550 km apart, 6 stations each: (candidates (12,), dist_km (12, 12))."""
    rng = np.random.default_rng(0)
    lat = np.r_[39.9 + rng.uniform(0, 0.04, 6), 35.0 + rng.uniform(0, 0.04, 6)]
    lon = np.r_[116.4 + rng.uniform(0, 0.04, 6), 117.0 + rng.uniform(0, 0.04, 6)]
    return np.ones(12, bool), haversine_km(lat, lon, lat, lon)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_clusters_hide_whole_neighbourhoods(two_towns, seed: int) -> None:
    cand, dist = two_towns
    hidden = sample_clusters(np.random.default_rng(seed), cand, dist, 20, 3, radius_km=30.0, lo=0.1, hi=0.5)
    assert hidden.shape == (20, 3, 12) and (hidden == hidden[:, :1]).all()  # whole window
    for town in (slice(0, 6), slice(6, 12)):  # a town is dark entirely or not at all
        per = hidden[:, 0, town]
        assert (per.all(1) | ~per.any(1)).all()
    assert hidden[:, 0].any(1).all()  # every window hides something
    # random masking of the same share does split the towns: the cluster shape is what differs
    rand = sample_hidden(np.random.default_rng(seed), cand, 20, 1, 0.5, 0.5)[:, 0, :6]
    assert not (rand.all(1) | ~rand.any(1)).all()


def test_clusters_respect_candidates_and_share(two_towns) -> None:
    _, dist = two_towns
    cand = np.r_[np.ones(6, bool), np.zeros(6, bool)]
    hidden = sample_clusters(np.random.default_rng(0), cand, dist, 10, 1, radius_km=1.0, lo=0.3, hi=0.3)
    assert not hidden[..., 6:].any()
    assert (hidden[:, 0].sum(1) >= 2).all()  # at least the asked share (0.3 × 6 → 2) of the candidates
