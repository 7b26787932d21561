"""Torch local ordinary kriging: equals the numpy OK of core.baselines.ok, exact at sources, masks unobserved."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.baselines.ok import OrdinaryKriging
from core.geo import haversine_km
from core.nn.kriging import _renormalised_estimate, guarded_estimate, krige, krige_targets


@pytest.fixture
def case():
    rng = np.random.default_rng(4)
    lat, lon = rng.uniform(38.5, 40.5, 9), rng.uniform(115.5, 117.5, 9)
    tlat, tlon = rng.uniform(38.8, 40.2, 5), rng.uniform(115.8, 117.2, 5)
    z = rng.normal(0, 0.6, 9)
    return lat, lon, tlat, tlon, z


@pytest.mark.parametrize(("nug", "psill", "rng_km"), [(0.1, 0.9, 120.0), (0.5, 0.5, 60.0), (0.0, 1.0, 300.0)])
def test_matches_numpy_ok(case, nug: float, psill: float, rng_km: float) -> None:
    lat, lon, tlat, tlon, z = case
    ok = np.ones((5, 9), bool)
    ok[1, [0, 3]] = False  # an unobserved candidate is decoupled from the system
    d0 = haversine_km(tlat, tlon, lat, lon)
    d_ss = haversine_km(lat, lon, lat, lon).astype(np.float32)
    idx = np.tile(np.arange(9), (5, 1))
    zz = np.where(ok, z[None], 0.0)
    ref = OrdinaryKriging()._krige(idx, ok, zz, d0, d_ss, np.full(5, nug), np.full(5, psill), np.full(5, rng_km))
    ref = ref[0] if isinstance(ref, tuple) else ref  # (estimate, kriging variance)
    t = torch.float64
    ours = krige(torch.tensor(zz, dtype=t), torch.tensor(ok, dtype=t), torch.tensor(d0, dtype=t),
                 torch.tensor(d_ss, dtype=t)[idx[:, :, None], idx[:, None, :]],
                 torch.tensor(nug / (nug + psill), dtype=t), torch.tensor(rng_km, dtype=t))
    np.testing.assert_allclose(ours.numpy(), ref, atol=2e-4)


def test_exact_at_a_source_and_nan_without_one(case) -> None:
    lat, lon, _, _, z = case
    tlat, tlon = np.r_[lat[2], 39.5], np.r_[lon[2], 116.5]
    idx = torch.tensor(np.tile(np.arange(9), (2, 1)))
    d0 = torch.tensor(haversine_km(tlat, tlon, lat, lon), dtype=torch.float32)
    d_ss = torch.tensor(haversine_km(lat, lon, lat, lon), dtype=torch.float32)
    zs = torch.tensor(z, dtype=torch.float32).expand(1, 1, 9)
    mask = torch.ones(1, 1, 9)
    est = krige_targets(zs, mask, idx, torch.ones(2, 9, dtype=torch.bool), d0, d_ss, torch.tensor(0.2),
                        torch.tensor(100.0))
    assert abs(float(est[0, 0, 0]) - z[2]) < 1e-4
    none = krige_targets(zs, torch.zeros(1, 1, 9), idx, torch.ones(2, 9, dtype=torch.bool), d0, d_ss,
                         torch.tensor(0.2), torch.tensor(100.0))
    assert torch.isnan(none).all()


def test_map_path_equals_direct_when_the_observed_set_is_fixed(case, monkeypatch) -> None:
    """Maps solve one system per window and target; with the same observed set every hour (hidden stations)
    it equals one solve per hour, and with a sporadic gap it stays a weighted mean of the observed values."""
    import core.nn.kriging as kr

    lat, lon, tlat, tlon, _ = case
    rng = np.random.default_rng(1)
    idx = torch.tensor(np.tile(np.arange(9), (5, 1)))
    d0 = torch.tensor(haversine_km(tlat, tlon, lat, lon), dtype=torch.float64)
    d_ss = torch.tensor(haversine_km(lat, lon, lat, lon), dtype=torch.float64)
    zs = torch.tensor(rng.normal(size=(2, 6, 9)))
    fixed = torch.tensor(rng.random((2, 1, 9)) > 0.3, dtype=torch.float64).expand(2, 6, 9).clone()
    gappy = fixed.clone()
    gappy[0, 2, fixed[0, 2].nonzero()[0]] = 0.0
    valid = torch.ones(5, 9, dtype=torch.bool)
    par = (torch.tensor(0.3), torch.tensor(80.0))
    with torch.no_grad():
        monkeypatch.setattr(kr, "DEDUPE_MIN_HOURS", 10**9)
        direct = [krige_targets(zs, m, idx, valid, d0, d_ss, *par) for m in (fixed, gappy)]
        monkeypatch.setattr(kr, "DEDUPE_MIN_HOURS", 0)
        fast = [krige_targets(zs, m, idx, valid, d0, d_ss, *par) for m in (fixed, gappy)]
    torch.testing.assert_close(fast[0], direct[0])
    ok_h = fast[1][1].isfinite()
    torch.testing.assert_close(fast[1][1], direct[1][1])  # window without a gap: unchanged
    assert ok_h.all() and (fast[1][0] - direct[1][0]).abs().max() < 0.5


@pytest.mark.parametrize("neg", [0.0, 0.6, 3.0])
def test_sparse_renormalised_estimate_equals_gathering(neg: float) -> None:
    """The map path's sparse sums give the guarded estimate of the hourly renormalised weights, also where the
    guard binds (strongly negative weights), where weights cancel (plain mean) and with no observed candidate."""
    gen = torch.Generator().manual_seed(3)
    b, n_h, n, m, k = 2, 6, 12, 25, 5
    idx = torch.stack([torch.randperm(n, generator=gen)[:k] for _ in range(m)])
    valid = torch.rand(m, k, generator=gen) > 0.1
    mask = (torch.rand(b, n_h, n, generator=gen) > 0.3).double()
    mask[0, 0] = 0.0  # an hour with nothing observed
    z = torch.randn(b, n_h, n, generator=gen, dtype=torch.float64) * mask
    lam_w = torch.rand(b, m, k, generator=gen, dtype=torch.float64) - neg * (torch.rand(b, m, k, generator=gen) > 0.7)
    lam_w[1, 3] = torch.tensor([1.0, -1.0, 0.0, 0.0, 0.0])  # weights that cancel
    lam_w = lam_w * valid
    ok = mask[..., idx] * valid
    lam = lam_w.unsqueeze(1) * ok
    tot = lam.sum(-1, keepdim=True)
    lam = torch.where(tot.abs() > 1e-3, lam / tot, ok / ok.sum(-1, keepdim=True).clamp_min(1.0))
    ref = guarded_estimate(lam, z[..., idx], ok)
    torch.testing.assert_close(_renormalised_estimate(lam_w, z, mask, idx, valid), ref, equal_nan=True)


def _ok_weights_concatenated(d0, dcc, ok, nugget, range_km):
    """The kriging system as it was built before :func:`ok_weights_from_gamma` (masked γ plus identity terms,
    concatenated blocks): the reference the block-wise build must reproduce bit for bit."""
    from core.nn.kriging import spherical_unit

    k = d0.shape[-1]
    okf = ok.to(d0.dtype)
    pair = okf.unsqueeze(-1) * okf.unsqueeze(-2)
    eye = torch.eye(k, dtype=d0.dtype)
    g = spherical_unit(dcc, nugget, range_km) * pair * (1 - eye) + eye * (1 - 1.000001 * okf).unsqueeze(-1)
    has = okf.sum(-1, keepdim=True) > 0
    a = torch.cat([torch.cat([g, okf.unsqueeze(-1)], -1),
                   torch.cat([okf, (~has).to(d0.dtype)], -1).unsqueeze(-2)], -2)
    rhs = torch.cat([spherical_unit(d0, nugget, range_km) * okf, torch.ones_like(d0[..., :1])], -1)
    return torch.linalg.solve(a, rhs.unsqueeze(-1)).squeeze(-1)[..., :k] * okf


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_block_built_system_gives_the_same_weights_bit_for_bit(case, dtype) -> None:
    """Co-located candidates, unobserved ones and a target with none observed included."""
    from core.nn.kriging import ok_weights, ok_weights_from_gamma, spherical_unit

    lat, lon, tlat, tlon, _ = case
    lat, lon = np.r_[lat, lat[0]], np.r_[lon, lon[0]]  # station 9 sits on station 0
    d0 = torch.tensor(haversine_km(tlat, tlon, lat, lon), dtype=dtype)
    dss = torch.tensor(haversine_km(lat, lon, lat, lon), dtype=dtype)
    idx = torch.arange(10).expand(5, 10)
    dcc = dss[idx.unsqueeze(-1), idx.unsqueeze(-2)].expand(3, 5, 10, 10)
    d0 = d0.expand(3, 5, 10)
    ok = (torch.rand(3, 5, 10, generator=torch.Generator().manual_seed(0)) > 0.3).to(dtype)
    ok[1, 2] = 0.0
    nug, rng = torch.tensor(0.2, dtype=dtype), torch.tensor(120.0, dtype=dtype)
    ref = _ok_weights_concatenated(d0, dcc, ok, nug, rng)
    assert torch.equal(ok_weights(d0, dcc, ok, nug, rng), ref)
    g0, gcc = spherical_unit(d0[0], nug, rng), spherical_unit(dss, nug, rng)[idx.unsqueeze(-1), idx.unsqueeze(-2)]
    assert torch.equal(ok_weights_from_gamma(g0.expand(3, 5, 10), gcc.expand(3, 5, 10, 10), ok), ref)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_targets_sharing_a_candidate_list_share_a_factorisation_with_the_same_weights(case, dtype) -> None:
    """A map's targets often have the same candidates (only their distances differ): one LU per distinct list gives
    the weights of one solve per target, bit for bit (co-located candidates and unobserved ones included)."""
    from core.nn.kriging import candidate_groups, ok_weights_from_gamma, shared_ok_weights, spherical_unit

    lat, lon, tlat, tlon, _ = case
    lat, lon = np.r_[lat, lat[0]], np.r_[lon, lon[0]]  # station 9 sits on station 0
    idx = torch.tensor([[0, 1, 2, 3], [4, 5, 6, 7], [0, 1, 2, 3], [9, 0, 1, 2], [0, 1, 2, 3]])
    valid = torch.ones(5, 4, dtype=torch.bool)
    valid[4, 3] = False  # same candidates as targets 0 and 2, but one too far: another system
    first, inv = candidate_groups(idx, valid)
    assert len(first) == 4 and inv[0] == inv[2] != inv[4]
    d0 = torch.gather(torch.tensor(haversine_km(tlat, tlon, lat, lon), dtype=dtype), 1, idx)
    dss = torch.tensor(haversine_km(lat, lon, lat, lon), dtype=dtype)
    nug, rng = torch.tensor(0.2, dtype=dtype), torch.tensor(120.0, dtype=dtype)
    g0, gcc = spherical_unit(d0, nug, rng), spherical_unit(dss, nug, rng)[idx.unsqueeze(-1), idx.unsqueeze(-2)]
    observed = torch.rand(2, 10, generator=torch.Generator().manual_seed(1)) > 0.3
    ok = (observed[:, idx] & valid).to(dtype)  # (B, M, k): the same for every target of a list
    ref = ok_weights_from_gamma(g0.expand(2, 5, 4), gcc.expand(2, 5, 4, 4), ok)
    assert torch.equal(shared_ok_weights(g0, gcc[first], ok, first, inv), ref)


def test_gamma_cache_reuses_only_the_same_geometry_and_variogram() -> None:
    from core.nn.kriging import GammaCache

    cache, calls = GammaCache(), []
    d = torch.rand(6, 6)

    def build():
        calls.append(1)
        return d * 2

    first = cache.get("s", (d,), (0.2, 100.0), build)
    assert cache.get("s", (d.clone(),), (0.2, 100.0), build) is first and len(calls) == 1  # equal content
    cache.get("s", (d,), (0.3, 100.0), build)  # another variogram
    moved = d.clone()
    moved[2, 3] += 1e-3
    cache.get("s", (moved,), (0.3, 100.0), build)  # another network
    assert len(calls) == 3
    d.add_(1.0)  # the caller's tensor changing in place does not change the stored key
    cache.get("s", (d,), (0.3, 100.0), build)
    assert len(calls) == 4


@pytest.mark.parametrize("change", ["same_set", "new_values", "station_drops_out"])
def test_window_weights_are_reused_only_for_the_same_observed_set(case, change: str) -> None:
    """A map of a new day reuses the last day's kriging solves when the same stations reported, and gets
    exactly the values of an uncached call either way."""
    from core.nn.kriging import GammaCache, spherical_unit

    lat, lon, tlat, tlon, _ = case
    rng = np.random.default_rng(2)
    idx = torch.tensor(np.tile(np.arange(9), (5, 1)))
    d0 = torch.tensor(haversine_km(tlat, tlon, lat, lon), dtype=torch.float64)
    d_ss = torch.tensor(haversine_km(lat, lon, lat, lon), dtype=torch.float64)
    valid = torch.ones(5, 9, dtype=torch.bool)
    nug, rng_km = torch.tensor(0.3, dtype=torch.float64), torch.tensor(80.0, dtype=torch.float64)
    first = idx[:1]  # every target has the same candidate list: one group
    gamma = spherical_unit(d0, nug, rng_km), spherical_unit(d_ss, nug, rng_km)[first.unsqueeze(-1), first.unsqueeze(-2)]
    mask = torch.ones(1, 24, 9, dtype=torch.float64)
    mask[..., 4] = 0.0
    day1, day2 = torch.tensor(rng.normal(size=(1, 24, 9))), torch.tensor(rng.normal(size=(1, 24, 9)))
    mask2 = mask.clone()
    if change == "station_drops_out":
        mask2[..., 7] = 0.0
    values2 = day1 if change == "same_set" else day2
    cache, built = GammaCache(), []
    get = cache.get
    cache.get = lambda name, keys, params, build: get(name, keys, params, lambda: built.append(name) or build())
    with torch.no_grad():
        krige_targets(day1 * mask, mask, idx, valid, d0, d_ss, nug, rng_km, gamma=gamma, cache=cache)
        cached = krige_targets(values2 * mask2, mask2, idx, valid, d0, d_ss, nug, rng_km, gamma=gamma, cache=cache)
        plain = krige_targets(values2 * mask2, mask2, idx, valid, d0, d_ss, nug, rng_km, gamma=gamma)
    assert torch.equal(cached, plain)
    assert built.count("window_weights") == (2 if change == "station_drops_out" else 1)
    assert built.count("target_groups") == 1  # a geometry constant: built once
