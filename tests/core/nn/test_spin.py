"""SPIN: shapes on any station set, grid readout, overfitting a small batch, wind label, observed-only message
passing, the kriging init."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from core.engine.masking import sample_hidden
from core.nn.features import TargetPoints, make_batch, prepare
from core.nn.losses import LossWeights, composite_loss
from core.nn.models.spin import SPEC, SPIN

TINY = {"hidden": 8, "n_layers": 1, "tcn_layers": 1, "readout_dim": 4, "target_k": 4, "graph_k": 6}


@pytest.fixture(scope="module")
def world():
    from core.data.synthetic import SimConfig, simulate

    return simulate(SimConfig.small(n_hours=24, spinup_hours=12, res=0.25, seed=5))


def _batch(stations, n_windows: int = 2, length: int = 12, seed: int = 0, targets: bool = False,
           drop_wind: bool = True):
    ds = stations.drop_vars(["u10", "v10"]) if drop_wind else stations
    nodes = prepare(ds)
    rng = np.random.default_rng(seed)
    hidden = sample_hidden(rng, np.ones(nodes.n_nodes, bool), n_windows, length, 0.3, 0.5)
    tp = None
    if targets:
        tp = TargetPoints.build(np.array([39.0, 40.0, 38.5]), np.array([116.0, 117.0, 115.5]), nodes, k=4)
    batch = make_batch(nodes, np.arange(n_windows) * 3, length, ~hidden, targets=tp)
    batch["loss_mask"] = torch.from_numpy(hidden).float() * batch["y_mask"]
    return nodes, batch


@pytest.mark.parametrize("n_stations", [15, 40])
def test_runs_on_any_station_set(world, n_stations: int) -> None:
    torch.manual_seed(0)
    model = SPIN(**TINY).eval()
    _, batch = _batch(world.stations.isel(station=slice(0, n_stations)), targets=True)
    with torch.no_grad():
        out = model(batch)
    assert out["pred"].shape == (2, 12, n_stations)
    assert out["grid_pred"].shape == (2, 12, 3)
    assert torch.isfinite(out["pred"]).all() and (out["pred"] >= 0).all()
    assert out["influence_diffusion"].shape == (n_stations, n_stations)
    # no per-station parameters: the same weights serve any number of nodes
    assert sum(p.numel() for p in model.parameters()) == sum(p.numel() for p in SPIN(**TINY).parameters())


def test_overfits_a_small_batch(world) -> None:
    torch.manual_seed(0)
    model = SPIN(**TINY)
    _, batch = _batch(world.stations.isel(station=slice(0, 30)), n_windows=1)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(150):  # the log-OK init starts closer than spin-1's IDW, so there is less left to fit
        loss, _ = composite_loss(model(batch), batch, LossWeights())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < 0.55 * losses[0]


def test_wind_measured_or_inferred(world) -> None:
    model = SPIN(**TINY).eval()
    _, with_wind = _batch(world.stations.isel(station=slice(0, 20)), drop_wind=False)
    _, without = _batch(world.stations.isel(station=slice(0, 20)))
    with torch.no_grad():
        u_meas = model(with_wind)["wind_u"]
        u_inf = model(without)["wind_u"]
    torch.testing.assert_close(u_meas, with_wind["wind"][..., 0])  # wind_scale starts at 1
    assert not torch.allclose(u_inf, u_meas)
    assert SPEC.wind_label(True) == "measured" and SPEC.wind_label(False) == "inferred"


@pytest.mark.parametrize("flag", ["use_diffusion", "use_advection"])
def test_ablated_branch_still_runs(world, flag: str) -> None:
    model = SPIN(**{**TINY, flag: False}).eval()
    _, batch = _batch(world.stations.isel(station=slice(0, 20)), targets=True)
    with torch.no_grad():
        out = model(batch)
    assert torch.isfinite(out["grid_pred"]).all()
    key = "influence_diffusion" if flag == "use_diffusion" else "influence_advection"
    assert float(out[key].abs().sum()) == 0.0


def test_split_readout_equals_concatenated_head() -> None:
    """The readout computes its gate/head by input block for speed; it must equal the plain MLP on the concat."""
    from core.graph import advection_kernel_knn
    from core.nn.blocks import BipartiteReadout, gather_sum, normalise_advection

    torch.manual_seed(0)
    m = BipartiteReadout(8, 4, 3, 4)
    b, n_h, n, n_t, k = 2, 5, 10, 7, 3
    h, src = torch.randn(b, n_h, n, 8), (torch.rand(b, n_h, n) > 0.3).float()
    idx, valid = torch.randint(0, n, (n_t, k)), torch.ones(n_t, k, dtype=torch.bool)
    dist, bear = torch.rand(n_t, k) * 50 + 1, torch.rand(n_t, k) * 6
    init, static, tf = torch.randn(b, n_h, n_t), torch.randn(n_t, 3), torch.randn(b, n_h, 4)
    u, v, bw = torch.randn(b, n_h, n), torch.randn(b, n_h, n), torch.tensor(30.0)
    out = m(h, src, u, v, idx, valid, dist, bear, bw, init, static, tf)
    ms = src[..., idx]
    g = torch.sigmoid(m.gate(torch.cat([static.expand(b, n_h, n_t, 3), init.unsqueeze(-1)], -1)))
    wd = torch.exp(-dist / bw) * ms
    wd = wd / (wd.sum(-1, keepdim=True) + 1e-6)
    wa = normalise_advection(advection_kernel_knn(u, v, idx, dist, bear, valid) * ms)
    msg = gather_sum(g * wd + (1 - g) * wa, m.proj(h), idx)
    feats = [msg, init.unsqueeze(-1), static.expand(b, n_h, n_t, 3), tf.unsqueeze(2).expand(b, n_h, n_t, 4)]
    torch.testing.assert_close(out, m.head(torch.cat(feats, -1)).squeeze(-1))


@pytest.mark.parametrize(("observed_only", "loo_inputs"), [(True, False), (False, False), (True, True)])
def test_hidden_neighbours_carry_no_weight(world, observed_only: bool, loo_inputs: bool) -> None:
    """Changing every input a hidden node feeds the network (pollutants, emission proxies, init fallback)
    leaves every observed node's output unchanged (and, as a check that the test can fail, changes it when
    hidden nodes do send messages). Elevation is geometry, like distance, and is not changed here."""
    torch.manual_seed(0)
    model = SPIN(**{**TINY, "n_layers": 2}, mp_observed_only=observed_only, loo_inputs=loo_inputs).eval()
    _, batch = _batch(world.stations.isel(station=slice(0, 30)), n_windows=1)
    hid = (batch["mask"][0] == 0).all(0)  # hidden (or missing) at every hour of the window
    assert hid.any() and (~hid).any()
    other = dict(batch)
    other["aux"] = batch["aux"].clone()
    other["aux"][:, :, hid] = 3.0
    other["static"] = batch["static"].clone()
    other["static"][hid] = 2.0
    other["init"] = batch["init"].clone()
    other["init"][:, :, hid] = 4.0  # IDW fallback of a hidden node: unused by others
    with torch.no_grad():
        a, b = model(batch)["pred"][:, :, ~hid], model(other)["pred"][:, :, ~hid]
    if observed_only:
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5)
    else:
        assert (a - b).abs().max() > 1e-3


def test_kriging_init_exact_at_observed_and_uses_observed_only(world) -> None:
    model = SPIN(**TINY).eval()
    _, batch = _batch(world.stations.isel(station=slice(0, 30)))
    with torch.no_grad():
        init = model.node_init(batch)
        obs = batch["mask"] > 0
        torch.testing.assert_close(init[obs], batch["x"][obs])
        assert torch.isfinite(init).all()
        other = dict(batch, y=batch["y"] * 3)  # the truth of hidden nodes is not an input
        torch.testing.assert_close(model.node_init(other), init)
        # OK beats spin-1's IDW init on this smooth synthetic field at the hidden nodes (log scale)
        y_log = torch.log1p(batch["y"]) - batch["center"].unsqueeze(-1)
        sel = (~obs) & (batch["y_mask"] > 0)
        assert (init - y_log)[sel].abs().mean() < (batch["init"] - y_log)[sel].abs().mean()


def test_loo_estimate_is_kriging_from_the_other_observed_nodes(world) -> None:
    """``node_estimate``: at an observed node its own value never enters (leave-one-out), hidden values never
    enter anywhere, it is the init at hidden nodes, and the distance is the nearest OTHER observed station's."""
    model = SPIN(**TINY, loo_inputs=True).eval()
    _, batch = _batch(world.stations.isel(station=slice(0, 30)))
    with torch.no_grad():
        est, near = model.node_estimate(batch)
        obs = batch["mask"] > 0
        torch.testing.assert_close(est[~obs], model.node_init(batch)[~obs])
        # the node's own value: changing station j's observations moves every estimate but j's own
        j = int(torch.nonzero(obs[0, 0])[0, 0])
        moved = dict(batch, x=batch["x"].clone())
        moved["x"][:, :, j] += 2.0
        est2, _ = model.node_estimate(moved)
        torch.testing.assert_close(est2[:, :, j], est[:, :, j])
        assert (est2 - est).abs().max() > 1e-2  # others read j: the test can fail
        hidden_x = dict(batch, x=batch["x"] + (1 - batch["mask"]) * 5.0)  # garbage where hidden
        torch.testing.assert_close(model.node_estimate(hidden_x)[0], est)
    dist = batch["dist"].clone().fill_diagonal_(float("inf"))
    brute = torch.where(obs.unsqueeze(-2), dist, torch.full_like(dist, float("inf"))).amin(-1)
    brute = torch.where(brute <= model.threshold_km, brute, torch.full_like(brute, model.threshold_km))
    torch.testing.assert_close(near, brute)


