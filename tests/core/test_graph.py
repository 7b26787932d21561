"""Graph kernels: geometry convention, diffusion decay/threshold, advection only downwind."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.graph import (
    Geometry,
    advection_kernel,
    advection_kernel_knn,
    diffusion_kernel,
    knn_sources,
    knn_sum,
    knn_sum_channels,
)

# a source at the centre and four targets ~55 km N, E, S, W of it
SRC = (39.0, 116.0)
TARGETS = {"N": (39.5, 116.0), "E": (39.0, 116.64), "S": (38.5, 116.0), "W": (39.0, 115.36)}


@pytest.fixture
def star() -> Geometry:
    lat = np.array([t[0] for t in TARGETS.values()])
    lon = np.array([t[1] for t in TARGETS.values()])
    return Geometry.between(lat, lon, np.array([SRC[0]]), np.array([SRC[1]]))


def test_bearing_is_from_source_to_target(star: Geometry) -> None:
    b = np.degrees(star.bearing[:, 0]) % 360
    np.testing.assert_allclose(b, [0, 90, 180, 270], atol=0.5)


@pytest.mark.parametrize(
    ("u", "v", "downwind"),
    [(3.0, 0.0, "E"), (-3.0, 0.0, "W"), (0.0, 2.0, "N"), (0.0, -2.0, "S")],
)
def test_advection_positive_only_downwind(star: Geometry, u: float, v: float, downwind: str) -> None:
    w = advection_kernel(torch.tensor([u]), torch.tensor([v]), torch.from_numpy(star.dist_km),
                         torch.from_numpy(star.bearing))[:, 0].numpy()
    names = list(TARGETS)
    assert w[names.index(downwind)] > 0
    others = [w[i] for i, n in enumerate(names) if n != downwind]
    # the upwind target gets exactly zero; perpendicular ones ~0 (great-circle bearings on a sphere
    # are off 90° by a fraction of a degree at 55 km, so allow 1 % of the downwind weight)
    assert min(others) >= 0 and max(others) < 0.01 * w.max()
    assert w[names.index({"E": "W", "W": "E", "N": "S", "S": "N"}[downwind])] == 0


def test_advection_scales_with_wind_and_distance() -> None:
    geom = Geometry.between(np.array([39.0, 39.0]), np.array([116.3, 117.0]), np.array([39.0]), np.array([116.0]))
    d, b = torch.from_numpy(geom.dist_km), torch.from_numpy(geom.bearing)
    w1 = advection_kernel(torch.tensor([1.0]), torch.tensor([0.0]), d, b)[:, 0]
    w2 = advection_kernel(torch.tensor([2.0]), torch.tensor([0.0]), d, b)[:, 0]
    torch.testing.assert_close(w2, 2 * w1)
    assert w1[0] > w1[1]  # nearer downwind target gets more


def test_advection_knn_matches_dense() -> None:
    rng = np.random.default_rng(0)
    lat, lon = 38 + rng.random(12) * 2, 115 + rng.random(12) * 2
    geom = Geometry.among(lat, lon)
    idx, valid = knn_sources(geom.dist_km, 4, exclude_self=True)
    u, v = torch.randn(3, 12), torch.randn(3, 12)
    dense = advection_kernel(u, v, torch.from_numpy(geom.dist_km), torch.from_numpy(geom.bearing))
    knn = advection_kernel_knn(u, v, torch.from_numpy(idx), torch.from_numpy(np.take_along_axis(geom.dist_km, idx, 1)),
                               torch.from_numpy(np.take_along_axis(geom.bearing, idx, 1)), torch.from_numpy(valid))
    torch.testing.assert_close(knn, torch.gather(dense, 2, torch.from_numpy(idx).expand(3, 12, 4)))


@pytest.mark.parametrize("bandwidth", [20.0, 80.0])
def test_diffusion_decays_and_respects_threshold(bandwidth: float) -> None:
    d = torch.tensor([0.0, 10.0, 50.0, 150.0, 199.0, 201.0, 500.0])
    w = diffusion_kernel(d, torch.tensor(bandwidth), threshold_km=200.0)
    assert w[0] == 0  # no self-loop
    assert torch.all(w[1:5][:-1] > w[1:5][1:])  # strictly decaying inside the threshold
    assert w[4] > 0 and w[5] == 0 and w[6] == 0


def test_diffusion_bandwidth_is_learnable() -> None:
    log_bw = torch.tensor(np.log(30.0), requires_grad=True)
    w = diffusion_kernel(torch.tensor([10.0, 40.0]), log_bw.exp())
    w.sum().backward()
    assert log_bw.grad is not None and log_bw.grad > 0  # wider kernel → larger weights


def test_knn_sources_threshold_and_self() -> None:
    d = np.array([[0.0, 5.0, 300.0], [5.0, 0.0, 100.0], [300.0, 100.0, 0.0]])
    idx, valid = knn_sources(d, 2, threshold_km=200.0, exclude_self=True)
    assert idx[0, 0] == 1 and valid[0].tolist() == [True, False]
    assert 2 not in idx[2][valid[2]].tolist() and idx[2, 0] == 1


def test_advection_zero_for_perpendicular_wind() -> None:
    d = torch.tensor([[50.0]])
    for bearing, (u, v) in [(np.pi / 2, (0.0, 4.0)), (0.0, (4.0, 0.0)), (np.pi, (-4.0, 0.0))]:
        w = advection_kernel(torch.tensor([u]), torch.tensor([v]), d, torch.tensor([[bearing]]))
        assert float(w.abs().max()) < 1e-6


@pytest.mark.parametrize("k", [1, 3, 5])
def test_knn_ties_go_to_the_lower_index_in_any_column_subset(k: int) -> None:
    """Co-located sources tie: the same neighbours, in the same order, whether the search sees every source
    or only a subset holding them (a tile's halo)."""
    rng = np.random.default_rng(2)
    d = np.round(rng.uniform(0, 50, (30, 40)))  # many exact ties
    d[:, 7] = d[:, 3]  # two co-located sources
    idx, valid = knn_sources(d, k, threshold_km=30.0, stable_ties=True)
    keep = np.flatnonzero(rng.random(40) < 0.7)
    keep = np.union1d(keep, np.unique(idx))  # the subset holds every chosen source
    sub, sub_valid = knn_sources(d[:, keep], k, threshold_km=30.0, stable_ties=True)
    np.testing.assert_array_equal(keep[sub], idx)
    np.testing.assert_array_equal(sub_valid, valid)
    dk = np.take_along_axis(d, idx, 1)
    assert (np.diff(dk, axis=1) >= 0).all()
    ties = np.diff(dk, axis=1) == 0
    assert (np.diff(idx, axis=1)[ties] > 0).all()


@pytest.mark.parametrize("lead", [(7,), (2, 5)])
def test_knn_sum_equals_the_gathered_sum(lead: tuple[int, ...]) -> None:
    """The sparse product a map uses gives the same sums as gathering every (…, target, source) value."""
    gen = torch.Generator().manual_seed(0)
    n, m, k, r = 11, 30, 4, 3
    idx, w = torch.randint(0, n, (m, k), generator=gen), torch.rand(m, k, generator=gen)
    w[0] = 0.0  # a target without any valid source
    x = torch.randn(*lead, n, generator=gen)
    torch.testing.assert_close(knn_sum(w, idx, x), (w * x[..., idx]).sum(-1))
    z = torch.randn(*lead, n, r, generator=gen)
    ref = (w.unsqueeze(-1) * z[..., idx, :]).sum(-2).reshape(-1, m, r).transpose(0, 1)  # (M, prod(lead), R)
    torch.testing.assert_close(knn_sum_channels(w, idx, z), ref)