def test_loo_inputs_widen_the_encoder_and_need_the_kriging_init(world) -> None:
    with_loo, without = SPIN(**TINY, loo_inputs=True), SPIN(**TINY)
    assert with_loo.inp.in_features == without.inp.in_features + 2
    assert SPEC.defaults["loo_inputs"] is False  # checkpoints written before the flag keep their layout
    with pytest.raises(ValueError, match="loo_inputs.*logok"):
        SPIN(**TINY, loo_inputs=True, init_mode="idw")
    torch.manual_seed(0)
    model = SPIN(**TINY, loo_inputs=True).eval()
    _, batch = _batch(world.stations.isel(station=slice(0, 20)), targets=True)
    with torch.no_grad():
        out = model(batch)
    assert torch.isfinite(out["pred"]).all() and torch.isfinite(out["grid_pred"]).all()


def _readout_case(seed: int, n_static: int, n_h: int, n: int, n_t: int, k: int):
    """A random BipartiteReadout (hidden 8, 4 time features) and its inputs for 2 windows of ``n_h`` hours,
    ``n`` sources and ``n_t`` targets with ``k`` candidates each: ``(module, inputs, per-edge source weights)``."""
    from core.nn.blocks import BipartiteReadout

    torch.manual_seed(seed)
    m, b = BipartiteReadout(8, 4, n_static, 4).eval(), 2
    h, src = torch.randn(b, n_h, n, 8), (torch.rand(b, n_h, n) > 0.3).float()
    idx, valid = torch.randint(0, n, (n_t, k)), torch.rand(n_t, k) > 0.1
    dist, bear = torch.rand(n_t, k) * 50 + 1, torch.rand(n_t, k) * 6
    init, static, tf = torch.randn(b, n_h, n_t), torch.randn(n_t, n_static), torch.randn(b, n_h, 4)
    u, v, bw = torch.randn(b, n_h, n), torch.randn(b, n_h, n), torch.tensor(30.0)
    return m, (h, src, u, v, idx, valid, dist, bear, bw, init, static, tf), torch.rand(n_t, k)


@pytest.mark.parametrize(("use_d", "use_a", "terrain"), [(True, True, True), (True, True, False), (True, False, False),
                                                        (False, True, False)])
def test_map_readout_equals_the_gathered_readout(monkeypatch, use_d: bool, use_a: bool, terrain: bool) -> None:
    """Maps take the target-major sparse readout; it gives the same corrections as the per-edge one."""
    import core.nn.blocks as blocks

    m, (h, src, u, v, idx, valid, dist, bear, bw, init, static, tf), sw = _readout_case(1, 3, 5, 10, 40, 3)
    sw = sw if terrain else None
    args = (h, src, u, v, idx, valid, dist, bear, bw, init, static, tf, use_d, use_a)
    with torch.no_grad():
        monkeypatch.setattr(blocks, "SPARSE_MIN_EDGES", 10**9)
        ref = m(*args, src_weight=sw)
        monkeypatch.setattr(blocks, "SPARSE_MIN_EDGES", 0)
        fast = m(*args, src_weight=sw)
    torch.testing.assert_close(fast, ref)


def test_cached_variogram_values_give_the_uncached_init(world) -> None:
    """Without autograd the kriging init reads γ tables kept per station network and target set; a fresh
    module, a second call, another station subset and a changed variogram give what computing γ anew gives."""
    torch.manual_seed(0)
    model = SPIN(**TINY).eval()
    _, batch = _batch(world.stations.isel(station=slice(0, 30)), targets=True)
    _, other = _batch(world.stations.isel(station=slice(5, 30)), targets=True, seed=1)

    def fresh(b):
        m = SPIN(**TINY).eval()
        m.load_state_dict(model.state_dict())
        with torch.enable_grad():  # the autograd path computes γ every time
            return m.node_init(b).detach(), m.target_init(b).detach()

    with torch.no_grad():
        for b in (batch, other, batch):
            node, tgt = model.node_init(b), model.target_init(b)
            ref_node, ref_tgt = fresh(b)
            assert torch.equal(node, ref_node) and torch.equal(tgt, ref_tgt)
        model.ok_log_range.fill_(float(np.log(60.0)))  # another variogram: the tables are rebuilt
        node, tgt = model.node_init(batch), model.target_init(batch)
    ref_node, ref_tgt = fresh(batch)
    assert torch.equal(node, ref_node) and torch.equal(tgt, ref_tgt)


def test_map_readout_in_blocks_of_hours_equals_one_block(monkeypatch) -> None:
    """The map readout runs a few hours at a time (cache-sized blocks): any block size, including one block of
    every hour and a last block shorter than the others, gives the same corrections up to float rounding."""
    import core.nn.blocks as blocks

    m, (h, src, u, v, idx, valid, dist, bear, bw, init, static, tf), sw = _readout_case(2, 5, 7, 12, 60, 4)
    outs = []
    with torch.no_grad():
        for hours in (100, 1, 3):
            monkeypatch.setattr(blocks, "MAP_BLOCK_HOURS", hours)
            outs.append(m._forward_map(m.proj(h), src, u, v, idx, valid, dist, bear, bw, init, static, tf, True, True,
                                       sw))
    for other in outs[1:]:
        torch.testing.assert_close(other, outs[0], rtol=0, atol=1e-6)


@pytest.mark.parametrize("per_hour", [True, False])
def test_sparse_message_sum_equals_the_gathered_one(monkeypatch, per_hour: bool) -> None:
    """Inference sums messages with one sparse product once the edges of all hours are many (a day of the
    station graph): the gathered per-node sums, to float rounding, with per-hour or fixed weights."""
    import warnings

    import core.nn.blocks as blocks

    gen = torch.Generator().manual_seed(4)
    b, n_h, n, k, r = 2, 6, 30, 5, 7
    idx = torch.stack([torch.randperm(n, generator=gen)[:k] for _ in range(n)])
    w = torch.rand(*((b, n_h) if per_hour else ()), n, k, generator=gen)
    z = torch.randn(b, n_h, n, r, generator=gen)
    with torch.no_grad():
        monkeypatch.setattr(blocks, "SPARSE_MIN_EDGES", 10**9)
        ref = blocks.gather_sum(w, z, idx)
        monkeypatch.setattr(blocks, "SPARSE_MIN_EDGES", n * k)  # below B·L·N·k, above N·k: the hours count
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # torch's beta warning on CSR tensors is not passed on
            fast = blocks.gather_sum(w, z, idx)
    torch.testing.assert_close(fast, ref)


@pytest.mark.parametrize("n_layers", [1, 2, 3])
def test_layers_sharing_the_dense_kernels_train_exactly_as_each_building_its_own(world, n_layers: int,
                                                                                 monkeypatch) -> None:
    """In training every layer applies the same diffusion and advection weights; their dense form is scattered once
    per forward pass and shared (a faster step), with the same loss and gradients to the last bit."""
    import core.nn.blocks as blocks

    _, batch = _batch(world.stations.isel(station=slice(0, 30)), n_windows=2)

    def step(model) -> tuple[float, list[torch.Tensor]]:
        out = model(batch)
        loss = composite_loss(out, batch, LossWeights())[0]
        loss.backward()
        return float(loss.detach()), [p.grad for p in model.parameters() if p.grad is not None]

    torch.manual_seed(0)
    shared = SPIN(**{**TINY, "n_layers": n_layers}).train()
    own = SPIN(**{**TINY, "n_layers": n_layers}).train()
    own.load_state_dict(shared.state_dict())
    made = []
    scatter = torch.Tensor.scatter_add
    monkeypatch.setattr(torch.Tensor, "scatter_add", lambda self, *a: made.append(1) or scatter(self, *a))
    a = step(shared)
    n_shared = len(made)
    forward = blocks.Propagation.forward
    monkeypatch.setattr(blocks.Propagation, "forward", lambda self, h, idx, kd, ka, dense_cache=None:
                        forward(self, h, idx, kd, ka))  # every layer scatters its own, as before
    b = step(own)
    assert a[0] == b[0]
    for ga, gb in zip(a[1], b[1], strict=True):
        torch.testing.assert_close(ga, gb, rtol=0, atol=0)
    assert len(made) - n_shared - n_shared == 2 * (n_layers - 1)  # per layer after the first: two scatters saved


@pytest.mark.parametrize("scale", [0.0, 0.6])
def test_corr_scale_shrinks_the_served_correction_toward_the_init(world, scale: float) -> None:
    """``corr_scale`` s serves init + s·correction (normalised log) at stations and grid cells, in eval only:
    s = 0 is the kriging init itself, training is unaffected."""
    from core.nn.features import to_ugm3

    torch.manual_seed(0)
    full = SPIN(**TINY).eval()
    shrunk = SPIN(**TINY, corr_scale=scale).eval()
    shrunk.load_state_dict(full.state_dict())
    _, batch = _batch(world.stations.isel(station=slice(0, 30)), targets=True)
    with torch.no_grad():
        a, b = full(batch), shrunk(batch)
        z = torch.log1p(a["pred"]) - batch["center"].unsqueeze(-1)
        init = full.node_init(batch)
        want = to_ugm3(init + scale * (z - init), batch["center"])
        torch.testing.assert_close(b["pred"], want, rtol=1e-4, atol=1e-3)
        g_z = torch.log1p(a["grid_pred"]) - batch["center"].unsqueeze(-1)
        g_init = full.target_init(batch)
        torch.testing.assert_close(b["grid_pred"], to_ugm3(g_init + scale * (g_z - g_init), batch["center"]),
                                   rtol=1e-4, atol=1e-3)
        assert (b["pred"] - a["pred"]).abs().max() > 1e-3  # the correction is not zero to begin with
    full.train(), shrunk.train()
    torch.manual_seed(1)
    ta = full(batch)["pred"]
    torch.manual_seed(1)
    torch.testing.assert_close(shrunk(batch)["pred"], ta)


@pytest.mark.parametrize("bad", [-0.1, 1.5])
def test_corr_scale_out_of_range_is_refused(bad: float) -> None:
    with pytest.raises(ValueError, match="corr_scale must be between 0"):
        SPIN(**TINY, corr_scale=bad)
